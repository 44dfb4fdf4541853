/**
 * `rarlhf eval` options: optional prompt scores, --score-prompts (a kit reward model built here),
 * --per-prompt, the tail's N and its warning, --help, DEFAULT_CVAR_ALPHA.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HELP } from '../lib/cli/commands/eval';
import { readGenerations } from '../lib/eval/generations';
import { DEFAULT_CVAR_ALPHA } from '../lib/eval/metrics';
import { addPromptScores } from '../lib/eval/prompt-scores';
import { evalCli, evalOk, tempDir, write } from './eval-fixtures';

const tmp = tempDir('rarlhf-eval-options-');

// 4 prompts; no prompt_score column. A: mean 1.5, CVaR 0.25 = worst 1 of 4 = -1 (ceil(0.25 * 4) = 1)
const NO_SCORES = 'prompt,A_response,A_reward,B_response,B_reward\nnice,a,-1,b,0\nawful,a,2,b,1\nnice film,a,3,b,1\nok,a,2,b,2\n';
const noScores = write(tmp, 'noscores.csv', NO_SCORES);

test('no prompt-score column and no tail: mean reward and CVaR only (no tail column), said on stderr', () => {
  const r = evalOk(['--generations', noScores, '--cvar-alpha', '0.25', '--json']);
  const j = JSON.parse(r.stdout);
  const a = j.perSeed[0].models[0];
  assert.equal(a.meanReward, 1.5);
  assert.equal(a.cvar, -1);
  assert.equal(a.tailReward, null);
  assert.equal(j.perSeed[0].tail, null);
  assert.equal(j.perSeed[0].hasPromptScores, false);
  assert.deepEqual(Object.keys(j.table[0].metrics).sort(), ['cvar', 'distinct1', 'distinct2', 'distinct3', 'lengthWords', 'meanReward']);
  assert.match(r.stderr, /noscores\.csv: no 'prompt_score' column: mean reward and CVaR only/);
  const md = evalOk(['--generations', noScores]).stdout;
  assert.doesNotMatch(md, /Tail/);
  assert.match(md, /\| Model \| Reward ↑ \| CVaR \(α=0\.2\) ↑ \|/);
});

test('a tail without prompt scores is an error naming file, line and column', () => {
  assert.match(evalCli(['--generations', noScores, '--tail', '0']).stderr,
    /noscores\.csv:1: column 'prompt_score' not in the header \(columns: prompt, A_response.*\): tail metrics need prompt scores; .*--score-prompts/);
  const jl = write(tmp, 'noscores.jsonl', '{"prompt":"p","A_response":"a","A_reward":1}\n');
  assert.match(evalCli(['--generations', jl, '--task', 'imdb']).stderr, /noscores\.jsonl: field 'prompt_score' in no row: tail metrics need prompt scores/);
  // present in some JSONL rows only: the first row without it
  const some = write(tmp, 'some.jsonl', '{"prompt":"p","prompt_score":1,"A_response":"a","A_reward":1}\n{"prompt":"q","A_response":"a","A_reward":1}\n');
  assert.match(evalCli(['--generations', some]).stderr, /some\.jsonl:2: field 'prompt_score' missing/);
  assert.match(evalCli(['--generations', noScores, '--out', path.join(tmp, 'rep')]).stderr, /eval --out: the report shows tail reward .*give --tail/);
});

test('the tail N is printed in the table header and a warning goes to stderr when N < 30', () => {
  const withScores = write(tmp, 'scores.csv', NO_SCORES.replace('prompt,', 'prompt,prompt_score,').replace(/\n(\w[^,]*),/g, (m, p) => `\n${p},${p.startsWith('nice') ? 3 : -3},`));
  const r = evalOk(['--generations', withScores, '--tail', '-2.5']);
  assert.match(r.stdout, /Tail reward \(prompt score ≤ -2\.5, N=2\) ↑/);
  assert.match(r.stderr, /warning: .*scores\.csv: the tail \(prompt score ≤ -2\.5\) holds N=2 prompts \(< 30\)/);
  // 30 tail prompts: no warning
  const rows = Array.from({ length: 30 }, (_, i) => `p${i},-3,a,${i},b,${i}`).join('\n');
  const big = write(tmp, 'big.csv', `prompt,prompt_score,A_response,A_reward,B_response,B_reward\n${rows}\n`);
  const b = evalOk(['--generations', big, '--tail', '-2.5']);
  assert.match(b.stdout, /N=30\)/);
  assert.doesNotMatch(b.stderr, /warning/);
});

test('--per-prompt writes one row per prompt: prompt, prompt_score, each model\'s reward (CSV and JSONL)', () => {
  const k2 = write(tmp, 'k2.csv', 'prompt,prompt_score,sample,A_response,A_reward,B_response,B_reward\nq,-3,0,u,1,x,0\nr,1,0,u,0,y,1\nq,-3,1,u,3,z,2\nr,1,1,u,2,y,5\n');
  const out = path.join(tmp, 'per-prompt.csv');
  const r = evalOk(['--generations', k2, '--sample-col', 'sample', '--per-prompt', out]);
  assert.match(r.stderr, /wrote 2 per-prompt rows to .*per-prompt\.csv/);
  assert.equal(fs.readFileSync(out, 'utf8'), 'prompt,prompt_score,samples,A_reward,B_reward,line\nq,-3,2,2,1,2\nr,1,2,1,3,3\n');
  const jl = path.join(tmp, 'per-prompt.jsonl');
  evalOk(['--generations', noScores, '--generations', noScores, '--per-prompt', jl]);
  const rows = fs.readFileSync(jl, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(rows.length, 8); // two seed files x 4 prompts, with a file column
  assert.deepEqual(rows[1], { file: 'noscores.csv', prompt: 'awful', A_reward: 2, B_reward: 1, line: 3 });
});

test('--score-prompts fills a missing prompt-score column with a kit reward model (hand-set weights)', async () => {
  const { KIT_FORMAT, KitRewardModel } = await import('../lib/rewards/trained');
  const { fnv1a } = await import('../lib/rewards/features');
  const m = await KitRewardModel.create({
    format: KIT_FORMAT, version: 1, name: 'hand', task: 'imdb', features: { hashBits: 8, ngrams: 1 },
    calibration: { scale: 1, shift: 0, method: 'identity' }, rewardScale: 'test',
  });
  // one-word prompts have one feature of value 1: score = w[bucket] + b
  const w = new Float32Array(256);
  const nice = fnv1a('nice') & 255;
  const awful = fnv1a('awful') & 255;
  const ok = fnv1a('ok') & 255;
  assert.equal(new Set([nice, awful, ok]).size, 3);
  w[nice] = 2; w[awful] = -4; w[ok] = -3;
  m.weight.assign((await import('../lib/engine')).tf.tensor1d(w));
  const dir = path.join(tmp, 'kit');
  await m.save(dir);
  const t = readGenerations(noScores);
  const s = await addPromptScores(t, 'prompt', 'prompt_score', dir);
  assert.equal(s.prompts, 4);
  const scores = t.rows.map((r) => r.prompt_score as number);
  assert.deepEqual([scores[0], scores[1], scores[3]].map((x) => Math.round(x * 1e5) / 1e5), [2, -4, -3]);
  m.dispose();
  // the CLI: tail <= -2.5 holds 'awful' (A 2) and 'ok' (A 2)
  const r = evalOk(['--generations', noScores, '--score-prompts', dir, '--tail', '-2.5', '--json']);
  const a = JSON.parse(r.stdout).perSeed[0].models[0];
  assert.equal(a.tailN, 2);
  assert.equal(a.tailReward, 2);
  assert.match(r.stderr, /noscores\.csv: prompt scores computed with hand \(4 distinct prompts\)/);
});

test('--score-prompts: a bad reference, an empty prompt, a present column', async () => {
  assert.match(evalCli(['--generations', noScores, '--score-prompts', path.join(tmp, 'no-such-model')]).stderr, /loadRewardModel: .*no-such-model/);
  const empty = write(tmp, 'empty-prompt.csv', 'prompt,A_response,A_reward\nfine,a,1\n,b,2\n');
  const never = async () => { throw new Error('must not load'); };
  await assert.rejects(addPromptScores(readGenerations(empty), 'prompt', 'prompt_score', 'x', never),
    /empty-prompt\.csv:3: column 'prompt' is empty; --score-prompts cannot score an empty prompt/);
  const withScores = write(tmp, 'has.csv', 'prompt,prompt_score,A_response,A_reward\np,1,a,1\n');
  assert.match(evalOk(['--generations', withScores, '--score-prompts', 'x/y']).stderr, /column 'prompt_score' present, used as is/);
});

test('--help shows both layouts, a worked example and the CVaR default; DEFAULT_CVAR_ALPHA is the eval default', () => {
  const h = evalOk(['--help']).stdout;
  assert.equal(h.trim(), HELP.trim());
  for (const s of ['wide (default)', 'long (--layout long)', 'prompt,prompt_score,model,response,score', 'Worked example', '--compare A,B', '--per-prompt', '--score-prompts']) {
    assert.ok(h.includes(s), s);
  }
  assert.ok(h.includes(`default ${DEFAULT_CVAR_ALPHA}`));
  assert.equal(JSON.parse(evalOk(['--generations', noScores, '--json']).stdout).cvarAlpha, DEFAULT_CVAR_ALPHA);
});
