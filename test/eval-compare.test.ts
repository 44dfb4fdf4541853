/**
 * `rarlhf eval --compare A,B` (lib/eval/compare.ts): paired A − B with the paired bootstrap of
 * bootstrap.ts, against hand-computed cases.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareModels, formatCompare, parseCompare } from '../lib/eval/compare';
import { promptView, type EvalSpec } from '../lib/eval/evaluate';
import { readGenerations } from '../lib/eval/generations';
import { evalCli, evalOk, tempDir, write } from './eval-fixtures';

const tmp = tempDir('rarlhf-eval-compare-');

// 4 prompts; B = A + 0.5 on every prompt; C = A on every prompt. Tail <= -2.5: prompts p1, p3.
const TABLE = `prompt,prompt_score,A_response,A_reward,B_response,B_reward,C_response,C_reward
p1,-3,a,-1,b,-0.5,c,-1
p2,1,a,2,b,2.5,c,2
p3,-2.5,a,0,b,0.5,c,0
p4,4,a,3,b,3.5,c,3
`;
const file = write(tmp, 'cmp.csv', TABLE);
const spec: EvalSpec = {
  promptCol: 'prompt', promptScoreCol: 'prompt_score', tail: -2.5,
  models: ['A', 'B', 'C'].map((n) => ({ name: n, responseCol: `${n}_response`, rewardCol: `${n}_reward` })),
};
const view = promptView(readGenerations(file), spec);
const opts = { tail: -2.5, cvarAlpha: 0.5, resamples: 500, seed: 0 };

test('identical models: diff 0 and interval [0, 0] on mean, tail and CVaR', () => {
  const c = compareModels([view], ['A', 'B', 'C'], 'A', 'C', opts);
  assert.deepEqual(c.metrics.map((m) => m.metric), ['meanReward', 'tailReward', 'cvar']);
  for (const m of c.metrics) {
    assert.equal(m.diff, 0, m.metric);
    assert.deepEqual(m.ci95, [0, 0], m.metric);
  }
  assert.deepEqual(c.metrics[1].tailN, [2]);
});

test('a constant offset: diff = offset exactly, interval [offset, offset]; A and B by hand', () => {
  const c = compareModels([view], ['A', 'B', 'C'], 'B', 'A', opts);
  for (const m of c.metrics) {
    assert.equal(m.diff, 0.5, m.metric);
    // a resampled tail of 3 prompts averages x/3: allow rounding there only
    for (const v of m.ci95) assert.ok(Math.abs(v - 0.5) <= (m.metric === 'tailReward' ? 1e-12 : 0), `${m.metric}: ${v}`);
  }
  const [mean, tail, cvar] = c.metrics;
  assert.deepEqual([mean.a, mean.b], [(-0.5 + 2.5 + 0.5 + 3.5) / 4, 1]); // B 1.5, A 1
  assert.deepEqual([tail.a, tail.b], [0, -0.5]); // tail p1, p3: B (-0.5 + 0.5) / 2, A (-1 + 0) / 2
  assert.deepEqual([cvar.a, cvar.b], [0, -0.5]); // worst ceil(0.5 * 4) = 2 of 4
  assert.equal(c.metrics[1].a - c.metrics[1].b, 0.5);
});

test('two prompts with differences 1 and 3: diff 2, interval [1, 3] (resamples: 1 w.p. 1/4, 2 w.p. 1/2, 3 w.p. 1/4)', () => {
  const f = write(tmp, 'two.csv', 'prompt,prompt_score,A_response,A_reward,B_response,B_reward\nx,0,a,1,b,0\ny,0,a,3,b,0\n');
  const v = promptView(readGenerations(f), { ...spec, tail: undefined, promptScoreCol: undefined, models: spec.models.slice(0, 2) });
  const [m] = compareModels([v], ['A', 'B'], 'A', 'B', { cvarAlpha: 1, resamples: 2000, seed: 0 }).metrics;
  assert.equal(m.diff, 2);
  // P(all resamples miss the value 1) = (3/4)^2000: the 2.5% and 97.5% percentiles are 1 and 3
  assert.deepEqual(m.ci95, [1, 3]);
});

test('two seed files: the diff is the mean over seeds of the per-seed difference', () => {
  const f2 = write(tmp, 'cmp2.csv', TABLE.replace(/,b,(-?[\d.]+),/g, (_, x) => `,b,${Number(x) + 1},`)); // B = A + 1.5 in seed 2
  const v2 = promptView(readGenerations(f2), spec);
  const c = compareModels([view, v2], ['A', 'B', 'C'], 'B', 'A', { ...opts, resamples: 300 });
  assert.equal(c.metrics[0].diff, 1); // (0.5 + 1.5) / 2
  assert.equal(c.seeds, 2);
  assert.ok(c.metrics[0].ci95[0] >= 0.5 && c.metrics[0].ci95[1] <= 1.5);
  assert.match(formatCompare(c), /resamples of seed files and prompts \(2 files\)/);
});

test('parseCompare names what is wrong', () => {
  assert.deepEqual(parseCompare('B, A', ['A', 'B']), ['B', 'A']);
  assert.throws(() => parseCompare('A', ['A', 'B']), /--compare "A": expected two model names A,B/);
  assert.throws(() => parseCompare('A,A', ['A', 'B']), /must differ/);
  assert.throws(() => parseCompare('A,Z', ['A', 'B']), /no model named 'Z' \(models: A, B\)/);
});

test('CLI --compare: JSON fields diff and ci95 [lo, hi], resamples and seed stated; text lines with N', () => {
  const j = JSON.parse(evalOk(['--generations', file, '--tail', '-2.5', '--cvar-alpha', '0.5', '--compare', 'B,A', '--resamples', '300', '--bootstrap-seed', '7', '--json']).stdout);
  assert.equal(j.compare.a, 'B');
  assert.equal(j.compare.resamples, 300);
  assert.equal(j.compare.seed, 7);
  for (const m of j.compare.metrics) {
    assert.equal(m.diff, 0.5);
    assert.equal(m.ci95.length, 2);
  }
  const r = evalOk(['--generations', file, '--tail', '-2.5', '--compare', 'B,A']);
  assert.match(r.stdout, /B − A, paired over the same prompts; 95% interval: paired bootstrap, 2000 resamples of prompts \(4\), seed 0/);
  assert.match(r.stdout, /mean reward: \+0\.500 {2}95% CI \[\+0\.500, \+0\.500\] {2}\(B 1\.500, A 1\.000\)/);
  assert.match(r.stdout, /tail reward \(prompt score ≤ -2\.5\): \+0\.500 .*N=2/);
  assert.match(r.stdout, /CVaR \(α=0\.2\): \+0\.500/);
  // without prompt scores and a tail: mean and CVaR only
  const noScores = write(tmp, 'noscores.csv', TABLE.replace(/^prompt,prompt_score,/, 'prompt,other,'));
  const n = JSON.parse(evalOk(['--generations', noScores, '--compare', 'B,A', '--resamples', '50', '--json']).stdout);
  assert.deepEqual(n.compare.metrics.map((m: { metric: string }) => m.metric), ['meanReward', 'cvar']);
  assert.match(evalCli(['--generations', file, '--compare', 'A,Q']).stderr, /--compare: no model named 'Q' \(models: A, B, C\)/);
});
