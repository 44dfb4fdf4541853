import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BANDIT_WORLDS, banditMetrics, contextValues, runBandit, sampleRewards, softmax, type BanditOptions } from '../lib/rl/toy-bandit';
import { softRiskCount } from '../lib/rl/risk';
import { valueAtRisk } from '../lib/notebook/toy-figures';
import { check, checkResults } from '../lib/notebook/check';

const SETTINGS = { B: 64, steps: 60, lr: 0.5, alpha: 0.2, n: 5, rho: 0.8 };
const final = (o: BanditOptions) => runBandit(o).history[o.steps - 1];

test('softmax, context values and metrics match hand computation', () => {
  const p = softmax([0, Math.log(3)]);
  assert.ok(Math.abs(p[0] - 0.25) < 1e-12 && Math.abs(p[1] - 0.75) < 1e-12);
  const ctx = [{ name: 'b', prob: 0.9, rewards: [1, 0.9] }, { name: 'h', prob: 0.1, rewards: [-2, 0.5], tail: true }];
  const logits = [[0, Math.log(3)], [0, 0]];
  const v = contextValues(ctx, logits);
  assert.ok(Math.abs(v[0] - 0.925) < 1e-12 && Math.abs(v[1] - -0.75) < 1e-12);
  const m = banditMetrics(ctx, logits);
  assert.ok(Math.abs(m.mean - (0.9 * 0.925 + 0.1 * -0.75)) < 1e-12);
  assert.ok(Math.abs(m.tail - -0.75) < 1e-12);
});

test('one REINFORCE step on two episodes moves the logits by lr * [1/2, -1/2] toward the better action, or not at all', () => {
  // One context, rewards [1, 0], no noise, B = 2: if both actions were drawn, whitened advantages are
  // +1 / -1 and the gradient on the logits is exactly [0.5, -0.5]; if one action twice, it is 0.
  let moved = 0;
  for (let seed = 0; seed < 10; seed++) {
    const r = runBandit({ contexts: [{ name: 'c', prob: 1, rewards: [1, 0] }], policy: 'tabular', initLogits: [0, 0], select: 'all', B: 2, steps: 1, lr: 0.4, noise: 0, alpha: 1, n: 0, rho: 1, seed });
    const [a, b] = r.logits[0];
    if (a === 0 && b === 0) continue;
    // whitening divides by (std + 1e-8), here std = 0.5, so 0.2 / (1 + 2e-8)
    assert.ok(Math.abs(a - 0.2 / (1 + 2e-8)) < 1e-12 && Math.abs(b + 0.2 / (1 + 2e-8)) < 1e-12, `seed ${seed}: logits ${a}, ${b}`);
    moved++;
  }
  assert.ok(moved > 0 && moved < 10, `moved on ${moved} of 10 seeds`);
});

test('kept counts follow the soft-risk schedule; all keeps the whole batch', () => {
  for (const select of ['worst', 'random', 'context'] as const) {
    const h = runBandit({ ...BANDIT_WORLDS.rareHostile, ...SETTINGS, select, seed: 1 }).history;
    h.forEach((s) => assert.equal(s.kept, softRiskCount(s.step, { B: 64, M: 60, alpha: 0.2, n: 5, rho: 0.8 }), `${select} step ${s.step}`));
  }
  runBandit({ ...BANDIT_WORLDS.rareHostile, ...SETTINGS, select: 'all', seed: 1 }).history.forEach((s) => assert.equal(s.kept, 64));
});

test('rare hostile world: CVaR selection lifts the tail at the same mean (3 seeds)', () => {
  for (const seed of [0, 1, 2]) {
    const all = final({ ...BANDIT_WORLDS.rareHostile, ...SETTINGS, select: 'all', seed });
    const worst = final({ ...BANDIT_WORLDS.rareHostile, ...SETTINGS, select: 'worst', seed });
    assert.ok(worst.tail > all.tail + 0.1, `seed ${seed}: tail worst ${worst.tail} vs all ${all.tail}`);
    assert.ok(worst.mean > all.mean - 0.05, `seed ${seed}: mean worst ${worst.mean} vs all ${all.mean}`);
  }
});

test('additive world: outcome ranking hurts the tail, prompt (context) ranking does not', () => {
  for (const seed of [0, 1, 2]) {
    const all = final({ ...BANDIT_WORLDS.additive, ...SETTINGS, select: 'all', seed });
    const worst = final({ ...BANDIT_WORLDS.additive, ...SETTINGS, select: 'worst', seed });
    const context = final({ ...BANDIT_WORLDS.additive, ...SETTINGS, select: 'context', seed });
    assert.ok(worst.tail < all.tail - 0.1, `seed ${seed}: tail worst ${worst.tail} vs all ${all.tail}`);
    assert.ok(Math.abs(context.tail - all.tail) < 0.1, `seed ${seed}: tail context ${context.tail} vs all ${all.tail}`);
  }
});

test('runs are reproducible by seed; bad worlds are refused with the reason', () => {
  const o = { ...BANDIT_WORLDS.rareHostile, ...SETTINGS, select: 'worst' as const, seed: 3 };
  assert.deepEqual(runBandit(o), runBandit(o));
  assert.throws(() => runBandit({ ...o, contexts: [{ name: 'x', prob: 0.5, rewards: [1, 0] }] }), /probabilities sum to 0.5/);
  assert.throws(() => runBandit({ ...o, contexts: [{ name: 'x', prob: 1, rewards: [1] }] }), /"x" has 1 rewards for 2 actions/);
});

test('VaR is the k-th smallest reward; sampled rewards follow the policy', () => {
  assert.equal(valueAtRisk([3, -1, 2, 0.5, -4, 1, 2.5, 0, 1.5, -2], 0.2), -2);
  const w = BANDIT_WORLDS.rareHostile;
  const xs = sampleRewards(w, w.contexts.map(() => w.initLogits), 20000, 0);
  const expected = banditMetrics(w.contexts, w.contexts.map(() => w.initLogits)).mean;
  const got = xs.reduce((a, b) => a + b, 0) / xs.length;
  assert.ok(Math.abs(got - expected) < 0.03, `sample mean ${got} vs exact ${expected}`);
});

test('check() prints and records; strict mode throws on a failed claim', () => {
  const before = checkResults().length;
  check('two is more than one', 2 > 1, { a: 2 }, {});
  check('one is more than two', 1 > 2, {}, {});
  assert.deepEqual(checkResults().slice(before).map((c) => c.ok), [true, false]);
  assert.throws(() => check('strict failure', false, { x: 1.5 }, { RARLHF_NB_STRICT: '1' }), /check failed: ✗ strict failure \(x = 1.500\)/);
});
