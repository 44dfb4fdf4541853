/**
 * Native kernels (lib/engine/native.ts, native/src/kernels.c) against the stock tfjs-wasm path:
 * every kernel on random shapes (transposes, batch > 1, broadcast batch, odd sizes, size 1) to
 * 1e-5 relative, gradients against the stock path and finite differences, one PPO step and one
 * SFT step with and without native kernels (1e-4), and flat memory over 1,000 steps.
 * Skipped (with the reason) where the addon is not built; CI builds it, so there it must run.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, tf, Rng, nativeStatus, setNativeEnabled, logprobRows, entropyFromLogits, sampleRows, geluNew, layerNorm, adamStep } from '../lib/engine';
import { AdamW } from '../lib/engine/optim';
import { GPT2LMHeadModel } from '../lib/models/gpt2';
import { lmLoss } from '../lib/models/generate';
import { PPOTrainer } from '../lib/rl/ppo-trainer';
import { tinyConfig, toyModels, toyPrompts } from './rl-fixtures';

let skip: string | false = false;
before(async () => {
  await initEngine({ quiet: true });
  const s = nativeStatus();
  if (!s.active) skip = `native kernels inactive: ${s.reason}`;
});

test('native kernels are active in CI (where .ci/run installs OpenBLAS and builds the addon)', (t) => {
  if (!process.env.CI) return t.skip('not in CI');
  if (process.env.RARLHF_NATIVE === '0') return t.skip('RARLHF_NATIVE=0 (fallback run)');
  assert.ok(nativeStatus().active, `native kernels inactive in CI: ${nativeStatus().reason}`);
});

function randn(shape: number[], rng: Rng, scale = 1): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, () => rng.normal() * scale), shape);
}

/** max |a - b| / max(max |b|, 1): relative to the tensor's scale, absolute for tensors below 1. */
function relErr(a: tf.Tensor | ArrayLike<number>, b: tf.Tensor | ArrayLike<number>): number {
  const x = a instanceof tf.Tensor ? a.dataSync() : a;
  const y = b instanceof tf.Tensor ? b.dataSync() : b;
  assert.equal(x.length, y.length, 'sizes differ');
  let d = 0, m = 0;
  for (let i = 0; i < x.length; i++) {
    d = Math.max(d, Math.abs(x[i] - y[i]));
    m = Math.max(m, Math.abs(y[i]));
  }
  return d / Math.max(m, 1);
}

/** f computed with native kernels and with the stock path; both results as plain arrays. */
function bothWays<T>(f: () => T, read: (r: T) => Float32Array[]): [Float32Array[], Float32Array[]] {
  const native = tf.tidy(() => read(f()));
  setNativeEnabled(false);
  try {
    return [native, tf.tidy(() => read(f()))];
  } finally {
    setNativeEnabled(true);
  }
}
const arrays = (ts: tf.Tensor | tf.Tensor[]) => (Array.isArray(ts) ? ts : [ts]).map((t) => t.dataSync().slice() as Float32Array);

function assertClose(native: Float32Array[], stock: Float32Array[], tol: number, what: string): void {
  assert.equal(native.length, stock.length);
  native.forEach((n, i) => {
    const e = relErr(n, stock[i]);
    assert.ok(e <= tol, `${what} [${i}]: relative error ${e.toExponential(2)} > ${tol}`);
  });
}

test('BatchMatMul: every transpose form, batch and broadcast batch, odd sizes, values and gradients', (t) => {
  // (tfjs's own matMul gradient does not reduce a broadcast batch, so those cases check values only)
  if (skip) return t.skip(skip);
  const rng = new Rng(1);
  const dims = [[1, 1, 1], [7, 5, 3], [13, 33, 9], [64, 8, 17], [2, 128, 1]];
  const batches: [number[], number[]][] = [[[], []], [[3], [3]], [[2, 3], [2, 3]], [[4], [1]], [[1], [5]], [[2, 1, 3], [2, 1, 3]]];
  for (const [M, K, N] of dims) {
    for (const [ba, bb] of batches) {
      for (const ta of [false, true]) {
        for (const tb of [false, true]) {
          const a = randn([...ba, ...(ta ? [K, M] : [M, K])], rng);
          const b = randn([...bb, ...(tb ? [N, K] : [K, N])], rng);
          const outBatch = ba.length >= bb.length ? ba.map((d, i) => Math.max(d, bb[i] ?? 1)) : bb;
          const w = randn([...outBatch, M, N], rng);
          const f = () => {
            const y = tf.matMul(a, b, ta, tb);
            if (ba.join() !== bb.join()) return [y];
            const g = tf.grads((x: tf.Tensor, z: tf.Tensor) => tf.matMul(x, z, ta, tb).mul(w).sum())([a, b]);
            return [y, ...g];
          };
          const [n, s] = bothWays(f, arrays);
          assertClose(n, s, 1e-5, `matMul M${M} K${K} N${N} batch [${ba}]x[${bb}] tA=${ta} tB=${tb}`);
          tf.dispose([a, b, w]);
        }
      }
    }
  }
});

test('_FusedMatMul with bias and relu equals matMul + bias (+ relu) on the stock path', (t) => {
  // Not against stock _FusedMatMul: tfjs-wasm 4.22's adds the bias wrongly with transposeB
  // (rows 2.. of [[1,2],[3,4],[5,6]] x I-ish^T + [10,20,30] come out shifted).
  if (skip) return t.skip(skip);
  const rng = new Rng(2);
  for (const [M, K, N] of [[5, 7, 3], [1, 1, 1], [33, 16, 65]]) {
    for (const activation of ['linear', 'relu'] as const) {
      for (const transposeB of [false, true]) {
        const a = randn([M, K], rng), b = randn(transposeB ? [N, K] : [K, N], rng), bias = randn([N], rng);
        const fused = tf.tidy(() => arrays(tf.fused.matMul({ a, b, transposeB, bias, activation })));
        setNativeEnabled(false);
        const plain = tf.tidy(() => {
          const y = tf.matMul(a, b, false, transposeB).add(bias);
          return arrays(activation === 'relu' ? tf.relu(y) : y);
        });
        setNativeEnabled(true);
        assertClose(fused, plain, 1e-5, `fused M${M} K${K} N${N} ${activation} tB=${transposeB}`);
      }
    }
  }
});

test('logprobRows: values and gradient equal the stock path; gradient matches finite differences', (t) => {
  if (skip) return t.skip(skip);
  const rng = new Rng(3);
  for (const [N, V] of [[1, 1], [3, 7], [17, 8193], [64, 256]]) {
    const logits = randn([N, V], rng, 3);
    const labels = tf.tensor1d(Array.from({ length: N }, () => rng.int(V)), 'int32');
    const dy = randn([N], rng);
    const f = () => [logprobRows(logits as tf.Tensor2D, labels), tf.grad((x: tf.Tensor) => logprobRows(x as tf.Tensor2D, labels).mul(dy).sum())(logits)];
    const [n, s] = bothWays(f, arrays);
    assertClose(n, s, 1e-5, `logprob N${N} V${V}`);
  }
  // finite differences (float64 central differences on a small case, native path)
  const x = [[0.3, -1.2, 2.0, 0.1], [1.5, 0.2, -0.7, 0.9]];
  const labels = tf.tensor1d([2, 0], 'int32');
  const g = tf.grad((l: tf.Tensor) => logprobRows(l as tf.Tensor2D, labels).sum())(tf.tensor2d(x)).arraySync() as number[][];
  const lp = (m: number[][]) => m.reduce((acc, row, i) => acc + row[[2, 0][i]] - Math.log(row.reduce((a, v) => a + Math.exp(v), 0)), 0);
  for (let i = 0; i < 2; i++) {
    for (let j = 0; j < 4; j++) {
      const up = x.map((r) => [...r]), dn = x.map((r) => [...r]);
      up[i][j] += 1e-4;
      dn[i][j] -= 1e-4;
      assert.ok(Math.abs(g[i][j] - (lp(up) - lp(dn)) / 2e-4) < 1e-4, `d logprob / d x[${i}][${j}]`);
    }
  }
});

test('a NaN logit gives a NaN log-prob (the trainers\' NaN guard relies on it)', (t) => {
  if (skip) return t.skip(skip);
  const lp = logprobRows(tf.tensor2d([[0, NaN, 1], [0, 1, 2]]), tf.tensor1d([0, 2], 'int32')).dataSync();
  assert.ok(Number.isNaN(lp[0]));
  assert.ok(Math.abs(lp[1] - (2 - Math.log(1 + Math.E + Math.E ** 2))) < 1e-6);
});

test('entropy, softmax (and its gradient) and sampling equal the stock path', (t) => {
  if (skip) return t.skip(skip);
  const rng = new Rng(4);
  const logits = randn([2, 9, 301], rng, 2);
  const [n, s] = bothWays(() => entropyFromLogits(logits), arrays);
  assertClose(n, s, 1e-5, 'entropy');
  const [sn, ss] = bothWays(() => [tf.softmax(logits), tf.softmax(logits.reshape([18, 301])), tf.grad((z: tf.Tensor) => tf.softmax(z).mul(logits).sum())(logits)], arrays);
  assertClose(sn, ss, 1e-5, 'softmax');
  const l2 = randn([64, 513], rng, 2) as tf.Tensor2D;
  const u = Array.from({ length: 64 }, () => rng.uniform());
  const [a, b] = bothWays(() => sampleRows(l2, u), arrays);
  // Identical unless a uniform lands within float rounding of a CDF step.
  const same = a[0].filter((v, i) => v === b[0][i]).length;
  assert.ok(same >= 63, `sampled ids agree on ${same}/64 rows`);
  // removed tokens (-1e30) are never sampled
  const masked = tf.tensor2d([[-1e30, 0, -1e30, 0]]);
  for (const v of [1e-7, 0.3, 0.7, 0.999999]) assert.ok([1, 3].includes(sampleRows(masked, [v]).dataSync()[0]));
});

test('gelu_new and LayerNorm: values and gradients equal the stock path and finite differences', (t) => {
  if (skip) return t.skip(skip);
  const rng = new Rng(5);
  for (const shape of [[1], [3, 7], [2, 5, 129]]) {
    const x = randn(shape, rng, 3);
    const dy = randn(shape, rng);
    const [n, s] = bothWays(() => [geluNew(x), tf.grad((z: tf.Tensor) => geluNew(z).mul(dy).sum())(x)], arrays);
    assertClose(n, s, 1e-5, `gelu [${shape}]`);
  }
  for (const shape of [[1, 1], [3, 7], [2, 5, 129]]) {
    const D = shape[shape.length - 1];
    const x = randn(shape, rng, 2), g = randn([D], rng), b = randn([D], rng), dy = randn(shape, rng);
    const f = () => [layerNorm(x, g, b, 1e-5), ...tf.grads((p: tf.Tensor, q: tf.Tensor, r: tf.Tensor) => layerNorm(p, q, r, 1e-5).mul(dy).sum())([x, g, b])];
    const [n, s] = bothWays(f, arrays);
    assertClose(n, s, 1e-5, `layerNorm [${shape}]`);
  }
  // finite differences, native path (float32 forward: step 1e-2, tolerance 2e-3)
  const xs = [0.3, -1.1, 2.2, 0.05, -0.4];
  const gx = tf.grad((z: tf.Tensor) => geluNew(z).sum())(tf.tensor1d(xs)).dataSync();
  const gRef = xs.map((v) => (geluNew(tf.scalar(v + 1e-2)).dataSync()[0] - geluNew(tf.scalar(v - 1e-2)).dataSync()[0]) / 2e-2);
  gx.forEach((v, i) => assert.ok(Math.abs(v - gRef[i]) < 2e-3, `gelu fd ${i}: ${v} vs ${gRef[i]}`));
  const g = tf.tensor1d([1.5, -0.5, 2, 1, 0.3]), b = tf.tensor1d([0, 1, 0, -1, 0]), w = tf.tensor1d([0.7, -1.3, 0.2, 2.1, -0.6]);
  const ln = (z: tf.Tensor) => layerNorm(z, g, b, 1e-5).mul(w).sum();
  const gl = tf.grad(ln)(tf.tensor1d(xs).reshape([1, 5])).dataSync();
  xs.forEach((_, i) => {
    const up = [...xs], dn = [...xs];
    up[i] += 1e-2;
    dn[i] -= 1e-2;
    const fd = (ln(tf.tensor2d([up])).dataSync()[0] - ln(tf.tensor2d([dn])).dataSync()[0]) / 2e-2;
    assert.ok(Math.abs(gl[i] - fd) < 2e-3, `layerNorm fd ${i}: ${gl[i]} vs ${fd}`);
  });
});

test('Adam step equals the stock path and a hand computation', (t) => {
  if (skip) return t.skip(skip);
  const rng = new Rng(6);
  const p = randn([37], rng), gr = randn([37], rng), m = randn([37], rng, 0.1), v = randn([37], rng, 0.1).abs();
  const h = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, bc1: 1 - 0.9 ** 3, bc2: 1 - 0.999 ** 3 };
  const [n, s] = bothWays(() => adamStep(p, gr, m, v, h), arrays);
  assertClose(n, s, 1e-6, 'adam');
  // hand: p=1, g=0.5, m=v=0, step 1, lr 0.1, wd 0 -> m=0.05, v=0.00025, p = 1 - 0.1 * 0.5/(0.5+1e-8)
  const [p1, m1, v1] = adamStep(tf.tensor1d([1]), tf.tensor1d([0.5]), tf.tensor1d([0]), tf.tensor1d([0]), { ...h, lr: 0.1, weightDecay: 0, bc1: 0.1, bc2: 0.001 });
  assert.ok(Math.abs(p1.dataSync()[0] - 0.9) < 2e-6, `p = ${p1.dataSync()[0]}`);
  assert.ok(Math.abs(m1.dataSync()[0] - 0.05) < 1e-7, `m = ${m1.dataSync()[0]}`);
  assert.ok(Math.abs(v1.dataSync()[0] - 0.00025) < 1e-8); // (1 - beta2 in float32)
});

test('Sum, GatherV2, Concat, SplitV, Slice, UnsortedSegmentSum, Identity equal the stock kernels', (t) => {
  if (skip) return t.skip(skip);
  const rng = new Rng(7);
  const x = randn([4, 3, 5], rng);
  for (const [axis, keep] of [[0, false], [[0, 1], true], [2, false], [[1, 2], false], [[0, 1, 2], false], [1, false]] as [number | number[], boolean][]) {
    const [n, s] = bothWays(() => tf.sum(x, axis, keep), arrays);
    assertClose(n, s, 1e-6, `sum axis ${axis}`);
  }
  const table = randn([9, 4], rng);
  const idx = tf.tensor2d([[0, 8, 3], [3, 3, 1]], [2, 3], 'int32');
  const [gn, gs] = bothWays(() => [tf.gather(table, idx), tf.gather(tf.tensor1d([5, 6, 7], 'int32'), tf.tensor1d([2, 0], 'int32')).toFloat()], arrays);
  assertClose(gn, gs, 0, 'gather');
  assert.throws(() => tf.gather(table, tf.tensor1d([1, 9], 'int32')), /index value 9 is not in \[0, 8\]/);
  const parts = [randn([2, 3, 1], rng), randn([2, 3, 4], rng), randn([2, 3, 2], rng)];
  for (const axis of [0, 1, 2, -1]) {
    const [cn, cs] = bothWays(() => tf.concat(axis === 2 || axis === -1 ? parts : parts.map((p2) => p2.slice([0, 0, 0], [2, 3, 1])), axis), arrays);
    assertClose(cn, cs, 0, `concat axis ${axis}`);
  }
  const [sn, ss] = bothWays(() => [...tf.split(x, [1, 3, 1], 2), ...tf.split(x, 2, 0), ...tf.split(x, [2, 1], 1)], arrays);
  assertClose(sn, ss, 0, 'split');
  const y = randn([3, 4, 5, 6], rng);
  const slices: [number[], number[]][] = [[[0, 0, 0, 0], [3, 4, 5, 6]], [[1, 0, 0, 0], [2, 4, 5, 6]], [[0, 1, 2, 0], [3, 2, 3, 6]], [[2, 3, 4, 5], [1, 1, 1, 1]], [[0, 0, 0, 1], [-1, -1, -1, 4]], [[1, 1, 0, 0], [1, 2, 5, 6]], [[0, 0, 0, 0], [3, 4, 5, 0]]];
  for (const [b0, s0] of slices) {
    const [pn, ps] = bothWays(() => [tf.slice(y, b0, s0), tf.slice(y.toInt(), b0, s0).toFloat(), tf.slice(y.reshape([360]), [b0[3] * 7], [11])], arrays);
    assertClose(pn, ps, 0, `slice begin [${b0}] size [${s0}]`);
  }
  const seg = tf.tensor1d([2, 0, 2, 5, -1], 'int32');
  const data = randn([5, 3], rng);
  const [un, us] = bothWays(() => [tf.unsortedSegmentSum(data, seg, 4), tf.unsortedSegmentSum(tf.tensor2d([[1, 2], [3, 4], [5, 6], [7, 8], [9, 9]], [5, 2], 'int32'), seg, 3).toFloat()], arrays);
  assertClose(un, us, 1e-6, 'segment sum');
  const c = x.clone();
  x.dispose();
  assert.equal(c.shape.join(','), '4,3,5');
  assert.ok(Number.isFinite(c.sum().dataSync()[0])); // the clone survives its source
});

test('one PPO step and one SFT step give the same losses with and without native kernels (1e-4)', (t) => {
  if (skip) return t.skip(skip);
  const ppo = () => {
    const { policy, ref } = toyModels(4);
    const tr = new PPOTrainer({ config: { batch_size: 8, mini_batch_size: 4, learning_rate: 1e-2 }, policy, ref, seed: 3 });
    const queries = toyPrompts(8, 5);
    const responses = queries.map((_, i) => [i % 10, (i + 3) % 10, (i + 7) % 10, 1]);
    const stats = tr.step(queries, responses, queries.map((_, i) => (i % 3) - 1));
    const out = ['ppo/loss/total', 'ppo/loss/policy', 'ppo/loss/value', 'objective/kl', 'ppo/policy/entropy'].map((k) => stats[k] as number);
    policy.dispose();
    ref.dispose();
    return out;
  };
  const sft = () => {
    const model = new GPT2LMHeadModel({ ...tinyConfig, resid_pdrop: 0, embd_pdrop: 0, attn_pdrop: 0 }, { seed: 2 });
    const opt = new AdamW({ lr: 1e-2 });
    const ids = tf.tensor2d([[1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1]], [2, 6], 'int32');
    const losses: number[] = [];
    for (let i = 0; i < 2; i++) {
      const vars = model.trainableVariables();
      const { value, grads } = tf.variableGrads(() => lmLoss(model, ids), vars);
      losses.push(value.dataSync()[0]);
      opt.apply(vars, vars.map((v) => grads[v.name]));
      tf.dispose([value, ...Object.values(grads)]);
    }
    model.dispose();
    opt.dispose();
    return losses;
  };
  const [n, s] = bothWays(() => [ppo(), sft()], (r) => r.map((xs) => Float32Array.from(xs)));
  n.forEach((a, i) => a.forEach((v, j) => assert.ok(Math.abs(v - s[i][j]) <= 1e-4 * Math.max(1, Math.abs(s[i][j])), `${i === 0 ? 'PPO' : 'SFT'} stat ${j}: native ${v} vs stock ${s[i][j]}`)));
});

test('memory stays flat over 1,000 native training steps (numTensors and RSS)', (t) => {
  if (skip) return t.skip(skip);
  const model = new GPT2LMHeadModel({ ...tinyConfig, resid_pdrop: 0.1 }, { seed: 1 });
  const opt = new AdamW({ lr: 1e-3, weightDecay: 0.01 });
  const vars = model.trainableVariables();
  const ids = tf.tensor2d([[1, 2, 3, 4, 5, 6, 7, 8]], [1, 8], 'int32');
  const rng = new Rng(1);
  const step = () => {
    const { value, grads } = tf.variableGrads(() => lmLoss(model, ids, undefined, { training: true, rng }), vars);
    opt.apply(vars, vars.map((v) => grads[v.name]));
    tf.dispose([value, ...Object.values(grads)]);
  };
  for (let i = 0; i < 50; i++) step();
  const n0 = tf.memory().numTensors, r0 = process.memoryUsage().rss;
  for (let i = 0; i < 1000; i++) step();
  const n1 = tf.memory().numTensors, r1 = process.memoryUsage().rss;
  assert.equal(n1, n0, `numTensors ${n0} -> ${n1}`);
  assert.ok(r1 - r0 < 64 * 2 ** 20, `RSS grew by ${((r1 - r0) / 2 ** 20).toFixed(1)} MB over 1,000 steps`);
  model.dispose();
  opt.dispose();
  ids.dispose();
});
