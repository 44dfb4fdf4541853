/**
 * Shared by the webgpu tests: register the backend on whatever adapter Dawn finds (the software
 * one, Mesa llvmpipe through OpenGL ES, on CI), run the same code on wasm and on webgpu, compare.
 * No adapter: the tests skip and say why, except under CI=true, where they fail.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import '@tensorflow/tfjs-backend-wasm'; // the reference backend, even where the engine chose webgpu
import { initEngine, registerWebGPU, tf, type WebGPUProbe } from '../lib/engine';

let probe: WebGPUProbe | null = null;

export async function setupWebGPU(): Promise<WebGPUProbe> {
  await initEngine({ quiet: true });
  probe ??= await registerWebGPU({ allowSoftware: true });
  return probe;
}

/** True when the test can run; otherwise skips it (fails under CI=true). */
export function needWebGPU(t: TestContext): boolean {
  assert.ok(probe, 'setupWebGPU() first');
  if (probe.ok) return true;
  if (process.env.CI === 'true') assert.fail(`CI must run the webgpu tests, but no adapter could be created: ${probe.reason}`);
  t.skip(`no WebGPU adapter on this machine: ${probe.reason}`);
  return false;
}

/** Run `f` on wasm, then on webgpu (back to the engine's backend after); f returns plain data. */
export async function onBoth<T>(f: () => T | Promise<T>): Promise<{ ref: T; gpu: T }> {
  const prev = tf.getBackend();
  try {
    await tf.setBackend('wasm');
    const ref = await f();
    await tf.setBackend('webgpu');
    const gpu = await f();
    return { ref, gpu };
  } finally {
    await tf.setBackend(prev);
  }
}

export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'lengths differ');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Largest absolute value: a comparison of two all-zero outputs would prove nothing. */
export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Values of a tensor (or tensors) as plain arrays, disposed after. */
export function values(...ts: tf.Tensor[]): Float32Array[] {
  const out = ts.map((t) => Float32Array.from(t.dataSync()));
  tf.dispose(ts);
  return out;
}
