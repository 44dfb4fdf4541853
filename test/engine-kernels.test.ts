import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, tf, matmul, linear, setMatmulMode, getMatmulMode } from '../lib/engine';
import { segmentSum } from '../lib/engine/kernels';
import { Rng } from '../lib/engine/rng';
import { AdamW, clipGradNorm } from '../lib/engine/optim';

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => a.sub(b).abs().max().dataSync()[0]);
}

function randn(shape: number[], rng: Rng): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, () => rng.normal()), shape);
}

test('initEngine is idempotent and picks wasm here (webgpu only on a hardware adapter)', async () => {
  const a = await initEngine({ quiet: true });
  const b = await initEngine({ quiet: true });
  assert.equal(a, b);
  // a machine with a real GPU and Vulkan driver gets webgpu automatically; a software adapter never does
  const auto = a.backend === 'webgpu' && a.adapter && !a.adapter.software ? 'webgpu' : 'wasm';
  assert.equal(a.backend, process.env.RARLHF_BACKEND ?? auto);
  assert.ok(a.threads >= 1);
});

test('fast matmul equals tf.matMul in values and gradients (all transpose flags, rank 2 and 4)', async () => {
  await initEngine({ quiet: true });
  const rng = new Rng(1);
  for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
    for (const batch of [[], [2, 3]]) {
      const a = randn([...batch, ...(ta ? [7, 5] : [5, 7])], rng);
      const b = randn([...batch, ...(tb ? [4, 7] : [7, 4])], rng);
      const w = randn([...batch, 5, 4], rng); // weights the output so the gradient is not all ones
      const f = (mm: typeof matmul) => (x: tf.Tensor, y: tf.Tensor) => mm(x, y, ta, tb).mul(w).sum();
      const stock = (x: tf.Tensor, y: tf.Tensor, p: boolean, q: boolean) => tf.matMul(x, y, p, q);
      assert.ok(maxAbsDiff(matmul(a, b, ta, tb), tf.matMul(a, b, ta, tb)) < 1e-5);
      const g1 = tf.grads(f(matmul))([a, b]);
      const g2 = tf.grads(f(stock as typeof matmul))([a, b]);
      assert.ok(maxAbsDiff(g1[0], g2[0]) < 1e-5, `dA ta=${ta} tb=${tb} batch=${batch}`);
      assert.ok(maxAbsDiff(g1[1], g2[1]) < 1e-5, `dB ta=${ta} tb=${tb} batch=${batch}`);
      // the gradient is not trivially zero
      assert.ok(g1[0].abs().sum().dataSync()[0] > 0.1);
    }
  }
});

test('linear: x @ w + b on 3-D input, hand-computed', async () => {
  await initEngine({ quiet: true });
  const x = tf.tensor3d([[[1, 2], [3, 4]]]); // [1, 2, 2]
  const w = tf.tensor2d([[1, 0, 2], [0, 1, -1]]); // [2, 3]
  const b = tf.tensor1d([0.5, 0, 1]);
  assert.deepEqual(Array.from(linear(x, w, b).dataSync()), [1.5, 2, 1, 3.5, 4, 3]);
});

test('stock matmul mode switch', async () => {
  await initEngine({ quiet: true });
  setMatmulMode('stock');
  assert.equal(getMatmulMode(), 'stock');
  const a = tf.tensor2d([[1, 2]]);
  assert.deepEqual(Array.from(matmul(a, a, false, true).dataSync()), [5]);
  setMatmulMode('fast');
});

test('segmentSum: scatter-add hand-computed, out-of-range ids dropped', () => {
  const out = segmentSum([1, 2, 3, 4, 5, 6, 7, 8], [2, 0, 2, 9], 3, false);
  assert.deepEqual(Array.from(out), [3, 4, 0, 0, 1 + 5, 2 + 6]);
});

for (const backend of ['wasm', 'cpu']) {
  test(`embedding (tf.gather) gradient via the registered scatter-add kernel on ${backend}`, async () => {
    await initEngine({ quiet: true });
    const prev = tf.getBackend();
    await tf.setBackend(backend);
    try {
      const table = tf.variable(tf.tensor2d([[1, 2], [3, 4], [5, 6], [7, 8]]));
      const ids = tf.tensor2d([[1, 1], [3, 0]], [2, 2], 'int32');
      const coef = tf.tensor3d([[[1, 10], [2, 20]], [[3, 30], [4, 40]]]);
      const g = tf.grad((t: tf.Tensor) => tf.gather(t, ids).mul(coef).sum())(table);
      // row 1 gets coef[0,0] + coef[0,1], row 3 gets coef[1,0], row 0 gets coef[1,1]
      assert.deepEqual(Array.from(g.dataSync()), [4, 40, 3, 30, 0, 0, 3, 30]);
      // large vocabulary stays fast (the stock cpu kernel loops once per row of the table)
      const big = tf.variable(tf.randomNormal([50257, 16]));
      const t0 = Date.now();
      const gb = tf.grad((t: tf.Tensor) => tf.gather(t, tf.tensor1d([0, 5, 50256], 'int32')).sum())(big);
      assert.equal(gb.sum().dataSync()[0], 48);
      assert.ok(Date.now() - t0 < 2000, `gather grad took ${Date.now() - t0} ms`);
      tf.dispose([table, big, g, gb]);
    } finally {
      await tf.setBackend(prev);
    }
  });
}

test('Rng: same seed same stream, state round-trips, normals look standard', () => {
  const a = new Rng(42), b = new Rng(42), c = new Rng(43);
  const sa = Array.from({ length: 5 }, () => a.uniform());
  assert.deepEqual(sa, Array.from({ length: 5 }, () => b.uniform()));
  assert.notDeepEqual(sa, Array.from({ length: 5 }, () => c.uniform()));
  const st = a.getState();
  const next = [a.normal(), a.normal(), a.int(10)];
  a.setState(st);
  assert.deepEqual([a.normal(), a.normal(), a.int(10)], next);
  const r = new Rng(7);
  const xs = Array.from({ length: 20000 }, () => r.normal());
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length);
  assert.ok(Math.abs(mean) < 0.03 && Math.abs(sd - 1) < 0.03, `mean ${mean} sd ${sd}`);
  assert.deepEqual(new Rng(1).shuffle([1, 2, 3, 4, 5]), new Rng(1).shuffle([1, 2, 3, 4, 5]));
});

test('AdamW: two steps match torch.optim.AdamW hand computation', async () => {
  await initEngine({ quiet: true });
  const p = tf.variable(tf.tensor1d([1.0, -2.0]));
  const opt = new AdamW({ lr: 0.1, weightDecay: 0.5, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
  const gs = [[0.5, -1.0], [0.25, 2.0]];
  // reference (torch semantics, float64)
  let w = [1.0, -2.0];
  const m = [0, 0], v = [0, 0];
  gs.forEach((g, t) => {
    const step = t + 1;
    for (let i = 0; i < 2; i++) {
      w[i] *= 1 - 0.1 * 0.5;
      m[i] = 0.9 * m[i] + 0.1 * g[i];
      v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
      const denom = Math.sqrt(v[i]) / Math.sqrt(1 - 0.999 ** step) + 1e-8;
      w[i] -= (0.1 / (1 - 0.9 ** step)) * (m[i] / denom);
    }
    const gt = tf.tensor1d(g);
    opt.apply([p], [gt]);
    gt.dispose();
  });
  const got = Array.from(p.dataSync());
  w.forEach((x, i) => assert.ok(Math.abs(got[i] - x) < 1e-5, `${got[i]} vs ${x}`));
  opt.dispose();
  p.dispose();
});

test('clipGradNorm scales to max norm like torch', async () => {
  await initEngine({ quiet: true });
  const { grads, norm } = clipGradNorm([tf.tensor1d([3, 0]), tf.tensor1d([4])], 1);
  assert.ok(Math.abs(norm - 5) < 1e-6);
  assert.ok(Math.abs(grads[0].dataSync()[0] - 3 / (5 + 1e-6)) < 1e-6);
  assert.ok(Math.abs(grads[1].dataSync()[0] - 4 / (5 + 1e-6)) < 1e-6);
});
