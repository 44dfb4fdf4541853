/**
 * Kernel-level profile: wraps every kernel registered for the active backend with a wall-clock
 * timer (the wasm and cpu backends run kernels synchronously, so the time is the kernel's own).
 * Used by `rarlhf bench profile` to decide which kernels deserve a native implementation.
 */
import * as tf from '@tensorflow/tfjs';

export interface KernelTiming {
  kernel: string;
  calls: number;
  ms: number;
}

/** Run `f` with every kernel of the current backend timed; returns timings sorted by total time. */
export function profileKernels(f: () => void): KernelTiming[] {
  const backendName = tf.getBackend();
  const configs = tf.getKernelsForBackend(backendName);
  const acc = new Map<string, KernelTiming>();
  for (const c of configs) {
    const inner = c.kernelFunc;
    tf.unregisterKernel(c.kernelName, backendName);
    tf.registerKernel({
      ...c,
      kernelFunc: ((args: Parameters<tf.KernelFunc>[0]) => {
        const t0 = performance.now();
        const out = inner(args);
        const key = process.env.RARLHF_PROFILE_SHAPES ? `${c.kernelName} ${Object.values(args.inputs).map((t) => `[${(t as tf.TensorInfo).shape}]`).join(" ")}` : c.kernelName;
        const e = acc.get(key) ?? { kernel: key, calls: 0, ms: 0 };
        e.calls++;
        e.ms += performance.now() - t0;
        acc.set(key, e);
        return out;
      }) as tf.KernelFunc,
    });
  }
  try {
    f();
  } finally {
    for (const c of configs) {
      tf.unregisterKernel(c.kernelName, backendName);
      tf.registerKernel(c);
    }
  }
  return [...acc.values()].sort((a, b) => b.ms - a.ms);
}
