/**
 * Kernels the kit registers for the webgpu backend where tfjs-backend-webgpu 4.22's own are wrong.
 *
 * UnsortedSegmentSum (scatter-add; tf.gather's gradient, i.e. every embedding gradient, and the
 * log-prob gradient in ops.ts): the stock shader reads int32 inputs as f32 and bitcasts them, so an
 * int32 sum returns float bit patterns (measured: [1,2,3] into segments [0,0,2] gave 2139095040),
 * it wraps segment ids >= numSegments (id % numSegments) where TF and the kit's cpu/wasm kernel
 * (kernels.ts) drop them, and its float atomics (a compare-exchange loop) add in whatever order the
 * threads come: run to run the sums differed by 1.5e-4 (4000 rows into 3 segments), which broke
 * the kit's "seeded runs are identical on a backend" (rl-trainer's RLHF = RA-RLHF at alpha 1).
 * Ours is deterministic and has no atomics: the ids (small, usually still on the CPU) are read,
 * rows sorted by segment on the CPU (stable), and one GPU thread per (segment, column) adds its
 * rows in index order, as the cpu kernel does; ids outside [0, numSegments) are dropped.
 *
 * Fused log-probs (RarlhfLogprob / RarlhfLogprobGrad, used by ops.ts logprobRows on webgpu): one
 * workgroup per row reduces max and sum(exp) in shared memory; forward writes log p(label), the
 * gradient dy (onehot - softmax) straight into [N, V]. The stock composition keeps shifted logits,
 * exp and the softmax alive ([N, V] each: 2.9 GB apiece for a paper minibatch of 128 x 111 x 50257)
 * and scatters the one-hot through UnsortedSegmentSum (a read back of the indices).
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

interface WebGPUBackendFull extends WebGPUBackendLike {
  readSync(id: object): ArrayLike<number>;
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: ArrayLike<number>): tf.TensorInfo;
}

/** out[segs[u], j] = sum over k in [starts[u], starts[u+1]) of x[rows[k], j], in k order. */
class SortedSegmentSumProgram {
  variableNames = ['x', 'rows', 'starts', 'segs'];
  uniforms = 'inner : i32, work : i32,';
  workgroupSize: [number, number, number] = [64, 1, 1];
  outputShape: number[];
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  shaderKey: string;
  private readonly type: string;

  constructor(util: WebGPUUtil, unique: number, inner: number, numSegments: number, dtype: tf.DataType) {
    this.outputShape = [numSegments, inner];
    this.dispatchLayout = util.flatDispatchLayout([unique, inner]);
    this.dispatch = util.computeDispatch(this.dispatchLayout, [unique, inner], this.workgroupSize);
    this.type = dtype === 'int32' ? 'i32' : 'f32';
    this.shaderKey = `rarlhfSortedSegmentSum_${dtype}`;
  }

  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.work) {
          let u = index / uniforms.inner;
          let j = index - u * uniforms.inner;
          var acc = ${this.type}(0);
          for (var k = starts[u]; k < starts[u + 1]; k = k + 1) {
            acc = acc + x[rows[k] * uniforms.inner + j];
          }
          result[segs[u] * uniforms.inner + j] = acc;
        }
      }`;
  }
}

/** Valid rows sorted by segment (stable), the distinct segments and where each one's rows start. */
export function segmentPlan(ids: ArrayLike<number>, numSegments: number): { rows: Int32Array; starts: Int32Array; segs: Int32Array } {
  const valid: number[] = [];
  for (let i = 0; i < ids.length; i++) if (ids[i] >= 0 && ids[i] < numSegments) valid.push(i);
  valid.sort((a, b) => ids[a] - ids[b] || a - b);
  const segs: number[] = [];
  const starts: number[] = [];
  valid.forEach((r, k) => {
    if (k === 0 || ids[r] !== ids[valid[k - 1]]) {
      segs.push(ids[r]);
      starts.push(k);
    }
  });
  starts.push(valid.length);
  return { rows: Int32Array.from(valid), starts: Int32Array.from(starts), segs: Int32Array.from(segs) };
}

const LOGPROB_WG = 256;
/** Row-wise log-softmax at the label: 'forward' -> [N], 'grad' -> dy (onehot - softmax) [N, V]. */
class LogprobProgram {
  variableNames: string[];
  uniforms = 'V : i32, N : i32,';
  workgroupSize: [number, number, number] = [LOGPROB_WG, 1, 1];
  outputShape: number[];
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  shaderKey: string;

  constructor(util: WebGPUUtil, N: number, V: number, private readonly mode: 'forward' | 'grad') {
    this.variableNames = mode === 'forward' ? ['logits', 'labels'] : ['logits', 'labels', 'dy'];
    this.outputShape = mode === 'forward' ? [N] : [N, V];
    this.dispatchLayout = util.flatDispatchLayout([N]);
    this.dispatch = util.computeDispatch(this.dispatchLayout, [N], [1, 1, 1]); // one workgroup per row
    this.shaderKey = `rarlhfLogprob_${mode}`;
  }

  getUserCode(): string {
    const W = LOGPROB_WG;
    const tree = (op: string) => `
          for (var s = ${W / 2}; s > 0; s = s / 2) {
            if (lane < s) { red[lane] = ${op}; }
            workgroupBarrier();
          }`;
    const write = this.mode === 'forward'
      ? `if (lane == 0 && row0 < uniforms.N) { result[row] = logits[base + labels[row]] - lse; }`
      : `if (row0 < uniforms.N) {
            let d = dy[row];
            let y = labels[row];
            for (var k = lane; k < V; k = k + ${W}) {
              var g = -exp(logits[base + k] - lse) * d;
              if (k == y) { g = g + d; }
              result[base + k] = g;
            }
          }`;
    return `
      var<workgroup> red : array<f32, ${W}>;
      fn main(index : i32) {
        let row0 = index / ${W};
        let row = min(row0, uniforms.N - 1); // workgroups past the last row (a reshaped dispatch) read row N-1, write nothing
        let lane = i32(localId.x);
        let V = uniforms.V;
        let base = row * V;
        var m = -3.402823e38;
        for (var k = lane; k < V; k = k + ${W}) { m = max(m, logits[base + k]); }
        red[lane] = m;
        workgroupBarrier();
        ${tree('max(red[lane], red[lane + s])')}
        let mx = red[0];
        workgroupBarrier();
        var z = 0.0;
        for (var k = lane; k < V; k = k + ${W}) { z = z + exp(logits[base + k] - mx); }
        red[lane] = z;
        workgroupBarrier();
        ${tree('red[lane] + red[lane + s]')}
        let lse = mx + log(red[0]);
        ${write}
      }`;
  }
}

/** Kernel names of the fused log-prob pair (ops.ts calls them when registered for the active backend). */
export const WEBGPU_LOGPROB = { forward: 'RarlhfLogprobWebGPU', grad: 'RarlhfLogprobGradWebGPU' } as const;

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
  for (const mode of ['forward', 'grad'] as const) {
    tf.registerKernel({
      kernelName: WEBGPU_LOGPROB[mode],
      backendName: 'webgpu',
      kernelFunc: ((args: KernelArgs) => {
        const { logits, labels, dy } = args.inputs as { logits: tf.TensorInfo; labels: tf.TensorInfo; dy?: tf.TensorInfo };
        const [N, V] = logits.shape;
        const backend = args.backend as WebGPUBackendLike & { runWebGPUProgram(p: object, i: tf.TensorInfo[], d: tf.DataType, u: { type: string; data: number[] }[]): tf.TensorInfo };
        const inputs = mode === 'forward' ? [logits, labels] : [logits, labels, dy!];
        return backend.runWebGPUProgram(new LogprobProgram(util, N, V, mode), inputs, 'float32', [{ type: 'int32', data: [V] }, { type: 'int32', data: [N] }]);
      }) as unknown as tf.KernelFunc,
    });
  }
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
      const innerShape = x.shape.slice(segmentIds.shape.length);
      const inner = tf.util.sizeFromShape(innerShape);
      const out2d = fill({ inputs: {}, backend, attrs: { shape: [numSegments, inner], value: 0, dtype: x.dtype } });
      const full = backend as WebGPUBackendFull;
      const plan = segmentPlan(full.readSync(segmentIds.dataId), numSegments);
      if (plan.segs.length > 0 && inner > 0) {
        const aux = [full.makeTensorInfo([plan.rows.length], 'int32', plan.rows), full.makeTensorInfo([plan.starts.length], 'int32', plan.starts), full.makeTensorInfo([plan.segs.length], 'int32', plan.segs)];
        const program = new SortedSegmentSumProgram(util, plan.segs.length, inner, numSegments, x.dtype);
        backend.runWebGPUProgram(program, [x, ...aux], x.dtype, [{ type: 'int32', data: [inner] }, { type: 'int32', data: [plan.segs.length * inner] }], out2d);
        for (const t of aux) backend.disposeData(t.dataId);
      }
      const out = reshape({ inputs: { x: out2d }, backend, attrs: { shape: [numSegments, ...innerShape] } });
      backend.disposeData(out2d.dataId);
      return out;
    }) as unknown as tf.KernelFunc,
  });
}
