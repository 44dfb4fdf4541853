/**
 * The notebook runner (scripts/run-notebooks.sh -> run-notebooks.py, nbclient + tslab) on two
 * throw-away notebooks: one that must pass and write its outputs, one with a type error that must
 * fail with tslab's message. Skipped where Debian's Jupyter (python3-nbclient) is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
const PY = process.env.RARLHF_NB_PYTHON ?? '/usr/bin/python3';
const hasJupyter = spawnSync(PY, ['-c', 'import nbclient, nbformat, jupyter_client'], { stdio: 'ignore' }).status === 0;

function notebook(cells: string[]): string {
  return JSON.stringify({
    cells: cells.map((source, i) => ({ cell_type: 'code', id: `c${i}`, execution_count: null, metadata: {}, outputs: [], source })),
    metadata: { kernelspec: { display_name: 'TypeScript', language: 'typescript', name: 'tslab' } },
    nbformat: 4,
    nbformat_minor: 5,
  });
}

function run(dir: string, nb: string, out: string) {
  return spawnSync('bash', [path.join(ROOT, 'scripts/run-notebooks.sh'), nb], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, RARLHF_NB_SKIP_BUILD: '1', RARLHF_NB_OUT: out, RARLHF_NB_SCALE: 'real', RARLHF_NB_CELL_TIMEOUT: '60' },
    timeout: 120_000,
  });
}

test('run-notebooks: executes a tslab notebook, writes outputs, fails on a type error', { skip: hasJupyter ? false : `${PY} has no nbclient` }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-nb-'));
  try {
    const good = path.join(dir, 'good.ipynb');
    fs.writeFileSync(good, notebook(['const scale: string = process.env.RARLHF_NB_SCALE ?? "unset";', 'console.log(`scale=${scale} sum=${[1, 2, 3].reduce((a, b) => a + b, 0)}`);']));
    const out = path.join(dir, 'out');
    const ok = run(dir, good, out);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /ok {3}good\.ipynb: [\d.]+s/);
    const executed = JSON.parse(fs.readFileSync(path.join(out, 'good.ipynb'), 'utf8')) as { cells: { outputs: { text?: string[] }[] }[] };
    assert.equal(executed.cells[1].outputs.map((o) => (o.text ?? []).join('')).join(''), 'scale=real sum=6\n');

    const bad = path.join(dir, 'bad.ipynb');
    fs.writeFileSync(bad, notebook(['const x: number = "not a number";']));
    const fail = run(dir, bad, out);
    assert.equal(fail.status, 1);
    assert.match(fail.stderr, /FAIL bad\.ipynb/);
    assert.match(fail.stderr, /Type 'string' is not assignable to type 'number'/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(path.join(ROOT, 'runs/notebooks/FAILED-bad.ipynb'), { force: true });
  }
});
