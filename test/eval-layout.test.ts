/**
 * `rarlhf eval --layout long|wide` (lib/eval/layout.ts, load-tables.ts): the same data in both
 * layouts gives identical metrics; every bad row is an error naming file, line and column.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readGenerations } from '../lib/eval/generations';
import { longToWide, resolveWideModels } from '../lib/eval/layout';
import { HANDMADE_WIDE_CSV, evalCli, evalOk, tempDir, write } from './eval-fixtures';

const tmp = tempDir('rarlhf-eval-layout-');

// The handmade table of eval-cli.test.ts (hand-computed numbers there), wide and long.
const WIDE = HANDMADE_WIDE_CSV;
// long: every sft row first, then every ra row (the prompts' first-appearance order is the same)
const LONG = `prompt,label,prompt_score,model,response,score
p1,0,-3,sft,a b c,-1
p2,1,2,sft,a b,0
p3,0,-2.5,sft,a b c d,-2
"p4, with comma",1,4,sft,a a a,1
p5,0,-2.5,sft,b c,2
p1,0,-3,ra,good good,1
p2,1,2,ra,very good,2
p3,0,-2.5,ra,x,0
"p4, with comma",1,4,ra,nice one,3
p5,0,-2.5,ra,ok,1
`;
const wideFile = write(tmp, 'wide.csv', WIDE);
const longFile = write(tmp, 'long.csv', LONG);
const COMMON = ['--class-col', 'label', '--tail', '-2.5', '--cvar-alpha', '0.4', '--bins', '7', '--json'];

/** The metrics of a JSON result without the file names. */
function metricsOf(stdout: string): unknown {
  const j = JSON.parse(stdout);
  return { table: j.table, perSeed: j.perSeed.map((r: { file?: string }) => ({ ...r, file: undefined })) };
}

test('long and wide tables holding the same data give identical metrics (CSV, and JSONL with renamed columns)', () => {
  const wide = evalOk(['--generations', wideFile, '--model', 'sft', '--model', 'ra', ...COMMON]);
  const long = evalOk(['--generations', longFile, '--layout', 'long', ...COMMON]);
  assert.deepEqual(metricsOf(long.stdout), metricsOf(wide.stdout));
  const j = JSON.parse(long.stdout);
  assert.equal(j.perSeed[0].models[1].meanReward, 1.4); // hand-computed in eval-cli.test.ts
  assert.equal(j.perSeed[0].models[0].tailN, 3);
  assert.match(long.stderr, /model sft: rows with model = 'sft' \(response \/ score\)/);
  assert.match(wide.stderr, /model sft: sft_response \/ sft_reward/);

  // JSONL, columns renamed, rows shuffled within each prompt's pair, an extra model not selected
  const rows = LONG.trim().split('\n').slice(1).map((line, i) => {
    const m = /^("[^"]*"|[^,]*),(\d),([^,]*),(\w+),([^,]*),(.*)$/.exec(line)!;
    return { text: m[1].replace(/"/g, ''), label: Number(m[2]), ps: Number(m[3]), arm: m[4], out: m[5], r: Number(m[6]), i };
  });
  const order = [5, 0, 1, 6, 7, 2, 3, 8, 9, 4];
  const jl = order.map((i) => JSON.stringify(rows[i])).join('\n') + '\n' + JSON.stringify({ ...rows[0], arm: 'gpt2', r: 9 }) + '\n';
  const jlFile = write(tmp, 'long.jsonl', jl);
  const r = evalOk(['--generations', jlFile, '--layout', 'long', '--model-col', 'arm', '--response-col', 'out', '--reward-col', 'r',
    '--prompt-col', 'text', '--prompt-score-col', 'ps', '--model', 'sft', '--model', 'ra', ...COMMON]);
  assert.deepEqual(metricsOf(r.stdout), metricsOf(wide.stdout));
  assert.match(r.stderr, /not evaluated \(not selected by --model\): 1 rows of model 'gpt2'/);
});

test('long layout with k = 2 samples per prompt (--sample-col) equals the wide layout', () => {
  const wide = write(tmp, 'wide-k2.csv', 'prompt,prompt_score,sample,A_response,A_reward,B_response,B_reward\nq,-3,0,u v,1,x,0\nr,1,0,u,0,y,1\nq,-3,1,u w,3,z,2\nr,1,1,u,2,y y,5\n');
  const long = write(tmp, 'long-k2.csv', 'prompt,prompt_score,sample,model,response,score\nq,-3,0,A,u v,1\nq,-3,0,B,x,0\nr,1,0,A,u,0\nr,1,0,B,y,1\n' +
    'q,-3,1,A,u w,3\nq,-3,1,B,z,2\nr,1,1,A,u,2\nr,1,1,B,y y,5\n');
  const args = ['--sample-col', 'sample', '--tail', '-2.5', '--cvar-alpha', '0.5', '--json'];
  const w = JSON.parse(evalOk(['--generations', wide, ...args]).stdout);
  const l = JSON.parse(evalOk(['--generations', long, '--layout', 'long', ...args]).stdout);
  assert.deepEqual(l.table, w.table);
  assert.equal(w.perSeed[0].models[0].meanReward, 1.5); // A: prompt means q 2, r 1
  assert.equal(w.perSeed[0].models[1].tailReward, 1); // B on q: (0 + 2) / 2
});

test('wide layout without --model finds every <name>_reward column that has a <name>_response', () => {
  const t = readGenerations(wideFile);
  assert.deepEqual(resolveWideModels(t, undefined).map((m) => m.name), ['sft', 'ra']);
  const r = evalOk(['--generations', wideFile, '--tail', '-2.5']);
  assert.match(r.stderr, /model sft: sft_response \/ sft_reward\neval: model ra: ra_response \/ ra_reward/);
  const none = write(tmp, 'none.csv', 'prompt,prompt_score,resp,rew\np,1,a,1\n');
  assert.throws(() => resolveWideModels(readGenerations(none), []), /none\.csv:1: no model columns found .*columns: prompt, prompt_score, resp, rew/);
});

// ---- bad rows: one test per case, each naming file, line and column ----

const LONG_HEAD = 'prompt,prompt_score,model,response,score\n';
function longErr(name: string, body: string, extra: string[] = []): string {
  const f = write(tmp, name, LONG_HEAD + body);
  const r = evalCli(['--generations', f, '--layout', 'long', ...extra]);
  assert.notEqual(r.status, 0, `expected ${name} to fail`);
  return r.stderr;
}

test('bad row: long table without the model column', () => {
  const f = write(tmp, 'nomodel.csv', 'prompt,prompt_score,response,score\np,1,a,1\n');
  const r = evalCli(['--generations', f, '--layout', 'long']);
  assert.match(r.stderr, /nomodel\.csv:1: column 'model' not in the header \(columns: prompt, prompt_score, response, score\)/);
});

test('bad row: non-numeric reward in the long layout', () => {
  assert.match(longErr('nan.csv', 'p,1,A,a,1\np,1,B,b,abc\n'), /nan\.csv:3: column 'score' has "abc", expected a finite number/);
});

test('bad row: empty reward cell in the wide layout', () => {
  const f = write(tmp, 'empty-reward.csv', 'prompt,prompt_score,A_response,A_reward\np,1,a,1\nq,2,b,\n');
  assert.match(evalCli(['--generations', f]).stderr, /empty-reward\.csv:3: column 'A_reward' has "", expected a finite number/);
});

test('bad row: duplicate (prompt, model) in the long layout', () => {
  assert.match(longErr('dup.csv', 'p,1,A,a,1\np,1,B,b,2\np,1,A,c,3\n'),
    /dup\.csv:4: duplicate \(prompt, model\) row: prompt "p", model 'A' is already on line 2 \(k > 1 samples per prompt: name the sample column with --sample-col/);
  // with --sample-col the key is (prompt, sample, model)
  const f = write(tmp, 'dup-s2.csv', 'prompt,prompt_score,model,response,score,sample\np,1,A,a,1,0\np,1,A,c,3,0\n');
  assert.match(evalCli(['--generations', f, '--layout', 'long', '--sample-col', 'sample']).stderr,
    /dup-s2\.csv:3: duplicate \(prompt, sample, model\) row: prompt "p", sample 0, model 'A' is already on line 2/);
});

test('bad row: a prompt with no row for one of the models', () => {
  assert.match(longErr('missing.csv', 'p,1,A,a,1\np,1,B,b,2\nq,2,A,c,3\n'),
    /missing\.csv:4: prompt "q" has no row for model 'B' \(paired metrics need one row per prompt for every model/);
});

test('bad row: the rows of one prompt disagree on prompt_score', () => {
  assert.match(longErr('disagree.csv', 'p,1,A,a,1\np,1.5,B,b,2\n'), /disagree\.csv:3: column 'prompt_score' is "1\.5" but line 2 \(same prompt\) has "1"/);
  // 1 and 1.0 are the same number: no error
  const ok = write(tmp, 'same-num.csv', `${LONG_HEAD}p,1,A,a,1\np,1.0,B,b,2\n`);
  assert.equal(evalCli(['--generations', ok, '--layout', 'long']).status, 0);
});

test('bad row: empty model name', () => {
  assert.match(longErr('noname.csv', 'p,1,A,a,1\np,1,,b,2\n'), /noname\.csv:3: column 'model' is empty/);
});

test('bad row: null response in a long JSONL table', () => {
  const f = write(tmp, 'null.jsonl', '{"prompt":"p","model":"A","response":"a","score":1}\n{"prompt":"p","model":"B","response":null,"score":2}\n');
  assert.match(evalCli(['--generations', f, '--layout', 'long']).stderr, /null\.jsonl:2: column 'response' is empty\/null/);
});

test('bad flags: NAME=cols in the long layout; a model with no rows', () => {
  assert.match(longErr('flag1.csv', 'p,1,A,a,1\n', ['--model', 'A=x:y']), /in --layout long, --model takes a model name \(a value of column 'model'\)/);
  assert.match(longErr('flag2.csv', 'p,1,A,a,1\n', ['--model', 'C']), /flag2\.csv: model 'C' has no row \(column 'model' holds: A\)/);
  assert.match(evalCli(['--generations', longFile, '--layout', 'sideways']).stderr, /--layout "sideways": expected wide or long/);
});

test('empty responses are kept and reported with their lines', () => {
  const f = write(tmp, 'empty-resp.csv', 'prompt,A_response,A_reward\np,,1\nq,b,2\nr,,3\n');
  const r = evalOk(['--generations', f]);
  assert.match(r.stderr, /empty-resp\.csv: model A: 2 empty response\(s\) \(line 2, 4\); kept: they count as zero words/);
  assert.match(r.stdout, /\| A \| 2\.00 \|/);
});

test('longToWide keeps the first line of each prompt and names the wide columns', () => {
  const t = readGenerations(longFile);
  const w = longToWide(t, { modelCol: 'model', responseCol: 'response', rewardCol: 'score', promptCol: 'prompt', promptScoreCol: 'prompt_score', classCol: 'label' });
  assert.deepEqual(w.models.map((m) => [m.name, m.responseCol, m.rewardCol]), [['sft', 'sft_response', 'sft_reward'], ['ra', 'ra_response', 'ra_reward']]);
  assert.deepEqual(w.table.lines, [2, 3, 4, 5, 6]);
  assert.deepEqual(w.table.rows[3], { prompt: 'p4, with comma', label: '1', prompt_score: '4', sft_response: 'a a a', sft_reward: 1, ra_response: 'nice one', ra_reward: 3 });
});
