/**
 * Engine: picks the fastest TensorFlow.js backend available, registers the kernels the wasm/cpu
 * backends lack, and provides the fast matmul every model in the kit uses.
 *
 * Why a custom matmul: on tfjs-backend-wasm, `tf.matMul` with transposeA/transposeB runs 10-40x
 * slower than the plain form, and tf.matMul's own gradient uses the transposed forms. `matmul()`
 * below transposes explicitly (a cheap copy) and its customGrad does the same, so forward and
 * backward both hit the fast kernel. `setMatmulMode('stock')` switches back for benchmarks.
 */
import * as tf from '@tensorflow/tfjs';
import os from 'node:os';
import { registerSegmentSumKernels } from './kernels';
import { initNative, nativeActive, type NativeStatus } from './native';
import { initThreadedWasm } from './wasm-threads';
import { registerWebGPU, type WebGPUAdapterInfo } from './webgpu';

export { tf };
export { Rng } from './rng';
export { nativeActive, nativeStatus, setNativeEnabled, setNativeThreads, type NativeStatus } from './native';
export { registerWebGPU, webgpuAdapter, isSoftwareAdapter, type WebGPUAdapterInfo, type WebGPUProbe } from './webgpu';
export { logprobRows, entropyFromLogits, sampleRows, geluNew, layerNorm, adamStep, type AdamHyper } from './ops';

export type BackendName = 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
export interface EngineInfo {
  backend: string;
  threads: number;
  native: NativeStatus;
  /** The GPU adapter, on the webgpu backend. */
  adapter?: WebGPUAdapterInfo;
}

let engineInfo: EngineInfo | null = null;
let pending: Promise<EngineInfo> | null = null;

/** Try the native bindings (only present on machines where they could be installed). */
function tryNative(): boolean {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require(pkg);
      return true;
    } catch {
      /* not installed: fall through to the next option */
    }
  }
  return false;
}

function tryWasmRegistration(): void {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('@tensorflow/tfjs-backend-wasm');
  } catch {
    /* not installed */
  }
}

async function tryWasm(threads: number, quiet: boolean): Promise<boolean> {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('@tensorflow/tfjs-backend-wasm');
  } catch {
    return false;
  }
  if (threads > 1) {
    try {
      await initThreadedWasm(threads);
      return true;
    } catch (e) {
      if (!quiet) process.stderr.write(`[rarlhf] threaded wasm unavailable (${(e as Error).message}); using one thread\n`);
    }
  }
  try {
    return await tf.setBackend('wasm');
  } catch {
    return false;
  }
}

function threadCount(backend: string): number {
  if (backend === 'wasm') {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      return (require('@tensorflow/tfjs-backend-wasm') as { getThreadsCount(): number }).getThreadsCount();
    } catch {
      return 1;
    }
  }
  if (backend === 'tensorflow') return os.cpus().length;
  return 1;
}

/**
 * Initialise TensorFlow.js once. Order: tfjs-node-gpu / tfjs-node ('tensorflow'), then 'webgpu' if
 * Dawn finds a hardware adapter (webgpu.ts; a software one only when forced), then wasm, then
 * the pure-JS cpu backend. `opts.backend` or env RARLHF_BACKEND forces one (error if unavailable).
 * wasm threads: `opts.threads` / env RARLHF_WASM_THREADS (default 1 = tfjs's stock build; n > 1 =
 * the threaded-SIMD build, see wasm-threads.ts). Not the default because xnnpack's pool threads
 * spin-wait: on a busy 2-core machine 2 threads measured slower than 1 (see bench.ts).
 * On wasm the native kernels (native.ts) are loaded when built, unless RARLHF_NATIVE=0; their
 * OpenBLAS thread count is RARLHF_NATIVE_THREADS (default 1, the faster on 2 vCPUs: README).
 */
export async function initEngine(opts: { backend?: BackendName; quiet?: boolean; threads?: number } = {}): Promise<EngineInfo> {
  if (engineInfo) return engineInfo;
  if (pending) return pending;
  pending = (async () => {
    tf.enableProdMode();
    const forced = (opts.backend ?? process.env.RARLHF_BACKEND) as BackendName | undefined;
    if (forced && !['tensorflow', 'webgpu', 'wasm', 'cpu'].includes(forced)) {
      throw new Error(`initEngine: unknown backend "${forced}" (RARLHF_BACKEND / opts.backend must be tensorflow, webgpu, wasm or cpu)`);
    }
    let chosen: string | null = null;
    let adapter: WebGPUAdapterInfo | undefined;
    if (!forced || forced === 'tensorflow') {
      // setBackend throws if tfjs-node registered with a different tfjs-core copy than ours
      if (tryNative() && (await tf.setBackend('tensorflow').catch(() => false))) chosen = 'tensorflow';
      else if (forced) throw new Error('initEngine: backend "tensorflow" requested but @tensorflow/tfjs-node(-gpu) is not installed');
    }
    if (!chosen && (!forced || forced === 'webgpu')) {
      // never fatal unless forced: any surprise in the GPU probe leaves the CPU paths as they were
      const probe = await registerWebGPU({ allowSoftware: forced === 'webgpu' }).catch((e: Error) => ({ ok: false as const, reason: e.message }));
      const why = probe.ok ? 'tf.setBackend failed' : probe.reason;
      if (probe.ok && (await tf.setBackend('webgpu').catch(() => false))) {
        [chosen, adapter] = ['webgpu', probe.adapter];
        tryWasmRegistration(); // so tf.setBackend('wasm') still works beside the GPU, as it does on the other paths
      }
      else if (forced) throw new Error(`initEngine: backend "webgpu" requested but no WebGPU adapter could be used (${why})`);
    }
    if (!chosen && (!forced || forced === 'wasm')) {
      const threads = opts.threads ?? Number(process.env.RARLHF_WASM_THREADS ?? 1);
      if (!Number.isInteger(threads) || threads < 1) throw new Error(`initEngine: RARLHF_WASM_THREADS / opts.threads must be a positive integer (got ${threads})`);
      if (await tryWasm(threads, !!opts.quiet)) chosen = 'wasm';
      else if (forced) throw new Error('initEngine: backend "wasm" requested but @tensorflow/tfjs-backend-wasm failed to load');
    }
    if (!chosen) {
      await tf.setBackend('cpu');
      chosen = 'cpu';
    }
    await tf.ready();
    registerSegmentSumKernels();
    const nativeThreads = Number(process.env.RARLHF_NATIVE_THREADS ?? 1);
    if (!Number.isInteger(nativeThreads) || nativeThreads < 1) throw new Error(`initEngine: RARLHF_NATIVE_THREADS must be a positive integer (got ${process.env.RARLHF_NATIVE_THREADS})`);
    const native = initNative(nativeThreads);
    const info: EngineInfo = { backend: tf.getBackend(), threads: threadCount(tf.getBackend()), native, ...(adapter ? { adapter } : {}) };
    if (!opts.quiet) process.stderr.write(`[rarlhf] ${describeEngine(info)}\n`);
    engineInfo = info;
    return info;
  })();
  try {
    return await pending;
  } finally {
    pending = null;
  }
}

/** One line for logs, e.g. "backend wasm + native kernels (OpenBLAS 0.3.21, Haswell, 1 thread)". */
export function describeEngine(info: EngineInfo): string {
  const plural = (n: number) => `${n} thread${n === 1 ? '' : 's'}`;
  if (info.adapter) return `backend ${info.backend} (adapter: ${info.adapter.name})`;
  if (info.native.active) {
    const version = /OpenBLAS\s+([\d.]+)/.exec(info.native.blas ?? '')?.[1] ?? '?';
    return `backend ${info.backend} + native kernels (OpenBLAS ${version}, ${info.native.core}, ${plural(info.native.threads ?? 1)})`;
  }
  const why = info.backend === 'wasm' ? `; native kernels off: ${info.native.reason}` : '';
  return `backend ${info.backend} (${plural(info.threads)}${why})`;
}

// ---------------------------------------------------------------------------------------------
// Fast matmul

export type MatmulMode = 'fast' | 'stock';
let matmulMode: MatmulMode = 'fast';

/** 'stock' routes matmul()/linear() through plain tf.matMul (for the speed comparison in bench). */
export function setMatmulMode(mode: MatmulMode): void {
  matmulMode = mode;
}
export function getMatmulMode(): MatmulMode {
  return matmulMode;
}

/** Swap the last two axes. */
export function transposeLast2<T extends tf.Tensor>(x: T): T {
  const perm = x.shape.map((_, i) => i);
  const r = perm.length;
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return tf.transpose(x, perm) as T;
}

// a [..., m, k] @ b [..., k, n] with equal batch dims; gradient uses only untransposed matMuls.
const fastMatMul = tf.customGrad(((...args: unknown[]) => {
  const [a, b, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sb] = saved;
      return [tf.matMul(dy, transposeLast2(sb)), tf.matMul(transposeLast2(sa), dy)];
    },
  };
}) as Parameters<typeof tf.customGrad>[0]) as unknown as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/** True inside tf.grad / tf.variableGrads (the engine's tape is on). */
function recordingGradients(): boolean {
  const state = (tf.engine() as unknown as { state: { gradientDepth: number } }).state;
  return state.gradientDepth > 0;
}

/**
 * Matrix product over the last two axes (rank >= 2, equal batch dims), with optional transposes
 * done explicitly so the wasm kernel stays on its fast path in forward and backward.
 */
export function matmul<T extends tf.Tensor>(a: T, b: tf.Tensor, transposeA = false, transposeB = false): T {
  // Native BLAS is fast for every transpose form, so tf.matMul and its own gradient are used as is.
  if (matmulMode === 'stock' || nativeActive()) return tf.matMul(a, b, transposeA, transposeB) as T;
  const A = transposeA ? transposeLast2(a) : a;
  const B = transposeB ? transposeLast2(b) : b;
  // customGrad costs ~0.2 ms per call; skip it when no gradient is being recorded (inference).
  return (recordingGradients() ? fastMatMul(A, B) : tf.matMul(A, B)) as T;
}

/** x [..., in] @ w [in, out] + b [out] (HF Conv1D layout). Flattens leading dims to one matmul. */
export function linear<T extends tf.Tensor>(x: T, w: tf.Tensor2D, b?: tf.Tensor1D): T {
  const lead = x.shape.slice(0, -1);
  const x2 = x.reshape([-1, x.shape[x.shape.length - 1]]);
  let y: tf.Tensor = matmul(x2, w);
  if (b) y = y.add(b);
  return y.reshape([...lead, w.shape[1]]) as T;
}

export { registerSegmentSumKernels };
