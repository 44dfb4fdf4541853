/**
 * Paired two-level bootstrap (lib/eval/bootstrap.ts): deterministic cases and a case whose
 * resample distribution is enumerated by brute force here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../lib/engine/rng';
import { drawStatistic, enumerateDraws, pairedBootstrap, percentile, randomDraw, type BootstrapMetric } from '../lib/eval/bootstrap';

const ALL: BootstrapMetric[] = [{ kind: 'meanReward' }, { kind: 'tailReward', threshold: -2.5 }, { kind: 'cvar', alpha: 0.25 }];

test('identical arms, one seed: diff 0 and interval [0, 0]', () => {
  const r = [[-3, 1, 0.5, 2, -1]];
  const res = pairedBootstrap({ a: r, b: r, promptScores: [[-3, -2.5, 0, 1, 4]] }, ALL, { resamples: 200 });
  for (const x of res) {
    assert.equal(x.diff, 0, x.metric);
    assert.deepEqual(x.ci95, [0, 0], x.metric);
    assert.equal(x.resamples, 200);
  }
});

test('a constant shift d gives diff d and interval [d, d] on every metric', () => {
  // integer rewards, d = 0.5, 4 prompts per seed: every mean is exact in binary
  const b = [[1, -2, 3, 0], [2, 2, -1, 5], [0, -4, 1, 1]];
  const a = b.map((row) => row.map((x) => x + 0.5));
  const ps = [[-3, 0, -2.5, 1], [-5, 2, 0, 0], [-3, -3, 4, 0]];
  const res = pairedBootstrap({ a, b, promptScores: ps }, ALL, { resamples: 500, seed: 3 });
  for (const x of res) {
    // mean and CVaR average 4 or 1 values (exact); a resampled tail may hold 3 prompts (x/3 rounds)
    const tol = x.metric === 'tailReward' ? 1e-12 : 0;
    for (const v of [x.diff, ...x.ci95]) assert.ok(Math.abs(v - 0.5) <= tol, `${x.metric}: ${v}`);
  }
  // a resample whose drawn seeds all miss the tail is dropped: P = (mean of 1/16, (3/4)^4, 1/16)^3 ~ 0.003
  assert.ok(res[1].undefinedResamples < 10, String(res[1].undefinedResamples));
  assert.equal(res[0].undefinedResamples, 0);
});

test('2 seeds x 2 prompts: the bootstrap distribution equals a brute-force enumeration', () => {
  const a = [[1, 3], [2, 6]];
  const b = [[0, 1], [2, 2]];
  const d = { a, b, promptScores: [[0, 0], [0, 0]] };
  const diff = [[1, 2], [0, 4]]; // per-prompt a - b
  // brute force: 2^2 seed tuples x (2^2)^2 prompt tuples = 64 equally likely resamples
  const brute: number[] = [];
  for (const s1 of [0, 1]) for (const s2 of [0, 1]) for (const i1 of [0, 1]) for (const j1 of [0, 1]) for (const i2 of [0, 1]) for (const j2 of [0, 1]) {
    brute.push(((diff[s1][i1] + diff[s1][j1]) / 2 + (diff[s2][i2] + diff[s2][j2]) / 2) / 2);
  }
  brute.sort((x, y) => x - y);
  const enumerated = [...enumerateDraws(d)];
  assert.equal(enumerated.length, 64);
  assert.ok(enumerated.every((e) => e.p === 1 / 64));
  assert.deepEqual(enumerated.map((e) => drawStatistic(d, { kind: 'meanReward' }, e.draw)).sort((x, y) => x - y), brute);
  // exact interval by hand: P(0) = 1/64, P(0.5) = 2/64 -> 2.5% at 0.5; P(4) = 1/64, P(3) = 6/64 -> 97.5% at 3
  assert.equal(percentile(brute, 0.025), 0.5);
  assert.equal(percentile(brute, 0.975), 3);
  const [mr] = pairedBootstrap(d, [{ kind: 'meanReward' }], { resamples: 2000, seed: 0 });
  assert.equal(mr.diff, 1.75); // seed 0: 1.5, seed 1: 2
  assert.deepEqual(mr.ci95, [0.5, 3]);
  // the random resampler's frequencies match the enumeration's probabilities
  const exact = new Map<number, number>();
  for (const v of brute) exact.set(v, (exact.get(v) ?? 0) + 1 / 64);
  const rng = new Rng(1);
  const N = 20000;
  const freq = new Map<number, number>();
  for (let r = 0; r < N; r++) {
    const v = drawStatistic(d, { kind: 'meanReward' }, randomDraw(d, rng));
    freq.set(v, (freq.get(v) ?? 0) + 1 / N);
  }
  assert.deepEqual([...freq.keys()].sort(), [...exact.keys()].sort());
  for (const [v, p] of exact) assert.ok(Math.abs(freq.get(v)! - p) < 0.01, `P(${v}) = ${freq.get(v)} vs exact ${p}`);
});

test('tail and CVaR on a resample; undefined tails are left out; shape errors name the seed', () => {
  const d = { a: [[1, 3], [2, 6]], b: [[0, 1], [2, 2]], promptScores: [[-3, 0], [-3, -3]] };
  const tail = { kind: 'tailReward', threshold: -2.5 } as const;
  // seed 0 drawn with prompts (1, 1): no tail prompt -> left out; seed 1 with (0, 1): (0 + 4) / 2
  assert.equal(drawStatistic(d, tail, { seeds: [0, 1], prompts: [[1, 1], [0, 1]] }), 2);
  assert.ok(Number.isNaN(drawStatistic(d, tail, { seeds: [0, 0], prompts: [[1, 1], [1, 1]] })));
  // CVaR 0.5 of 2 rewards = the worst one: seed 0 prompts (0, 1): min(1,3) - min(0,1) = 1
  assert.equal(drawStatistic(d, { kind: 'cvar', alpha: 0.5 }, { seeds: [0], prompts: [[0, 1]] }), 1);
  const [t] = pairedBootstrap(d, [tail], { resamples: 400 });
  assert.equal(t.diff, 1.5); // seed 0: tail = prompt 0: 1 - 0; seed 1: (2+6)/2 - 2 = 2
  assert.ok(t.undefinedResamples > 0 && t.undefinedResamples < 400); // P(undefined) = 1/4 * 1/4
  assert.throws(() => pairedBootstrap({ a: [[1, 2]], b: [[1]], promptScores: [[0, 0]] }, ALL), /seed 0: 2 prompts for arm A, 1 for arm B/);
  assert.throws(() => pairedBootstrap({ a: [[1, NaN]], b: [[1, 2]], promptScores: [[0, 0]] }, ALL), /seed 0, prompt 1: A is NaN/);
});
