/**
 * Synchronous GPU -> CPU reads for Dawn in Node (what `tensor.dataSync()` needs on the webgpu
 * backend; tfjs-backend-webgpu's own readSync draws through an OffscreenCanvas, which Node lacks).
 *
 * dawn.node settles its promises (buffer.mapAsync included) from a function it schedules with the
 * global `setImmediate`: that function runs `wgpu::Instance::ProcessEvents()`, and Dawn never
 * completes a map without it, however long one spins (measured: 11.8 M submits in 2 s, still
 * 'pending'). Any such function does the same thing (each call just processes the instance's
 * events), so this module wraps `setImmediate` while Dawn is being called from here, keeps the
 * function Dawn passes, and calls it in a loop until the buffer is mapped. Nothing else is
 * captured: outside `captureDawnTick` / `waitMapped` the wrapper only forwards.
 */

type Tick = () => void;
type SetImmediate = typeof globalThis.setImmediate;

let realSetImmediate: SetImmediate | null = null;
let tick: Tick | null = null;
/** 'capture': keep the function and forward it; 'spin': keep it and run it ourselves. */
let mode: 'off' | 'capture' | 'spin' = 'off';
let swallowed = false;

function install(): void {
  if (realSetImmediate) return;
  const real = globalThis.setImmediate;
  realSetImmediate = real;
  const wrapper = function (this: unknown, fn: unknown, ...args: unknown[]) {
    if (mode !== 'off' && typeof fn === 'function') {
      tick = () => (fn as (...a: unknown[]) => void)(...args);
      if (mode === 'spin') {
        swallowed = true;
        return undefined;
      }
    }
    return (real as unknown as (...a: unknown[]) => unknown).call(this, fn, ...args);
  };
  // keep setImmediate's own properties (util.promisify.custom and the like)
  for (const key of Reflect.ownKeys(real)) {
    if (key === 'length' || key === 'name' || key === 'prototype') continue;
    const d = Object.getOwnPropertyDescriptor(real, key);
    if (d) Object.defineProperty(wrapper, key, d);
  }
  globalThis.setImmediate = wrapper as unknown as SetImmediate;
}

/** Run `f` (an async Dawn call such as requestAdapter) and keep the event function Dawn schedules. */
export function captureDawnTick<T>(f: () => T): T {
  install();
  const prev = mode;
  mode = 'capture';
  try {
    return f();
  } finally {
    mode = prev;
  }
}

/** True once a Dawn event function has been captured (a synchronous read is possible). */
export function canReadSync(): boolean {
  return tick !== null;
}

interface MappableBuffer {
  mapAsync(mode: number, offset?: number, size?: number): Promise<void>;
  readonly mapState: string;
}

/**
 * Map `buffer` for reading and wait for it synchronously. Throws after `timeoutMs` (the GPU work
 * before the read has to finish first, so a long queue takes as long as it takes on the GPU).
 */
export function waitMapped(buffer: MappableBuffer, mapMode: number, timeoutMs = 120_000): void {
  install();
  const prev = mode;
  mode = 'spin';
  swallowed = false;
  let failure: unknown = null;
  try {
    buffer.mapAsync(mapMode).catch((e: unknown) => {
      failure = e;
    });
    const t0 = Date.now();
    let n = 0;
    while (buffer.mapState !== 'mapped') {
      if (failure || buffer.mapState === 'unmapped') throw new Error(`webgpu: buffer map failed (${(failure as Error | null)?.message ?? 'unmapped'})`);
      if (!tick) throw new Error('webgpu: no Dawn event function captured, so data cannot be read synchronously; use `await tensor.data()`');
      tick();
      // check the clock every 1024 rounds only: Date.now() costs more than an empty ProcessEvents
      if ((++n & 1023) === 0 && Date.now() - t0 > timeoutMs) throw new Error(`webgpu: synchronous read timed out after ${timeoutMs} ms`);
    }
  } finally {
    mode = prev;
    // Dawn asked to be called back while we spun: hand one call to the real event loop so the
    // promises it still has (other reads, pipeline creation) keep settling.
    if (swallowed && tick && realSetImmediate) realSetImmediate(tick);
    swallowed = false;
  }
}
