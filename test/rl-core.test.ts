/**
 * PPO math against hand-computed values (derivations in the comments).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, tf } from '../lib/engine';
import {
  AdaptiveKLController,
  FixedKLController,
  computeRewards,
  entropyFromLogits,
  gae,
  klPenalty,
  logprobsFromLogits,
  maskedMean,
  maskedVar,
  maskedWhiten,
  ppoLoss,
  clipByGlobalNorm,
} from '../lib/rl/core';

before(async () => {
  await initEngine({ quiet: true }); // the project's default backend (wasm): it caught a tfjs-wasm oneHot bug
});

function close(actual: ArrayLike<number> | number[][], expected: number[] | number[][], tol = 1e-5, what = ''): void {
  const a = (Array.isArray(actual) ? (actual as number[][]).flat() : Array.from(actual as ArrayLike<number>)) as number[];
  const e = (expected as (number | number[])[]).flat() as number[];
  assert.equal(a.length, e.length, `${what}: length`);
  for (let i = 0; i < e.length; i++) assert.ok(Math.abs(a[i] - e[i]) <= tol, `${what}[${i}]: got ${a[i]}, expected ${e[i]}`);
}

test('logprobs and entropy from logits', () => {
  // logits [1, 0]: p = [e/(e+1), 1/(e+1)] = [0.7310586, 0.2689414]
  // log p(0) = -0.3132617, log p(1) = -1.3132617; H = -(p0 ln p0 + p1 ln p1) = 0.5822031
  const logits = tf.tensor3d([[[1, 0], [1, 0]]]);
  const labels = tf.tensor2d([[0, 1]], undefined, 'int32');
  close(logprobsFromLogits(logits, labels).dataSync(), [-0.3132617, -1.3132617], 1e-6, 'logp');
  close(entropyFromLogits(logits).dataSync(), [0.5822031, 0.5822031], 1e-6, 'entropy');
});

test('KL penalty variants', () => {
  // logp - ref = [0.5, 0, -1, 0]
  const lp = tf.tensor2d([[-1, -2, -3, -4]]);
  const ref = tf.tensor2d([[-1.5, -2, -2, -4]]);
  close(klPenalty('kl', lp, ref).dataSync(), [0.5, 0, -1, 0], 1e-6, 'kl');
  close(klPenalty('abs', lp, ref).dataSync(), [0.5, 0, 1, 0], 1e-6, 'abs');
  close(klPenalty('mse', lp, ref).dataSync(), [0.125, 0, 0.5, 0], 1e-6, 'mse'); // 0.5 d^2
  // full: p = softmax([1,0]) vs uniform: 0.7310586 ln(0.7310586/0.5) + 0.2689414 ln(0.2689414/0.5) = 0.1109441
  const full = { logits: tf.tensor3d([[[1, 0]]]), refLogits: tf.tensor3d([[[0, 0]]]) };
  close(klPenalty('full', tf.zeros([1, 1]), tf.zeros([1, 1]), full).dataSync(), [0.1109441], 1e-6, 'full');
  assert.throws(() => klPenalty('full', lp, ref), /full logits/);
});

test('compute_rewards: -beta*kl everywhere, score at the last masked position', () => {
  // row 0: kl = [0.5, 0, -1, 0], beta 0.5 -> non-score [-0.25, 0, 0.5, 0]; mask [0,1,1,0] -> last = 2
  //        rewards = [-0.25, 0, 0.5 + 3, 0]
  // row 1: kl = 0, mask all ones -> score -1 at t = 3
  const out = computeRewards({
    scores: tf.tensor1d([3, -1]),
    logprobs: tf.tensor2d([[-1, -2, -3, -4], [-1, -1, -1, -1]]),
    refLogprobs: tf.tensor2d([[-1.5, -2, -2, -4], [-1, -1, -1, -1]]),
    masks: tf.tensor2d([[0, 1, 1, 0], [1, 1, 1, 1]]),
    klCoef: 0.5,
  });
  close(out.nonScoreRewards.arraySync(), [[-0.25, 0, 0.5, 0], [0, 0, 0, 0]], 1e-6, 'non-score');
  close(out.rewards.arraySync(), [[-0.25, 0, 3.5, 0], [0, 0, 0, -1]], 1e-6, 'rewards');
});

test('GAE and returns on a masked batch (gamma 1)', () => {
  // row 0: mask [0,1,1,0]; masked v = [0,1,2,0], r = [0,0.5,1,0]; lam 0.5
  //   t3: d=0, A=0 | t2: d=1+0-2=-1, A=-1 | t1: d=0.5+2-1=1.5, A=1.5-0.5=1 | t0: d=0+1-0=1, A=1+0.5=1.5
  //   returns = A + v = [1.5, 2, 1, 0]
  // row 1: mask ones, v = 1, r = [0,0,0,2]; lam 0.5
  //   t3: d=2-1=1, A=1 | t2: d=0, A=0.5 | t1: A=0.25 | t0: A=0.125; returns = [1.125,1.25,1.5,2]
  const values = tf.tensor2d([[9, 1, 2, 9], [1, 1, 1, 1]]);
  const rewards = tf.tensor2d([[5, 0.5, 1, 5], [0, 0, 0, 2]]);
  const masks = tf.tensor2d([[0, 1, 1, 0], [1, 1, 1, 1]]);
  const out = gae({ values, rewards, masks, gamma: 1, lam: 0.5 });
  close(out.advantages.arraySync(), [[1.5, 1, -1, 0], [0.125, 0.25, 0.5, 1]], 1e-6, 'advantages');
  close(out.returns.arraySync(), [[1.5, 2, 1, 0], [1.125, 1.25, 1.5, 2]], 1e-6, 'returns');
  close(out.values.arraySync(), [[0, 1, 2, 0], [1, 1, 1, 1]], 0, 'masked values');
  // default lam 0.95 on row 1: A = [0.95^3, 0.95^2, 0.95, 1] = [0.857375, 0.9025, 0.95, 1]
  const d = gae({ values: values.slice([1, 0], [1, 4]) as tf.Tensor2D, rewards: rewards.slice([1, 0], [1, 4]) as tf.Tensor2D, masks: masks.slice([1, 0], [1, 4]) as tf.Tensor2D });
  close(d.advantages.dataSync(), [0.857375, 0.9025, 0.95, 1], 1e-6, 'lam .95');
  close(d.returns.dataSync(), [1.857375, 1.9025, 1.95, 2], 1e-6, 'returns .95');
});

test('masked mean / var (unbiased) / whiten (+1e-8)', () => {
  // x = [1,2,3,10], mask [1,1,1,0]: mean 2; biased var 2/3; unbiased 2/3 * 3/2 = 1
  const x = tf.tensor1d([1, 2, 3, 10]);
  const m = tf.tensor1d([1, 1, 1, 0]);
  close([maskedMean(x, m).dataSync()[0]], [2], 1e-6, 'mean');
  close([maskedVar(x, m).dataSync()[0]], [1], 1e-6, 'var');
  close([maskedVar(x, m, false).dataSync()[0]], [2 / 3], 1e-6, 'biased var');
  close(maskedWhiten(x, m).dataSync(), [-1, 0, 1, 8], 1e-5, 'whiten');
  close(maskedWhiten(x, m, false).dataSync(), [1, 2, 3, 10], 1e-5, 'whiten no shift'); // (x-2)/1 + 2
  // the 1e-8 matters for tiny variance: x = [0, 1e-4]: mean 5e-5, unbiased var = 5e-9
  //   whitened = ±5e-5 / sqrt(5e-9 + 1e-8) = ±0.4082483 (without the 1e-8 it would be ±0.7071)
  close(maskedWhiten(tf.tensor1d([0, 1e-4]), tf.ones([2])).dataSync(), [-0.4082483, 0.4082483], 1e-4, 'eps');
  // per-row mean along an axis
  close(maskedMean(tf.tensor2d([[1, 3], [5, 7]]), tf.tensor2d([[1, 1], [0, 1]]), 1).dataSync(), [2, 7], 1e-6, 'axis');
});

function lossFixture(logprobs: number[]) {
  return {
    oldLogprobs: tf.tensor2d([[0, 0, 0]]),
    values: tf.tensor2d([[0, 0, 0]]),
    logprobs: tf.tensor2d([logprobs]),
    vpreds: tf.tensor2d([[0.5, -0.1, 9]]),
    masks: tf.tensor2d([[1, 1, 0]]),
    advantages: tf.tensor2d([[1, -2, 5]]),
    returns: tf.tensor2d([[1, 1, 0]]),
  };
}

test('PPO policy/value losses, clipfracs, approx KL', () => {
  // ratio = [1.5, 0.9, 1]; A = [1, -2, 5]; mask [1,1,0]
  // pg1 = -A r = [-1.5, 1.8, -5]; pg2 = -A clip(r, .8, 1.2) = [-1.2, 1.8, -5]
  // max = [-1.2, 1.8] -> pg_loss = 0.3; clipfrac: pg2 > pg1 on [yes, no] = 0.5
  // vpreds [0.5, -0.1], old values 0, clip to ±0.2 -> [0.2, -0.1]; R = [1, 1]
  // vf1 = [0.25, 1.21], vf2 = [0.64, 1.21]; max mean = 0.925 -> vf_loss 0.4625; vf clipfrac 0.5
  // total = 0.3 + 0.1 * 0.4625 = 0.34625
  // approxkl = 0.5 * mean(ln1.5^2, ln0.9^2) = 0.5 * (0.1644019 + 0.0111008)/2 = 0.0438757
  const f = lossFixture([Math.log(1.5), Math.log(0.9), 0]);
  const out = ppoLoss(f);
  close([out.pgLoss.dataSync()[0]], [0.3], 1e-6, 'pg');
  close([out.vfLoss.dataSync()[0]], [0.4625], 1e-6, 'vf');
  close([out.loss.dataSync()[0]], [0.34625], 1e-6, 'loss');
  close([out.stats['policy/clipfrac'].dataSync()[0]], [0.5], 0, 'clipfrac');
  close([out.stats['val/clipfrac'].dataSync()[0]], [0.5], 0, 'vf clipfrac');
  close([out.stats['policy/approxkl'].dataSync()[0]], [0.0438757], 1e-6, 'approxkl');
  close([out.stats['returns/mean'].dataSync()[0]], [1], 1e-6, 'returns mean');
  close([out.stats['policy/skipped_ratio'].dataSync()[0]], [0], 0, 'not skipped');
});

test('PPO policy gradient: clipped and masked positions get zero gradient', () => {
  // d pg_loss / d logp: t0 clipped (r=1.5 > 1.2, A>0 -> constant) -> 0;
  // t1: -A r = 2 r, d/dlogp = 2 r = 1.8, divided by 2 kept tokens -> 0.9; t2 masked -> 0
  const f = lossFixture([Math.log(1.5), Math.log(0.9), 0]);
  const g = tf.grad((lp: tf.Tensor) => ppoLoss({ ...f, logprobs: lp as tf.Tensor2D }).pgLoss)(f.logprobs);
  close(g.dataSync(), [0, 0.9, 0], 1e-6, 'grad logp');
  // value gradient: t0 clipped branch wins (vf2 > vf1, constant in vpred) -> 0;
  // t1: 0.5 * mean -> 0.5 * 2 (v - R) / 2 = (−0.1 − 1) * 0.5 = -0.55; t2 masked -> 0
  const gv = tf.grad((v: tf.Tensor) => ppoLoss({ ...f, vpreds: v as tf.Tensor2D }).vfLoss)(f.vpreds);
  close(gv.dataSync(), [0, -0.55, 0], 1e-6, 'grad v');
});

test('ratio threshold zeroes the minibatch loss', () => {
  // ratio = [30, 30] on the kept tokens: masked mean 30 > 10 -> losses x 0
  const out = ppoLoss(lossFixture([Math.log(30), Math.log(30), 0]));
  assert.equal(out.loss.dataSync()[0], 0);
  assert.equal(out.pgLoss.dataSync()[0], 0);
  assert.equal(out.stats['policy/skipped_ratio'].dataSync()[0], 1);
});

test('adaptive and fixed KL controllers', () => {
  // e = clip(9/6 - 1, ±0.2) = 0.2 -> 0.2 * (1 + 0.2 * 128 / 10000) = 0.200512
  const c = new AdaptiveKLController(0.2, 6, 10000);
  c.update(9, 128);
  close([c.value], [0.200512], 1e-12, 'up');
  // e = clip(3/6 - 1) = -0.2 -> 0.200512 * (1 - 0.00256) = 0.19999869...
  c.update(3, 128);
  close([c.value], [0.200512 * 0.99744], 1e-12, 'down');
  // e = 6.6/6 - 1 = 0.1 (unclipped) -> 0.2 * (1 + 0.1 * 128 / 10000) = 0.200256
  const d = new AdaptiveKLController(0.2, 6, 10000);
  d.update(6.6, 128);
  close([d.value], [0.200256], 1e-12, 'proportional');
  const f = new FixedKLController(0.3);
  f.update(100, 128);
  assert.equal(f.value, 0.3);
});

test('global-norm gradient clipping', () => {
  // grads [3, 4] -> norm 5; max 1 -> scale 1/(5 + 1e-6)
  const { grads, norm } = clipByGlobalNorm({ a: tf.tensor1d([3]), b: tf.tensor1d([4]) }, 1);
  close([norm], [5], 1e-6, 'norm');
  close([grads.a.dataSync()[0], grads.b.dataSync()[0]], [0.6, 0.8], 1e-6, 'clipped');
});
