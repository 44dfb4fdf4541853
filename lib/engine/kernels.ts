/**
 * UnsortedSegmentSum (scatter-add) for the wasm and cpu backends. tf.gather's gradient (the
 * embedding lookup) calls it; wasm has no such kernel and cpu's loops once per segment, which is
 * unusable for a 50k vocabulary. This one is a single pass over the data.
 */
import * as tf from '@tensorflow/tfjs';

interface ReadableBackend {
  readSync(dataId: unknown): ArrayLike<number>;
}
interface WasmLike extends ReadableBackend {
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: ArrayLike<number>): tf.TensorInfo;
}
interface CpuLike extends ReadableBackend {
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: ArrayLike<number>): tf.TensorInfo;
}

/** Pure scatter-add: out[seg[i], j] += x[i, j]; rows with a segment id outside [0, numSegments) are dropped (as TF). */
export function segmentSum(x: ArrayLike<number>, segmentIds: ArrayLike<number>, numSegments: number, isInt: boolean): Float32Array | Int32Array {
  const n = segmentIds.length;
  const inner = n === 0 ? 0 : x.length / n;
  const out = isInt ? new Int32Array(numSegments * inner) : new Float32Array(numSegments * inner);
  for (let i = 0; i < n; i++) {
    const s = segmentIds[i];
    if (s < 0 || s >= numSegments) continue;
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) out[dst + j] += x[src + j];
  }
  return out;
}

function kernelFunc(backendName: string, args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const { x, segmentIds } = args.inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const numSegments = (args.attrs as { numSegments: number }).numSegments;
  const backend = args.backend as ReadableBackend;
  const nIds = segmentIds.shape.reduce((p, d) => p * d, 1);
  // Output: [numSegments, ...x.shape after the segmentIds dims]
  const outShape = [numSegments, ...x.shape.slice(segmentIds.shape.length)];
  const values = segmentSum(backend.readSync(x.dataId), backend.readSync(segmentIds.dataId), numSegments, x.dtype === 'int32');
  if (nIds === 0) values.fill(0);
  // (cpu also has a makeOutput, with a different signature, so dispatch on the backend name)
  if (backendName === 'wasm') return (backend as WasmLike).makeOutput(outShape, x.dtype, undefined, values);
  return (backend as CpuLike).makeTensorInfo(outShape, x.dtype, values);
}

let registered = false;
/** Register (once) for every backend name that is present; replaces cpu's slow version. */
export function registerSegmentSumKernels(): void {
  if (registered) return;
  registered = true;
  for (const backendName of ['wasm', 'cpu']) {
    if (tf.getKernel('UnsortedSegmentSum', backendName)) tf.unregisterKernel('UnsortedSegmentSum', backendName);
    tf.registerKernel({ kernelName: 'UnsortedSegmentSum', backendName, kernelFunc: ((args: Parameters<typeof kernelFunc>[1]) => kernelFunc(backendName, args)) as unknown as tf.KernelFunc });
  }
}
