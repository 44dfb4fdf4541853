/**
 * What kernels working on tfjs-backend-wasm's heap need (the backend's tensor map, offsets, heap
 * views), and the block-copy kernels that need nothing more than that: Concat, SplitV, Slice and
 * Identity. wasm's own copy element by element (Identity copies at all); these copy contiguous runs
 * through typed-array views, at memcpy speed. Registered by native.ts with the native kernels.
 */
import * as tf from '@tensorflow/tfjs';

/** The parts of tfjs-backend-wasm's BackendWasm the kernels use. */
export interface WasmBackend {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(id: unknown): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

export type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };
/** Replace kernel `name` for wasm; `make` gets the stock kernel function to fall back to. */
export type Override = (kernelName: string, make: (stock: tf.KernelFunc | undefined) => tf.KernelFunc) => void;
export type StockOr = (stock: tf.KernelFunc | undefined, args: KernelArgs, name: string) => tf.TensorInfo | tf.TensorInfo[];

export const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
export const off = (be: WasmBackend, t: tf.TensorInfo) => be.dataIdMap.get(t.dataId).memoryOffset;
// The heap buffer is read after every makeOutput: an allocation can grow (and replace) it.
export const heap = (be: WasmBackend) => be.wasm.HEAPU8.buffer as ArrayBuffer;
// Uint32 views: a 4-byte copy with no float conversion, for float32 and int32 alike.
const view = (be: WasmBackend, t: tf.TensorInfo) => new Uint32Array(heap(be), off(be, t), size(t.shape));

export function registerCopyKernels(override: Override, stockOr: StockOr): void {
  override('Concat', (stock) => ((args: KernelArgs) => {
    const xs = Object.values(args.inputs) as tf.TensorInfo[];
    const dtype = xs[0]?.dtype;
    if (!xs.length || (dtype !== 'float32' && dtype !== 'int32') || xs.some((x) => x.dtype !== dtype)) return stockOr(stock, args, 'Concat');
    const ax = tf.util.parseAxisParam((args.attrs as { axis: number }).axis, xs[0].shape)[0];
    const outShape = tf.backend_util.computeOutShape(xs.map((x) => x.shape), ax);
    const be = args.backend as WasmBackend;
    const out = be.makeOutput(outShape, dtype);
    const outer = size(outShape.slice(0, ax)), rowOut = size(outShape.slice(ax));
    const dst = view(be, out);
    let col = 0;
    for (const x of xs) {
      const row = size(x.shape.slice(ax));
      if (row === 0) continue;
      const src = view(be, x);
      for (let o = 0; o < outer; o++) dst.set(src.subarray(o * row, (o + 1) * row), o * rowOut + col);
      col += row;
    }
    return out;
  }) as unknown as tf.KernelFunc);

  override('SplitV', (stock) => ((args: KernelArgs) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (x.dtype !== 'float32' && x.dtype !== 'int32') return stockOr(stock, args, 'SplitV');
    const { numOrSizeSplits, axis } = args.attrs as { numOrSizeSplits: number | number[]; axis: number };
    const ax = tf.util.parseAxisParam(axis, x.shape)[0];
    const sizes = tf.backend_util.prepareSplitSize(x, numOrSizeSplits, ax);
    const be = args.backend as WasmBackend;
    const outs = sizes.map((d) => be.makeOutput(x.shape.map((s0, i) => (i === ax ? d : s0)), x.dtype));
    const outer = size(x.shape.slice(0, ax)), rowIn = size(x.shape.slice(ax)), inner = size(x.shape.slice(ax + 1));
    const src = view(be, x);
    let col = 0;
    outs.forEach((o, k) => {
      const row = sizes[k] * inner;
      const dst = view(be, o);
      for (let r = 0; r < outer; r++) dst.set(src.subarray(r * rowIn + col, r * rowIn + col + row), r * row);
      col += row;
    });
    return outs;
  }) as unknown as tf.KernelFunc);

  // Slice: contiguous runs copied whole (the dims after the last partial one are full).
  override('Slice', (stock) => ((args: KernelArgs) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (x.dtype !== 'float32' && x.dtype !== 'int32') return stockOr(stock, args, 'Slice');
    const a = args.attrs as { begin: number | number[]; size: number | number[] };
    const [begin, sz] = tf.slice_util.parseSliceParams(x, a.begin, a.size);
    tf.slice_util.assertParamsValid(x, begin, sz);
    const be = args.backend as WasmBackend;
    const out = be.makeOutput(sz, x.dtype);
    const n = size(sz);
    if (n === 0) return out;
    const r = x.shape.length;
    let k = r - 1;
    while (k >= 0 && sz[k] === x.shape[k]) k--;
    const src = view(be, x), dst = view(be, out);
    if (k < 0) {
      dst.set(src);
      return out;
    }
    const strides = tf.util.computeStrides(x.shape).concat([1]);
    const run = sz[k] * strides[k];
    const idx = new Array<number>(k).fill(0);
    for (let o = 0; o < n; o += run) {
      let from = begin[k] * strides[k];
      for (let i = 0; i < k; i++) from += (begin[i] + idx[i]) * strides[i];
      dst.set(src.subarray(from, from + run), o);
      for (let i = k - 1; i >= 0; i--) {
        if (++idx[i] < sz[i]) break;
        idx[i] = 0;
      }
    }
    return out;
  }) as unknown as tf.KernelFunc);

  // Tensors are immutable, so Identity can share the buffer, as Reshape does.
  override('Identity', (stock) => ((args: KernelArgs) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (x.dtype === 'string') return stockOr(stock, args, 'Identity');
    (args.backend as { incRef(id: unknown): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  }) as unknown as tf.KernelFunc);
}
