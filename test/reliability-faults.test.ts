/**
 * A checkpoint write killed at any filesystem step (RARLHF_FAULT_AT=k: the process SIGKILLs
 * itself there) resumes to exactly the result of an uninterrupted run: for every k of a swap
 * write (checkpoints/latest replaced) and of a first write (checkpoints/final), a child process
 * is killed at step k, then the run is resumed here and compared with the reference. Also: a
 * damaged checkpoint and a malformed trainer_state.json are refused naming file and field.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initEngine } from '../lib/engine';
import { loadCheckpoint } from '../lib/models/checkpoint';
import { MANIFEST, manifestProblem, writeCheckpointDir } from '../lib/rl/checkpoint-swap';
import { trainPPO } from '../lib/rl/train-loop';
import { maxAbsDiff, tf, weightsOf } from './rl-fixtures';
import { faultConfig, faultDeps, runNode, stableMetrics, tmpDir } from './reliability-fixtures';

const CHILD = path.join(__dirname, 'reliability-child.ts');
let refDir = '';
let refWeights: Map<string, Float32Array>;
let baseDir = ''; // stopped after step 1: checkpoints/latest holds step 1

const finalWeights = (dir: string) => {
  const ck = loadCheckpoint(path.join(dir, 'checkpoints', 'final'));
  const w = new Map([...ck.weights].map(([n, t]) => [n, t.dataSync().slice() as Float32Array]));
  tf.dispose([...ck.weights.values()]);
  return w;
};

before(async () => {
  await initEngine({ quiet: true });
  refDir = tmpDir('ref');
  const d = faultDeps();
  await trainPPO(faultConfig(), { ...d, outDir: refDir });
  refWeights = weightsOf(d.policy);
  baseDir = tmpDir('base');
  const b = await trainPPO(faultConfig(), { ...faultDeps(), outDir: baseDir, shouldStop: () => true });
  assert.equal(b.steps.length, 1);
});

test('killed at every filesystem step of a checkpoint swap and a first write, --resume ends equal to an uninterrupted run', async () => {
  // a child that is not killed: how many fault points the resumed run passes (swap of latest + first final)
  const clean = path.join(tmpDir('clean'), 'run');
  fs.cpSync(baseDir, clean, { recursive: true });
  const ok = await runNode([CHILD, clean, 'resume']);
  assert.equal(ok.code, 0, ok.stderr);
  const total = JSON.parse(ok.stdout.trim().split('\n').pop()!).fault_points as number;
  assert.ok(total >= 14, `only ${total} fault points`); // ~9 per swap + ~8 per first write
  assert.equal(maxAbsDiff(refWeights, finalWeights(clean)), 0);

  const root = tmpDir('faults');
  const seen = new Set<string>();
  for (let k = 1; k <= total; k++) {
    const dir = path.join(root, `k${k}`);
    fs.cpSync(baseDir, dir, { recursive: true });
    const r = await runNode([CHILD, dir, 'resume'], { RARLHF_FAULT_AT: String(k) });
    assert.equal(r.signal, 'SIGKILL', `k=${k}: the child was not killed (${r.code}) ${r.stderr}`);
    seen.add(/killing the process after "([^"]+)"/.exec(r.stderr)?.[1] ?? '?');
    const res = await trainPPO(faultConfig(), { ...faultDeps(), outDir: dir, resume: true });
    assert.equal(res.interrupted, false, `k=${k}`);
    assert.equal(maxAbsDiff(refWeights, finalWeights(dir)), 0, `k=${k}: final weights differ from the uninterrupted run`);
    assert.deepEqual(stableMetrics(dir), stableMetrics(refDir), `k=${k}: metrics differ`);
    assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')).steps_done, 2);
    const left = fs.readdirSync(path.join(dir, 'checkpoints')).filter((e) => e.startsWith('.'));
    assert.deepEqual(left, [], `k=${k}: temporaries left behind`);
  }
  // the kills really hit the window between the two renames of the swap
  assert.ok([...seen].some((l) => /latest: rename latest -> \.latest\.old-/.test(l)), [...seen].join(' | '));
  assert.ok([...seen].some((l) => /final: rarlhf_manifest\.json/.test(l)), [...seen].join(' | '));
});

test('a damaged checkpoint or a malformed trainer_state.json is refused, naming the file and the field', async () => {
  const dir = path.join(tmpDir('damaged'), 'run');
  fs.cpSync(baseDir, dir, { recursive: true });
  const latest = path.join(dir, 'checkpoints', 'latest');
  const stateFile = path.join(latest, 'trainer_state.json');
  const state = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
  delete state.trainer;
  fs.writeFileSync(stateFile, JSON.stringify(state));
  await assert.rejects(trainPPO(faultConfig(), { ...faultDeps(), outDir: dir, resume: true }), /checkpoint .*latest is damaged: .*trainer_state\.json (has \d+ bytes|does not match)/);
  // without a manifest (checkpoints written before manifests existed) the fields are checked
  fs.rmSync(path.join(latest, MANIFEST));
  await assert.rejects(trainPPO(faultConfig(), { ...faultDeps(), outDir: dir, resume: true }), /trainer_state\.json: field "trainer" is missing/);
  state.trainer = { kl_coef: 'x', rng: {}, adam: {} };
  fs.writeFileSync(stateFile, JSON.stringify(state));
  await assert.rejects(trainPPO(faultConfig(), { ...faultDeps(), outDir: dir, resume: true }), /trainer_state\.json: field "trainer\.kl_coef" must be a number \(got "x"\)/);
});

test('a training-checkpoint write that fails midway rolls back: the old checkpoint stays, no temporaries are left', () => {
  const dir = path.join(tmpDir('rollback'), 'checkpoints', 'latest');
  writeCheckpointDir(dir, (tmp) => fs.writeFileSync(path.join(tmp, 'a.txt'), 'old'));
  assert.throws(() => writeCheckpointDir(dir, (tmp, step) => {
    fs.writeFileSync(path.join(tmp, 'a.txt'), 'new');
    step('a.txt');
    throw new Error('disk full (simulated)');
  }), /disk full/);
  assert.equal(fs.readFileSync(path.join(dir, 'a.txt'), 'utf8'), 'old');
  assert.equal(manifestProblem(dir), null);
  assert.deepEqual(fs.readdirSync(path.dirname(dir)), ['latest']);
  // a successful write replaces it, sealed by a manifest of the new contents
  writeCheckpointDir(dir, (tmp) => fs.writeFileSync(path.join(tmp, 'a.txt'), 'new'));
  assert.equal(fs.readFileSync(path.join(dir, 'a.txt'), 'utf8'), 'new');
  assert.equal(manifestProblem(dir), null);
  assert.deepEqual(fs.readdirSync(path.dirname(dir)).sort(), ['latest']);
});
