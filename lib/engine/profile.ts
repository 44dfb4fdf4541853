/**
 * Kernel-level profile: wraps every kernel registered for the active backend with a wall-clock
 * timer (the wasm and cpu backends run kernels synchronously, so the time is the kernel's own).
 * Used by `rarlhf bench engine` and `bench ppo --profile` to see which kernels deserve a native
 * implementation. RARLHF_PROFILE_SHAPES=1 keys the table by kernel and input shapes.
 */
import * as tf from '@tensorflow/tfjs';

export interface KernelTiming {
  kernel: string;
  calls: number;
  ms: number;
}

/** Start timing every kernel of the current backend; the returned function stops and reports (sorted by total time). */
export function startKernelProfile(): () => KernelTiming[] {
  const backendName = tf.getBackend();
  const configs = tf.getKernelsForBackend(backendName);
  const byShape = !!process.env.RARLHF_PROFILE_SHAPES;
  const acc = new Map<string, KernelTiming>();
  for (const c of configs) {
    const inner = c.kernelFunc;
    tf.unregisterKernel(c.kernelName, backendName);
    tf.registerKernel({
      ...c,
      kernelFunc: ((args: Parameters<tf.KernelFunc>[0]) => {
        const t0 = performance.now();
        const out = inner(args);
        const key = byShape ? `${c.kernelName} ${Object.values(args.inputs).map((t) => `[${(t as tf.TensorInfo).shape}]`).join(' ')}` : c.kernelName;
        const e = acc.get(key) ?? { kernel: key, calls: 0, ms: 0 };
        e.calls++;
        e.ms += performance.now() - t0;
        acc.set(key, e);
        return out;
      }) as tf.KernelFunc,
    });
  }
  return () => {
    for (const c of configs) {
      tf.unregisterKernel(c.kernelName, backendName);
      tf.registerKernel(c);
    }
    return [...acc.values()].sort((a, b) => b.ms - a.ms);
  };
}

/** Run `f` with every kernel of the current backend timed. */
export function profileKernels(f: () => void): KernelTiming[] {
  const stop = startKernelProfile();
  try {
    f();
  } catch (e) {
    stop(); // restore the kernels
    throw e;
  }
  return stop();
}

/** "Name xCalls ms (share%)" lines for the top `n` kernels. */
export function formatProfile(prof: KernelTiming[], n = 10): string[] {
  const total = prof.reduce((a, p) => a + p.ms, 0);
  return prof.slice(0, n).map((p) => `${p.kernel} x${p.calls} ${p.ms.toFixed(1)} ms (${((100 * p.ms) / total).toFixed(0)}%)`);
}
