/**
 * Multithreaded tfjs wasm backend in Node. tfjs 4.22 disables threads under Node (its
 * WASM_HAS_MULTITHREAD_SUPPORT flag returns false there) because Emscripten's pthread workers are
 * started from a blob: URL, which Node's Worker rejects. We build the threaded-SIMD module
 * ourselves and re-register it as the 'wasm' backend (its kernels are keyed by that name):
 *  - the worker script (shipped as a string) is written to a temp file and served by path;
 *  - the main glue file is handed to workers by path (mainScriptUrlOrBlob);
 *  - Emscripten starts a pool of 8 workers; they get plain `execArgv: []` so a loader like tsx is
 *    not started in each of them (that cost seconds);
 *  - tfjs sizes its thread pool as os.cpus().length / 2 (meant for hyper-threads), so os.cpus is
 *    widened while the module initialises to get `threads` threads;
 *  - workers are unref'd so they never keep the process alive.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';

interface EmscriptenWorker {
  unref(): void;
}
interface ThreadedModule {
  cwrap(name: string, ret: string | null, args: string[]): unknown;
  PThread: { runningWorkers: EmscriptenWorker[]; unusedWorkers: EmscriptenWorker[] };
  tfjs?: unknown;
}

/** Replace the 'wasm' backend by the threaded-SIMD build with `threads` threads; returns the count in use. */
export async function initThreadedWasm(threads: number): Promise<number> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pkg = require('@tensorflow/tfjs-backend-wasm') as {
    BackendWasm: new (m: ThreadedModule) => tf.KernelBackend;
    setThreadsCount(n: number): void;
    getThreadsCount(): number;
  };
  const dir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js'));
  const glue = path.join(dir, 'tfjs-backend-wasm-threaded-simd.js');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const factory = require(glue) as (cfg: object) => Promise<ThreadedModule>;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { wasmWorkerContents } = require(path.join(dir, 'tfjs-backend-wasm-threaded-simd.worker.js')) as { wasmWorkerContents: string };
  const workerFile = path.join(os.tmpdir(), `rarlhf-tfjs-wasm-worker-${process.pid}-${Date.now()}.js`);
  // The string came from a template literal that turned "\n" escapes into real newlines; undo that.
  fs.writeFileSync(workerFile, wasmWorkerContents.replace(/\n/g, '\\n'));

  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const wt = require('node:worker_threads') as typeof import('node:worker_threads');
  class PlainWorker extends wt.Worker {
    constructor(file: string, opts: import('node:worker_threads').WorkerOptions = {}) {
      super(file, { ...opts, execArgv: [] });
    }
  }
  const original = tf.findBackendFactory('wasm');
  const realCpus = os.cpus;
  const hadWorker = Object.getOwnPropertyDescriptor(globalThis, 'Worker');
  let module: ThreadedModule;
  try {
    Object.defineProperty(globalThis, 'Worker', { configurable: true, get: () => PlainWorker, set: () => undefined });
    (os as { cpus: () => os.CpuInfo[] }).cpus = () => Array.from({ length: 2 * threads }, () => realCpus()[0]);
    module = await factory({
      locateFile: (p: string, prefix: string) => (p.endsWith('.worker.js') ? workerFile : p.endsWith('.wasm') ? path.join(dir, 'tfjs-backend-wasm-threaded-simd.wasm') : prefix + p),
      mainScriptUrlOrBlob: glue,
    });
    module.tfjs = {
      init: module.cwrap('init', null, []),
      initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
      getThreadsCount: module.cwrap('get_threads_count', 'number', []),
      registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
      disposeData: module.cwrap('dispose_data', null, ['number']),
      dispose: module.cwrap('dispose', null, []),
    };
    pkg.setThreadsCount(threads);
    tf.removeBackend('wasm');
    tf.registerBackend('wasm', () => new pkg.BackendWasm(module), 2);
    if (!(await tf.setBackend('wasm'))) throw new Error('threaded wasm backend failed to initialise');
  } catch (e) {
    // put the stock single-threaded backend back so the caller can fall back to it
    if (original) {
      tf.removeBackend('wasm');
      tf.registerBackend('wasm', original, 2);
    }
    throw e;
  } finally {
    (os as { cpus: () => os.CpuInfo[] }).cpus = realCpus;
    if (hadWorker) Object.defineProperty(globalThis, 'Worker', hadWorker);
    else delete (globalThis as { Worker?: unknown }).Worker;
  }
  for (const w of [...module.PThread.runningWorkers, ...module.PThread.unusedWorkers]) w.unref();
  process.once('exit', () => fs.rmSync(workerFile, { force: true }));
  return pkg.getThreadsCount();
}
