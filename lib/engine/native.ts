/**
 * Native CPU kernels (native/src/kernels.c, an N-API addon over OpenBLAS) registered for the tfjs
 * wasm backend. They work on the wasm heap in place: a tensor's bytes live at its `memoryOffset`,
 * outputs are allocated by the backend (`makeOutput`), and the addon gets the heap's ArrayBuffer
 * plus offsets, so nothing is copied.
 *
 * Replaced stock kernels: BatchMatMul and _FusedMatMul (every transpose and batch variant go to
 * cblas_sgemm; wasm's own is fast only for batch 1 without transposes), Softmax, and the copies and
 * reductions wasm runs element by element (Sum, GatherV2, Concat, SplitV, Slice, UnsortedSegmentSum,
 * Identity). Added kernels, used by the ops in ops.ts: fused log-softmax + gather and its gradient,
 * entropy, categorical sampling, gelu_new, LayerNorm and Adam.
 *
 * The addon is optional: when it is not built (no compiler or no OpenBLAS at `npm install`) or
 * RARLHF_NATIVE=0, nothing is registered and ops.ts composes stock tfjs kernels as before.
 */
import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import { heap, off, registerCopyKernels, size, type KernelArgs, type WasmBackend } from './wasm-heap';

interface Addon {
  sgemm(heap: ArrayBuffer, batch: number, M: number, N: number, K: number, tA: number, tB: number, a: number, sA: number, b: number, sB: number, c: number, bias: number, relu: number, reserved: number): void;
  logprob(heap: ArrayBuffer, N: number, V: number, logits: number, idx: number, lp: number, lse: number): void;
  logprobGrad(heap: ArrayBuffer, N: number, V: number, logits: number, idx: number, lse: number, dy: number, dx: number): void;
  entropy(heap: ArrayBuffer, N: number, V: number, logits: number, out: number): void;
  softmax(heap: ArrayBuffer, N: number, V: number, x: number, y: number): void;
  sample(heap: ArrayBuffer, B: number, V: number, logits: number, u: number, out: number): void;
  gelu(heap: ArrayBuffer, n: number, x: number, y: number): void;
  geluGrad(heap: ArrayBuffer, n: number, x: number, dy: number, dx: number): void;
  layerNorm(heap: ArrayBuffer, rows: number, D: number, eps: number, x: number, g: number, b: number, y: number, mean: number, rstd: number): void;
  layerNormGrad(heap: ArrayBuffer, rows: number, D: number, x: number, g: number, mean: number, rstd: number, dy: number, dx: number, dg: number, db: number): void;
  adam(heap: ArrayBuffer, n: number, p: number, g: number, m: number, v: number, pOut: number, mOut: number, vOut: number, lr: number, b1: number, b2: number, eps: number, wd: number, bc1: number, bc2: number): void;
  sum(heap: ArrayBuffer, R: number, C: number, x: number, out: number, leading: number): void;
  gather(heap: ArrayBuffer, n: number, rowSize: number, numRows: number, x: number, idx: number, out: number): number;
  segmentSum(heap: ArrayBuffer, n: number, inner: number, numSegments: number, x: number, ids: number, out: number, isInt: number): void;
  setThreads(n: number): void;
  info(): { blas: string; core: string; threads: number };
}

export interface NativeStatus {
  active: boolean;
  /** Why native kernels are off, when they are. */
  reason?: string;
  blas?: string;
  core?: string;
  threads?: number;
  kernels: string[];
}

/** The package root holds native/ (found upward, so the compiled dist/ copy finds it too). */
function addonPath(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'native', 'binding.gyp'))) return path.join(dir, 'native', 'build', 'Release', 'rarlhf_native.node');
    if (path.dirname(dir) === dir) return path.resolve(__dirname, '../../native/build/Release/rarlhf_native.node');
  }
}
const ADDON_PATH = addonPath();
let addon: Addon | null = null;
let status: NativeStatus = { active: false, reason: 'not initialised', kernels: [] };

export function nativeStatus(): NativeStatus {
  return status;
}

let enabled = true;
/** Stock kernel configs replaced by native ones, kept for setNativeEnabled(false). */
const stockKernels = new Map<string, tf.KernelConfig | undefined>();
const nativeKernels = new Map<string, tf.KernelConfig>();

/** True when native kernels are registered for the active backend (ops.ts dispatches on it). */
export function nativeActive(): boolean {
  return status.active && enabled && tf.getBackend() === 'wasm';
}

/**
 * Switch between the native kernels and the stock path in-process (tests compare the two, the
 * bench times both). Off restores tfjs's own kernels; on re-registers the native ones.
 */
export function setNativeEnabled(on: boolean): void {
  if (!status.active || on === enabled) return;
  for (const [name, cfg] of nativeKernels) {
    if (tf.getKernel(name, 'wasm')) tf.unregisterKernel(name, 'wasm');
    const stock = stockKernels.get(name);
    if (on) tf.registerKernel(cfg);
    else if (stock) tf.registerKernel(stock);
  }
  enabled = on;
}

/** Load the addon (optional) and register its kernels for 'wasm'. Call after the backend is set. */
export function initNative(threads: number): NativeStatus {
  if (status.active) return status;
  const off = process.env.RARLHF_NATIVE;
  if (off === '0' || off === 'false') return (status = { active: false, reason: 'RARLHF_NATIVE=0', kernels: [] });
  if (tf.getBackend() !== 'wasm') return (status = { active: false, reason: `backend ${tf.getBackend()} (native kernels extend wasm only)`, kernels: [] });
  const be = tf.backend() as unknown as WasmBackend;
  if (!(be.wasm.HEAPU8.buffer instanceof ArrayBuffer)) return (status = { active: false, reason: 'threaded wasm (its shared heap is not handed to the addon)', kernels: [] });
  if (!fs.existsSync(ADDON_PATH)) return (status = { active: false, reason: 'addon not built (npm run build:native; needs g++ and libopenblas-dev)', kernels: [] });
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    addon = require(ADDON_PATH) as Addon;
  } catch (e) {
    return (status = { active: false, reason: `addon failed to load: ${(e as Error).message.split('\n')[0]}`, kernels: [] });
  }
  addon.setThreads(threads);
  const kernels = registerAll(addon);
  const i = addon.info();
  status = { active: true, blas: i.blas, core: i.core, threads: i.threads, kernels };
  return status;
}

/** Set the number of OpenBLAS threads (matmuls only; the fused loops are single-threaded). */
export function setNativeThreads(n: number): void {
  if (!addon) throw new Error('setNativeThreads: native kernels are not loaded');
  addon.setThreads(n);
  status = { ...status, threads: addon.info().threads };
}

// ---------------------------------------------------------------------------------------------

function batchMatMul(a: tf.TensorInfo, b: tf.TensorInfo, tA: boolean, tB: boolean, be: WasmBackend, bias?: tf.TensorInfo, relu = false): tf.TensorInfo | null {
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return null;
  const ra = a.shape.length, rb = b.shape.length;
  const M = tA ? a.shape[ra - 1] : a.shape[ra - 2];
  const K = tA ? a.shape[ra - 2] : a.shape[ra - 1];
  const K2 = tB ? b.shape[rb - 1] : b.shape[rb - 2];
  const N = tB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (K !== K2) throw new Error(`Error in matMul: inner shapes (${K}) and (${K2}) of Tensors with shapes ${a.shape} and ${b.shape} and transposeA=${tA} and transposeB=${tB} must match.`);
  const batchA = a.shape.slice(0, -2), batchB = b.shape.slice(0, -2);
  const outBatch = tf.broadcast_util.assertAndGetBroadcastShape(batchA, batchB);
  const nA = size(batchA), nB = size(batchB), n = size(outBatch);
  // Flattened batches must be equal or one of them 1; other broadcasts go to the stock kernel.
  if (!((nA === n || nA === 1) && (nB === n || nB === 1))) return null;
  if (bias && (bias.dtype !== 'float32' || size(bias.shape) !== N)) return null;
  const out = be.makeOutput([...outBatch, M, N], 'float32');
  if (n * M * N === 0) return out;
  addon!.sgemm(heap(be), n, M, N, K, tA ? 1 : 0, tB ? 1 : 0, off(be, a), nA === 1 ? 0 : M * K, off(be, b), nB === 1 ? 0 : K * N, off(be, out), bias ? off(be, bias) : -1, relu ? 1 : 0, 0);
  return out;
}

function registerAll(native: Addon): string[] {
  const names: string[] = [];
  const register = (cfg: tf.KernelConfig) => {
    const prev = tf.getKernel(cfg.kernelName, 'wasm');
    if (prev) tf.unregisterKernel(cfg.kernelName, 'wasm');
    stockKernels.set(cfg.kernelName, prev);
    nativeKernels.set(cfg.kernelName, cfg);
    tf.registerKernel(cfg);
    names.push(cfg.kernelName);
  };
  const override = (kernelName: string, make: (stock: tf.KernelFunc | undefined) => tf.KernelFunc) => {
    const prev = tf.getKernel(kernelName, 'wasm');
    register({ kernelName, backendName: 'wasm', setupFunc: prev?.setupFunc, disposeFunc: prev?.disposeFunc, kernelFunc: make(prev?.kernelFunc) });
  };
  const stockOr = (stock: tf.KernelFunc | undefined, args: KernelArgs, name: string) => {
    if (!stock) throw new Error(`native ${name}: case not handled and no stock kernel to fall back to`);
    return stock(args as Parameters<tf.KernelFunc>[0]);
  };

  override('BatchMatMul', (stock) => ((args: KernelArgs) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    return batchMatMul(a, b, transposeA, transposeB, args.backend as WasmBackend) ?? stockOr(stock, args, 'BatchMatMul');
  }) as unknown as tf.KernelFunc);

  override('_FusedMatMul', (stock) => ((args: KernelArgs) => {
    const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined>;
    const { transposeA, transposeB, activation } = args.attrs as { transposeA: boolean; transposeB: boolean; activation?: string };
    const act = activation ?? 'linear';
    if (preluActivationWeights || (act !== 'linear' && act !== 'relu')) return stockOr(stock, args, '_FusedMatMul');
    return batchMatMul(a!, b!, transposeA, transposeB, args.backend as WasmBackend, bias, act === 'relu') ?? stockOr(stock, args, '_FusedMatMul');
  }) as unknown as tf.KernelFunc);

  override('Softmax', (stock) => ((args: KernelArgs) => {
    const { logits } = args.inputs as { logits: tf.TensorInfo };
    const dim = (args.attrs as { dim: number }).dim;
    const r = logits.shape.length;
    if (logits.dtype !== 'float32' || r === 0 || (dim !== -1 && dim !== r - 1)) return stockOr(stock, args, 'Softmax');
    const be = args.backend as WasmBackend;
    const out = be.makeOutput(logits.shape, 'float32');
    const N = size(logits.shape.slice(0, -1)), V = logits.shape[r - 1];
    if (N * V > 0) native.softmax(heap(be), N, V, off(be, logits), off(be, out));
    return out;
  }) as unknown as tf.KernelFunc);

  override('Sum', (stock) => ((args: KernelArgs) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
    const r = x.shape.length;
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
    const leading = axes.every((ax, i) => ax === i);
    const trailing = axes.every((ax, i) => ax === r - axes.length + i);
    if (x.dtype !== 'float32' || axes.length === 0 || (!leading && !trailing)) return stockOr(stock, args, 'Sum');
    const be = args.backend as WasmBackend;
    const reduced = size(axes.map((ax) => x.shape[ax]));
    const keptShape = x.shape.filter((_, i) => !axes.includes(i));
    const out = be.makeOutput(keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : keptShape, 'float32');
    const kept = size(keptShape);
    if (kept === 0) return out;
    if (leading) native.sum(heap(be), reduced, kept, off(be, x), off(be, out), 1);
    else native.sum(heap(be), kept, reduced, off(be, x), off(be, out), 0);
    return out;
  }) as unknown as tf.KernelFunc);

  override('GatherV2', (stock) => ((args: KernelArgs) => {
    const { x, indices } = args.inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
    const { axis, batchDims } = args.attrs as { axis: number; batchDims: number };
    const ax = tf.util.parseAxisParam(axis, x.shape)[0];
    if (ax !== 0 || (batchDims ?? 0) !== 0 || indices.dtype !== 'int32' || (x.dtype !== 'float32' && x.dtype !== 'int32') || x.shape.length === 0) return stockOr(stock, args, 'GatherV2');
    const be = args.backend as WasmBackend;
    const out = be.makeOutput([...indices.shape, ...x.shape.slice(1)], x.dtype);
    const n = size(indices.shape), row = size(x.shape.slice(1));
    if (n * row === 0) return out;
    const bad = native.gather(heap(be), n, row, x.shape[0], off(be, x), off(be, indices), off(be, out));
    if (bad >= 0) {
      const v = (be as unknown as { readSync(id: unknown): Int32Array }).readSync(indices.dataId)[bad];
      (be as unknown as { disposeData(id: unknown): void }).disposeData(out.dataId);
      throw new Error(`GatherV2: the index value ${v} is not in [0, ${x.shape[0] - 1}]`);
    }
    return out;
  }) as unknown as tf.KernelFunc);

  // Scatter-add (tf.gather's gradient); replaces the JS loop of kernels.ts on wasm.
  override('UnsortedSegmentSum', (stock) => ((args: KernelArgs) => {
    const { x, segmentIds } = args.inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
    const numSegments = (args.attrs as { numSegments: number }).numSegments;
    if ((x.dtype !== 'float32' && x.dtype !== 'int32') || segmentIds.dtype !== 'int32') return stockOr(stock, args, 'UnsortedSegmentSum');
    const be = args.backend as WasmBackend;
    const out = be.makeOutput([numSegments, ...x.shape.slice(segmentIds.shape.length)], x.dtype);
    const n = size(segmentIds.shape), inner = size(x.shape.slice(segmentIds.shape.length));
    if (numSegments * inner === 0) return out;
    native.segmentSum(heap(be), n, inner, numSegments, off(be, x), off(be, segmentIds), off(be, out), x.dtype === 'int32' ? 1 : 0);
    return out;
  }) as unknown as tf.KernelFunc);

  registerCopyKernels(override, stockOr);

  const custom = (kernelName: string, f: (args: KernelArgs, be: WasmBackend) => tf.TensorInfo | tf.TensorInfo[]) =>
    register({ kernelName, backendName: 'wasm', kernelFunc: ((args: KernelArgs) => f(args, args.backend as WasmBackend)) as unknown as tf.KernelFunc });
  const rows = (t: tf.TensorInfo) => [size(t.shape.slice(0, -1)), t.shape[t.shape.length - 1]];

  custom(NATIVE.logprob, ({ inputs }, be) => {
    const { logits, labels } = inputs as { logits: tf.TensorInfo; labels: tf.TensorInfo };
    const [N, V] = rows(logits);
    const lp = be.makeOutput([N], 'float32');
    const lse = be.makeOutput([N], 'float32');
    native.logprob(heap(be), N, V, off(be, logits), off(be, labels), off(be, lp), off(be, lse));
    return [lp, lse];
  });
  custom(NATIVE.logprobGrad, ({ inputs }, be) => {
    const { logits, labels, lse, dy } = inputs as Record<string, tf.TensorInfo>;
    const [N, V] = rows(logits);
    const dx = be.makeOutput(logits.shape, 'float32');
    native.logprobGrad(heap(be), N, V, off(be, logits), off(be, labels), off(be, lse), off(be, dy), off(be, dx));
    return dx;
  });
  custom(NATIVE.entropy, ({ inputs }, be) => {
    const { logits } = inputs as { logits: tf.TensorInfo };
    const [N, V] = rows(logits);
    const out = be.makeOutput(logits.shape.slice(0, -1), 'float32');
    native.entropy(heap(be), N, V, off(be, logits), off(be, out));
    return out;
  });
  custom(NATIVE.sample, ({ inputs }, be) => {
    const { logits, u } = inputs as { logits: tf.TensorInfo; u: tf.TensorInfo };
    const [B, V] = rows(logits);
    const out = be.makeOutput([B], 'int32');
    native.sample(heap(be), B, V, off(be, logits), off(be, u), off(be, out));
    return out;
  });
  custom(NATIVE.gelu, ({ inputs }, be) => {
    const { x } = inputs as { x: tf.TensorInfo };
    const y = be.makeOutput(x.shape, 'float32');
    native.gelu(heap(be), size(x.shape), off(be, x), off(be, y));
    return y;
  });
  custom(NATIVE.geluGrad, ({ inputs }, be) => {
    const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    const dx = be.makeOutput(x.shape, 'float32');
    native.geluGrad(heap(be), size(x.shape), off(be, x), off(be, dy), off(be, dx));
    return dx;
  });
  custom(NATIVE.layerNorm, ({ inputs, attrs }, be) => {
    const { x, gamma, beta } = inputs as Record<string, tf.TensorInfo>;
    const [R, D] = rows(x);
    const y = be.makeOutput(x.shape, 'float32');
    const mean = be.makeOutput([R], 'float32');
    const rstd = be.makeOutput([R], 'float32');
    native.layerNorm(heap(be), R, D, (attrs as { eps: number }).eps, off(be, x), off(be, gamma), off(be, beta), off(be, y), off(be, mean), off(be, rstd));
    return [y, mean, rstd];
  });
  custom(NATIVE.layerNormGrad, ({ inputs }, be) => {
    const { x, gamma, mean, rstd, dy } = inputs as Record<string, tf.TensorInfo>;
    const [R, D] = rows(x);
    const dx = be.makeOutput(x.shape, 'float32');
    const dg = be.makeOutput([D], 'float32');
    const db = be.makeOutput([D], 'float32');
    native.layerNormGrad(heap(be), R, D, off(be, x), off(be, gamma), off(be, mean), off(be, rstd), off(be, dy), off(be, dx), off(be, dg), off(be, db));
    return [dx, dg, db];
  });
  custom(NATIVE.adam, ({ inputs, attrs }, be) => {
    const { p, g, m, v } = inputs as Record<string, tf.TensorInfo>;
    const a = attrs as { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; bc1: number; bc2: number };
    const pOut = be.makeOutput(p.shape, 'float32');
    const mOut = be.makeOutput(p.shape, 'float32');
    const vOut = be.makeOutput(p.shape, 'float32');
    native.adam(heap(be), size(p.shape), off(be, p), off(be, g), off(be, m), off(be, v), off(be, pOut), off(be, mOut), off(be, vOut), a.lr, a.beta1, a.beta2, a.eps, a.weightDecay, a.bc1, a.bc2);
    return [pOut, mOut, vOut];
  });
  return names;
}

/** Names of the kit's own kernels (ops.ts runs them through tf.engine().runKernel). */
export const NATIVE = {
  logprob: 'RarlhfLogprob',
  logprobGrad: 'RarlhfLogprobGrad',
  entropy: 'RarlhfEntropy',
  sample: 'RarlhfSample',
  gelu: 'RarlhfGelu',
  geluGrad: 'RarlhfGeluGrad',
  layerNorm: 'RarlhfLayerNorm',
  layerNormGrad: 'RarlhfLayerNormGrad',
  adam: 'RarlhfAdam',
} as const;
