/**
 * The webgpu backend (lib/engine/webgpu.ts) against wasm: the kit's kernels and fused ops, and the
 * GPT-2 invariants (KV cache = full forward, left padding, save/load). On CI this runs on Mesa's
 * llvmpipe through Dawn's OpenGL ES compatibility adapter; the same code runs on a real GPU.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf, matmul, logprobRows, entropyFromLogits, sampleRows, geluNew, layerNorm, adamStep, describeEngine, isSoftwareAdapter, registerWebGPU, Rng, type WebGPUProbe, nativeStatus } from '../lib/engine';
import { GPT2LMHeadModel, type GPT2Config } from '../lib/models/gpt2';
import { loadGPT2, saveModelCheckpoint } from '../lib/models/checkpoint';
import { maxAbs, maxDiff, needWebGPU, onBoth, setupWebGPU, values } from './engine-webgpu-helpers';

const TINY: Partial<GPT2Config> = { vocab_size: 11, n_positions: 16, n_embd: 8, n_layer: 2, n_head: 2, eos_token_id: 10, bos_token_id: 10 };
let probe: WebGPUProbe;

before(async () => {
  probe = await setupWebGPU();
});

/** Report the largest difference of a comparison in the test log (CI shows how close it is). */
const report = (t: { diagnostic(m: string): void }, what: string, ref: Float32Array[], gpu: Float32Array[]) =>
  t.diagnostic(`${what}: max |wasm - webgpu| = ${Math.max(...ref.map((r, i) => maxDiff(r, gpu[i]))).toExponential(2)}`);

const randn = (shape: number[], rng: Rng) => tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()), shape);

test('software adapters are recognised (never chosen automatically)', () => {
  assert.equal(isSoftwareAdapter({ vendor: '', device: 'llvmpipe-llvm-15-0-6-256-bits-', description: 'OpenGL version OpenGL ES 3.2 Mesa 22.3.6' }), true);
  assert.equal(isSoftwareAdapter({ vendor: 'mesa', architecture: '', device: 'lavapipe', description: '' }), true);
  assert.equal(isSoftwareAdapter({ vendor: 'google', device: 'SwiftShader Device (Subzero)', description: '' }), true);
  assert.equal(isSoftwareAdapter({ vendor: 'nvidia', architecture: 'hopper', device: 'NVIDIA H100 80GB HBM3', description: 'NVIDIA: 550.54', isFallbackAdapter: false }), false);
  assert.equal(isSoftwareAdapter({ vendor: 'x', device: 'y', isFallbackAdapter: true }), true);
});

test('the adapter is registered and reported; a software one is refused when hardware is required', async (t) => {
  if (!needWebGPU(t) || !probe.ok) return;
  const line = describeEngine({ backend: 'webgpu', threads: 1, native: nativeStatus(), adapter: probe.adapter });
  assert.match(line, /^backend webgpu \(adapter: .+\)$/);
  if (probe.adapter.software) {
    const hw = await registerWebGPU({ allowSoftware: false });
    assert.equal(hw.ok, false);
    assert.match(hw.ok ? '' : hw.reason, /software adapter/);
  }
});

test('RARLHF_BACKEND=webgpu: start-up names the adapter; an adapter that does not exist is a clear error', (t) => {
  if (!needWebGPU(t)) return;
  const { NODE_TEST_CONTEXT: _c, ...env } = process.env;
  const script = "require('./lib/engine').initEngine().then((i) => console.log('BACKEND', i.backend), (e) => { console.log('ERR', e.message); process.exit(3); })";
  const root = path.join(__dirname, '..');
  const ok = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: root, env: { ...env, RARLHF_BACKEND: 'webgpu' }, encoding: 'utf8', timeout: 60_000 });
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /BACKEND webgpu/);
  assert.match(ok.stderr, /\[rarlhf\] backend webgpu \(adapter: .+\)/);
  const bad = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: root, env: { ...env, RARLHF_BACKEND: 'webgpu', RARLHF_WEBGPU_DAWN: 'adapter=no-such-gpu' }, encoding: 'utf8', timeout: 60_000 });
  assert.equal(bad.status, 3, bad.stdout + bad.stderr);
  assert.match(bad.stdout, /ERR initEngine: backend "webgpu" requested but no WebGPU adapter could be used \(.*no adapter/);
});

test('where the webgpu package cannot load, the engine falls back silently (and says why when webgpu is forced)', () => {
  const { NODE_TEST_CONTEXT: _c, ...env } = process.env;
  // the child makes require('webgpu') fail as on a platform without a prebuilt dawn.node
  const hide = "const M = require('module'); const r = M._resolveFilename; M._resolveFilename = function (q, ...a) { if (q === 'webgpu' || q.startsWith('webgpu/')) throw new Error('no dawn.node here'); return r.call(this, q, ...a); };";
  const script = `${hide} require('./lib/engine').initEngine().then((i) => console.log('BACKEND', i.backend), (e) => { console.log('ERR', e.message); process.exit(3); })`;
  const root = path.join(__dirname, '..');
  // RARLHF_WEBGPU_DAWN gives the automatic choice something to probe even without Vulkan
  const auto = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: root, env: { ...env, RARLHF_BACKEND: '', RARLHF_WEBGPU_DAWN: 'backend=opengles' }, encoding: 'utf8', timeout: 60_000 });
  assert.equal(auto.status, 0, auto.stdout + auto.stderr);
  assert.match(auto.stdout, /BACKEND (wasm|cpu)/);
  assert.doesNotMatch(auto.stderr, /webgpu/i);
  const forced = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: root, env: { ...env, RARLHF_BACKEND: 'webgpu' }, encoding: 'utf8', timeout: 60_000 });
  assert.equal(forced.status, 3, forced.stdout + forced.stderr);
  assert.match(forced.stdout, /ERR .*"webgpu" requested .*npm package "webgpu" did not load \(no dawn\.node here\)/);
});

test('webgpu: synchronous reads (dataSync) and async reads agree; tensors move between backends', async (t) => {
  if (!needWebGPU(t)) return;
  const { gpu } = await onBoth(async () => {
    const x = tf.tensor2d([[1, 2], [3, 4]]);
    const y = x.matMul(x).add(0.5);
    const sync = Float32Array.from(y.dataSync());
    const fresh = x.matMul(x).add(0.5);
    const asyncVals = Float32Array.from(await fresh.data());
    tf.dispose([x, y, fresh]);
    return [sync, asyncVals];
  });
  assert.deepEqual([...gpu[0]], [7.5, 10.5, 15.5, 22.5]);
  assert.deepEqual([...gpu[1]], [...gpu[0]]);
  // a tensor made on wasm is read on webgpu and back
  const prev = tf.getBackend();
  await tf.setBackend('wasm');
  const a = tf.tensor1d([1, 2, 3]);
  await tf.setBackend('webgpu');
  const b = a.mul(2);
  await tf.setBackend(prev);
  assert.deepEqual([...b.add(1).dataSync()], [3, 5, 7]);
  tf.dispose([a, b]);
});

test('webgpu = wasm: the kit matmul (all transposes, batched) and its custom gradient', async (t) => {
  if (!needWebGPU(t)) return;
  const run = () => {
    const rng = new Rng(1);
    const out: Float32Array[] = [];
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      for (const batch of [[], [2, 3]]) {
        const a = randn([...batch, ...(ta ? [7, 5] : [5, 7])], rng);
        const b = randn([...batch, ...(tb ? [4, 7] : [7, 4])], rng);
        const w = randn([...batch, 5, 4], rng);
        const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => matmul(x, y, ta, tb).mul(w).sum())([a, b]);
        out.push(...values(matmul(a, b, ta, tb), ga, gb));
        tf.dispose([a, b, w]);
      }
    }
    return out;
  };
  const { ref, gpu } = await onBoth(run);
  report(t, 'matmul + gradients', ref, gpu);
  ref.forEach((r, i) => {
    assert.ok(maxAbs(r) > 0.1, `output ${i} is trivial`);
    assert.ok(maxDiff(r, gpu[i]) < 1e-4, `output ${i}: ${maxDiff(r, gpu[i])}`);
  });
});

test('webgpu = wasm: fused log-probs (+ gradient), entropy, inverse-CDF sampling', async (t) => {
  if (!needWebGPU(t)) return;
  // V 601: more than one pass of the fused kernel's 256 lanes, with a remainder
  const run = () => {
    const rng = new Rng(2);
    const logits = randn([6, 601], rng).mul(3) as tf.Tensor2D;
    const labels = tf.tensor1d([0, 5, 600, 5, 312, 20], 'int32');
    const dy = randn([6], rng);
    const g = tf.grad((l: tf.Tensor) => logprobRows(l as tf.Tensor2D, labels).mul(dy).sum())(logits);
    const u = [0.01, 0.5, 0.99, 0.3, 0.77, 0.0001];
    const out = values(logprobRows(logits, labels), g, entropyFromLogits(logits), sampleRows(logits, u));
    tf.dispose([logits, labels, dy]);
    return out;
  };
  const { ref, gpu } = await onBoth(run);
  report(t, 'log-probs, their gradient, entropy', ref.slice(0, 3), gpu.slice(0, 3));
  for (const [i, name] of ['logprob', 'dlogits', 'entropy'].entries()) assert.ok(maxDiff(ref[i], gpu[i]) < 1e-4, `${name}: ${maxDiff(ref[i], gpu[i])}`);
  assert.deepEqual([...gpu[3]], [...ref[3]], 'sampled ids');
  assert.ok(new Set(ref[3]).size > 2, 'samples are not all one id');
  // and on webgpu it is the kit's fused WGSL kernel that ran, forward and backward
  const prev = tf.getBackend();
  await tf.setBackend('webgpu');
  const prof = await tf.profile(() => {
    const l = tf.randomNormal([3, 300]) as tf.Tensor2D;
    const y = tf.tensor1d([1, 2, 299], 'int32');
    return tf.grad((x: tf.Tensor) => logprobRows(x as tf.Tensor2D, y).sum())(l);
  });
  await tf.setBackend(prev);
  assert.ok(prof.kernelNames.includes('RarlhfLogprobWebGPU') && prof.kernelNames.includes('RarlhfLogprobGradWebGPU'), prof.kernelNames.join(' '));
});

test('webgpu = wasm: gelu_new, LayerNorm (forward and backward), Adam step', async (t) => {
  if (!needWebGPU(t)) return;
  const run = () => {
    const rng = new Rng(3);
    const x = randn([4, 5, 16], rng);
    const gam = randn([16], rng), bet = randn([16], rng), dy = randn([4, 5, 16], rng);
    const gg = tf.grad((v: tf.Tensor) => geluNew(v).mul(dy).sum())(x);
    const [gx, gG, gB] = tf.grads((v: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => layerNorm(v, g, b, 1e-5).mul(dy).sum())([x, gam, bet]);
    const p = randn([33], rng), gr = randn([33], rng), m = randn([33], rng).mul(0.1), v = randn([33], rng).square();
    const adam = adamStep(p, gr, m, v, { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, bc1: 0.19, bc2: 0.003 });
    const out = values(geluNew(x), gg, layerNorm(x, gam, bet, 1e-5), gx, gG, gB, ...adam);
    tf.dispose([x, gam, bet, dy, p, gr, m, v]);
    return out;
  };
  const { ref, gpu } = await onBoth(run);
  report(t, 'gelu_new, LayerNorm, Adam', ref, gpu);
  ref.forEach((r, i) => assert.ok(maxDiff(r, gpu[i]) < 1e-4, `output ${i}: ${maxDiff(r, gpu[i])}`));
});

test('webgpu = wasm: scatter-add (UnsortedSegmentSum: float, int, out-of-range ids, rank 3; the kit\'s WGSL kernel) and the embedding gradient', async (t) => {
  if (!needWebGPU(t)) return;
  const run = () => {
    const rng = new Rng(4);
    const x = randn([9, 6], rng);
    const ids = tf.tensor1d([3, 0, 3, 3, 7, 0, 1, 7, 3], 'int32'); // repeats: the atomics path
    const xi = tf.tensor2d(Array.from({ length: 18 }, (_, i) => i - 5), [9, 2], 'int32');
    const table = randn([11, 8], rng);
    const tokens = tf.tensor2d([[1, 2, 2, 10], [2, 2, 2, 5]], [2, 4], 'int32');
    const w = randn([2, 4, 8], rng);
    const gEmb = tf.grad((e: tf.Tensor) => tf.gather(e, tokens).mul(w).sum())(table);
    // ids outside [0, numSegments) are dropped (TF); rank-3 x sums whole [2, 3] slices
    const oob = tf.tensor1d([2, 9, -1, 0, 2], 'int32');
    const x3 = randn([5, 2, 3], rng);
    const out = values(tf.unsortedSegmentSum(x, ids, 8), tf.unsortedSegmentSum(xi, ids, 8).toFloat(), gEmb, tf.unsortedSegmentSum(x3, oob, 3));
    tf.dispose([x, ids, xi, table, tokens, w, oob, x3]);
    return out;
  };
  const { ref, gpu } = await onBoth(run);
  report(t, 'scatter-add, embedding gradient', ref, gpu);
  ref.forEach((r, i) => assert.ok(maxDiff(r, gpu[i]) < 1e-4, `output ${i}: ${maxDiff(r, gpu[i])}`));
  assert.ok(maxAbs(ref[2]) > 0.1);
});

test('webgpu: scatter-add is deterministic under contention (4000 rows into 3 segments), as on wasm', async (t) => {
  if (!needWebGPU(t)) return;
  // float atomics would add in thread order (the stock kernel: 1.5e-4 apart run to run here)
  const run = () => {
    const ids = tf.tensor1d(Array.from({ length: 4000 }, (_, i) => (i * 7) % 3), 'int32');
    const x = randn([4000, 16], new Rng(6));
    const out = values(tf.unsortedSegmentSum(x, ids, 3), tf.unsortedSegmentSum(x, ids, 3));
    tf.dispose([ids, x]);
    return out;
  };
  const { ref, gpu } = await onBoth(run);
  assert.equal(maxDiff(gpu[0], gpu[1]), 0, 'run to run on webgpu');
  report(t, 'contended scatter-add', ref.slice(0, 1), gpu.slice(0, 1));
  assert.ok(maxDiff(ref[0], gpu[0]) < 1e-4);
});

test('webgpu = wasm: GPT-2 logits; KV-cache decoding equals the full forward (left padding)', async (t) => {
  if (!needWebGPU(t)) return;
  const run = () => {
    const m = new GPT2LMHeadModel(TINY, { seed: 1 });
    const ids = tf.tensor2d([[10, 10, 2, 3, 4, 5, 6, 7], [1, 2, 3, 4, 5, 6, 7, 8]], [2, 8], 'int32');
    const mask = tf.tensor2d([[0, 0, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 1]], [2, 8], 'int32');
    const full = m.forward({ inputIds: ids, attentionMask: mask }).logits;
    const slice = (x: tf.Tensor2D, a: number, b: number) => x.slice([0, a], [2, b - a]) as tf.Tensor2D;
    let out = m.forward({ inputIds: slice(ids, 0, 4), attentionMask: slice(mask, 0, 4) });
    const pieces = [out.logits];
    for (let s = 4; s < 8; s++) {
      out = m.forward({ inputIds: slice(ids, s, s + 1), attentionMask: slice(mask, 0, s + 1), past: out.present });
      pieces.push(out.logits);
    }
    const real = (x: tf.Tensor) => x.slice([0, 2, 0], [2, 6, -1]); // pads' own logits are irrelevant
    const res = values(real(full), real(tf.concat(pieces, 1)));
    m.dispose();
    return res;
  };
  const { ref, gpu } = await onBoth(run);
  report(t, 'GPT-2 logits', ref.slice(0, 1), gpu.slice(0, 1));
  t.diagnostic(`KV cache vs full forward on webgpu: ${maxDiff(gpu[0], gpu[1]).toExponential(2)}`);
  assert.ok(maxDiff(gpu[0], gpu[1]) < 1e-4, `webgpu cache vs full: ${maxDiff(gpu[0], gpu[1])}`);
  assert.ok(maxDiff(ref[0], gpu[0]) < 1e-4, `webgpu vs wasm: ${maxDiff(ref[0], gpu[0])}`);
  assert.ok(maxAbs(ref[0]) > 1e-3);
});

test('webgpu: left padding does not change the real tokens\' logits (and the mask matters)', async (t) => {
  if (!needWebGPU(t)) return;
  const { ref, gpu } = await onBoth(() => {
    const m = new GPT2LMHeadModel(TINY, { seed: 2 });
    const plain = m.forward({ inputIds: tf.tensor2d([[4, 5, 6]], [1, 3], 'int32') }).logits;
    const padIds = tf.tensor2d([[10, 10, 10, 4, 5, 6]], [1, 6], 'int32');
    const padded = m.forward({ inputIds: padIds, attentionMask: tf.tensor2d([[0, 0, 0, 1, 1, 1]], [1, 6], 'int32') }).logits;
    const unmasked = m.forward({ inputIds: padIds }).logits;
    const res = values(plain, padded.slice([0, 3, 0], [1, 3, -1]), unmasked.slice([0, 3, 0], [1, 3, -1]));
    m.dispose();
    return res;
  });
  assert.ok(maxDiff(gpu[0], gpu[1]) < 1e-5, `padded vs plain: ${maxDiff(gpu[0], gpu[1])}`);
  assert.ok(maxDiff(gpu[0], gpu[2]) > 1e-3, 'without the mask the logits must differ');
  assert.ok(maxDiff(ref[0], gpu[0]) < 1e-4);
});

test('webgpu: a checkpoint saved from webgpu loads to the same logits (on webgpu and on wasm)', async (t) => {
  if (!needWebGPU(t)) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-webgpu-'));
  const ids = () => tf.tensor2d([[1, 2, 3, 4, 5]], [1, 5], 'int32');
  const prev = tf.getBackend();
  try {
    await tf.setBackend('webgpu');
    const m = new GPT2LMHeadModel(TINY, { seed: 5 });
    // one training step on webgpu first, so the saved weights are GPU results, not the init
    const v = m.trainableVariables();
    const { grads } = tf.variableGrads(() => m.forward({ inputIds: ids() }).logits.square().mean() as tf.Scalar, v);
    for (const x of v) x.assign(x.sub(grads[x.name].mul(0.1)));
    tf.dispose(Object.values(grads));
    const [before] = values(m.forward({ inputIds: ids() }).logits);
    saveModelCheckpoint(dir, m);
    m.dispose();
    const [onGpu] = values(loadGPT2(dir).model.forward({ inputIds: ids() }).logits);
    await tf.setBackend('wasm');
    const [onWasm] = values(loadGPT2(dir).model.forward({ inputIds: ids() }).logits);
    assert.equal(maxDiff(before, onGpu), 0);
    assert.ok(maxDiff(before, onWasm) < 1e-4, `wasm: ${maxDiff(before, onWasm)}`);
  } finally {
    await tf.setBackend(prev);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
