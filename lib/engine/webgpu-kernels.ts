/**
 * Kernels the kit registers for the webgpu backend where tfjs-backend-webgpu 4.22's own are wrong.
 *
 * UnsortedSegmentSum (scatter-add; tf.gather's gradient, i.e. every embedding gradient, and the
 * log-prob gradient in ops.ts): the stock shader reads int32 inputs as f32 and bitcasts them, so an
 * int32 sum returns float bit patterns (measured: [1,2,3] into segments [0,0,2] gave 2139095040),
 * and it wraps segment ids >= numSegments (id % numSegments) where TF, and the kit's cpu/wasm
 * kernel (kernels.ts), drop them. It also transposes x first. This one is a single pass, one thread
 * per element of x, over x in place: out[seg[i], j] += x[i, j] with an atomic add (int32) or a
 * compare-exchange loop (f32: WGSL has no float atomics), rows with an id outside [0, numSegments)
 * dropped.
 *
 * AddN (gradient accumulation of a tensor used many times): one shader binds every input as a
 * storage buffer, and a compatibility adapter allows 16 per stage (17 inputs failed pipeline
 * validation on llvmpipe). Ours adds in chunks that fit the device's limit.
 */
import * as tf from '@tensorflow/tfjs';

interface WebGPUUtil {
  flatDispatchLayout(shape: number[]): { x: number[] };
  computeDispatch(layout: { x: number[] }, shape: number[], workgroupSize: [number, number, number]): [number, number, number];
}
interface WebGPUBackendLike {
  device: { limits: { maxStorageBuffersPerShaderStage: number } };
  runWebGPUProgram(program: object, inputs: tf.TensorInfo[], dtype: tf.DataType, uniforms: { type: string; data: number[] }[], output: tf.TensorInfo): tf.TensorInfo;
  disposeData(id: object): void;
}

class SegmentSumProgram {
  variableNames = ['x', 'segmentIds'];
  uniforms = 'numSegments : i32, inner : i32, xSize : i32,';
  workgroupSize: [number, number, number] = [64, 1, 1];
  atomic = true;
  outputShape: number[];
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  shaderKey: string;
  private readonly isInt: boolean;

  constructor(util: WebGPUUtil, rows: number, inner: number, numSegments: number, dtype: tf.DataType) {
    this.outputShape = [numSegments, inner];
    this.dispatchLayout = util.flatDispatchLayout([rows, inner]);
    this.dispatch = util.computeDispatch(this.dispatchLayout, [rows, inner], this.workgroupSize);
    this.isInt = dtype === 'int32';
    this.shaderKey = `rarlhfSegmentSum_${dtype}`;
  }

  getUserCode(): string {
    const add = this.isInt
      ? 'atomicAdd(&result[flat], x[index]);'
      : `var old = atomicLoad(&result[flat]);
          loop {
            let res = atomicCompareExchangeWeak(&result[flat], old, bitcast<i32>(bitcast<f32>(old) + x[index]));
            if (res.exchanged) { break; }
            old = res.old_value;
          }`;
    return `
      fn main(index : i32) {
        if (index < uniforms.xSize) {
          let row = index / uniforms.inner;
          let s = segmentIds[row];
          if (s >= 0 && s < uniforms.numSegments) {
            let flat = s * uniforms.inner + (index - row * uniforms.inner);
            ${add}
          }
        }
      }`;
  }
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };
const kernel = (name: string) => {
  const k = tf.getKernel(name, 'webgpu');
  if (!k) throw new Error(`webgpu kernel ${name} is not registered`);
  return k.kernelFunc as unknown as (a: KernelArgs) => tf.TensorInfo;
};

let registered = false;
/** Replace the stock webgpu kernels above (once; needs tfjs-backend-webgpu imported). */
export function registerWebGPUKernels(util: WebGPUUtil): void {
  if (registered) return;
  registered = true;
  const fill = kernel('Fill');
  const addN = kernel('AddN');
  tf.unregisterKernel('AddN', 'webgpu');
  tf.registerKernel({
    kernelName: 'AddN',
    backendName: 'webgpu',
    kernelFunc: ((args: KernelArgs) => {
      const backend = args.backend as WebGPUBackendLike;
      const maxIn = Math.max(2, backend.device.limits.maxStorageBuffersPerShaderStage - 1); // one binding is the output
      let xs = args.inputs as unknown as tf.TensorInfo[];
      const temps: tf.TensorInfo[] = [];
      while (xs.length > maxIn) {
        const next: tf.TensorInfo[] = [];
        for (let i = 0; i < xs.length; i += maxIn) {
          const chunk = xs.slice(i, i + maxIn);
          if (chunk.length === 1) next.push(chunk[0]);
          else {
            const sum = addN({ inputs: chunk as unknown as tf.NamedTensorInfoMap, backend });
            temps.push(sum);
            next.push(sum);
          }
        }
        xs = next;
      }
      const out = addN({ inputs: xs as unknown as tf.NamedTensorInfoMap, backend });
      for (const x of temps) backend.disposeData(x.dataId);
      return out;
    }) as unknown as tf.KernelFunc,
  });
  const reshape = kernel('Reshape');
  tf.unregisterKernel('UnsortedSegmentSum', 'webgpu');
  tf.registerKernel({
    kernelName: 'UnsortedSegmentSum',
    backendName: 'webgpu',
    kernelFunc: ((args: KernelArgs) => {
      const { x, segmentIds } = args.inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
      const numSegments = (args.attrs as { numSegments: number }).numSegments;
      const backend = args.backend as WebGPUBackendLike;
      if (x.dtype !== 'float32' && x.dtype !== 'int32') throw new Error(`UnsortedSegmentSum on webgpu: dtype ${x.dtype} is not supported`);
      const rows = tf.util.sizeFromShape(segmentIds.shape);
      const xSize = tf.util.sizeFromShape(x.shape);
      const innerShape = x.shape.slice(segmentIds.shape.length);
      const inner = tf.util.sizeFromShape(innerShape);
      const out2d = fill({ inputs: {}, backend, attrs: { shape: [numSegments, inner], value: 0, dtype: x.dtype } });
      if (rows > 0 && inner > 0) {
        const program = new SegmentSumProgram(util, rows, inner, numSegments, x.dtype);
        backend.runWebGPUProgram(program, [x, segmentIds], x.dtype, [{ type: 'int32', data: [numSegments] }, { type: 'int32', data: [inner] }, { type: 'int32', data: [xSize] }], out2d);
      }
      const out = reshape({ inputs: { x: out2d }, backend, attrs: { shape: [numSegments, ...innerShape] } });
      backend.disposeData(out2d.dataId);
      return out;
    }) as unknown as tf.KernelFunc,
  });
}
