/**
 * safetensors read/write (https://github.com/huggingface/safetensors, format section):
 *   [8-byte little-endian u64 N][N bytes of JSON header, space padded][raw little-endian tensor bytes]
 * header: { name: { dtype, shape, data_offsets: [begin, end] }, __metadata__?: { str: str } },
 * offsets relative to the byte buffer after the header. F16/BF16/F64 are converted to float32 on
 * read (the kit computes in f32); I64 stays BigInt64Array (toTf converts to int32 when in range).
 * Every validation error names the file and, where one is involved, the tensor.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { tf } from '../engine';

export type SafeDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';
export type HostArray = Float32Array | Int32Array | BigInt64Array | Int16Array | Int8Array | Uint8Array;

/** A tensor in host memory. `dtype` is the dtype stored (or to store) in the file. */
export interface HostTensor {
  dtype: SafeDtype;
  shape: number[];
  values: HostArray;
}

export interface SafetensorsFile {
  tensors: Map<string, HostTensor>;
  metadata: Record<string, string>;
}

const DTYPE_SIZE: Record<SafeDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };
const MAX_HEADER = 100 * 1024 * 1024; // the reference implementation's limit

function assertLittleEndian(): void {
  if (os.endianness() !== 'LE') throw new Error('safetensors: big-endian hosts are not supported');
}

const numel = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

// ---- half-precision conversions -------------------------------------------------------------

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // subnormal
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** float32 -> float16 bits, round to nearest even (as numpy / torch). */
export function f32ToF16(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00; // overflow -> inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow -> 0
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let m = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    if (rem > half || (rem === half && (m & 1))) m++;
    return sign | m;
  }
  let m = mant >>> 13;
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (m & 1))) {
    m++;
    if (m === 0x400) {
      m = 0;
      e++;
      if (e >= 31) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | m;
}

export function bf16ToF32(h: number): number {
  u32[0] = h << 16;
  return f32[0];
}

/** float32 -> bfloat16 bits, round to nearest even. */
export function f32ToBf16(x: number): number {
  f32[0] = x;
  const b = u32[0];
  if ((b & 0x7f800000) === 0x7f800000 && b & 0x7fffff) return (b >>> 16) | 0x40; // keep NaN a NaN
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

// ---- reading ----------------------------------------------------------------------------------

function decodeValues(dtype: SafeDtype, bytes: Uint8Array): HostArray {
  // `bytes` is a fresh copy (offset 0), so typed views are aligned.
  const buf = bytes.buffer;
  switch (dtype) {
    case 'F32': return new Float32Array(buf, 0, bytes.length / 4);
    case 'F64': return Float32Array.from(new Float64Array(buf, 0, bytes.length / 8));
    case 'F16': return Float32Array.from(new Uint16Array(buf, 0, bytes.length / 2), f16ToF32);
    case 'BF16': return Float32Array.from(new Uint16Array(buf, 0, bytes.length / 2), bf16ToF32);
    case 'I64': return new BigInt64Array(buf, 0, bytes.length / 8);
    case 'I32': return new Int32Array(buf, 0, bytes.length / 4);
    case 'I16': return new Int16Array(buf, 0, bytes.length / 2);
    case 'I8': return new Int8Array(buf, 0, bytes.length);
    case 'U8': case 'BOOL': return bytes;
  }
}

interface HeaderEntry { dtype: SafeDtype; shape: number[]; begin: number; end: number }

/** Validate the parsed JSON header against the data length; returns entries sorted by offset. */
function validateHeader(header: unknown, dataLength: number, file: string): { entries: Map<string, HeaderEntry>; metadata: Record<string, string> } {
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new Error(`safetensors ${file}: header is not a JSON object`);
  const entries = new Map<string, HeaderEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (v === null || typeof v !== 'object' || Object.values(v).some((x) => typeof x !== 'string')) {
        throw new Error(`safetensors ${file}: __metadata__ must map strings to strings`);
      }
      metadata = v as Record<string, string>;
      continue;
    }
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const where = `safetensors ${file}: tensor "${name}"`;
    if (typeof e?.dtype !== 'string' || !(e.dtype in DTYPE_SIZE)) throw new Error(`${where} has unsupported dtype ${JSON.stringify(e?.dtype)}`);
    if (!Array.isArray(e.shape) || e.shape.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`${where} has invalid shape ${JSON.stringify(e.shape)}`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((x) => Number.isInteger(x) && x >= 0)) throw new Error(`${where} has invalid data_offsets ${JSON.stringify(off)}`);
    const [begin, end] = off as number[];
    if (begin > end || end > dataLength) throw new Error(`${where} data_offsets [${begin}, ${end}] are outside the data section (${dataLength} bytes; file truncated?)`);
    const dtype = e.dtype as SafeDtype;
    const want = numel(e.shape as number[]) * DTYPE_SIZE[dtype];
    if (end - begin !== want) throw new Error(`${where} spans ${end - begin} bytes but shape [${e.shape}] x ${dtype} needs ${want}`);
    entries.set(name, { dtype, shape: e.shape as number[], begin, end });
  }
  const sorted = [...entries.entries()].sort((a, b) => a[1].begin - b[1].begin);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i][1].begin < sorted[i - 1][1].end) throw new Error(`safetensors ${file}: tensors "${sorted[i - 1][0]}" and "${sorted[i][0]}" overlap`);
  }
  return { entries, metadata };
}

/** Read a .safetensors file (tensor by tensor, so files above 2 GB work). `names` limits what is read. */
export function readSafetensors(file: string, opts: { names?: Iterable<string> } = {}): SafetensorsFile {
  assertLittleEndian();
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    throw new Error(`safetensors ${file} cannot be opened: ${(e as Error).message}`);
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size < 8) throw new Error(`safetensors ${file}: file is ${size} bytes, too short for the 8-byte header length`);
    const lenBuf = Buffer.alloc(8);
    fs.readSync(fd, lenBuf, 0, 8, 0);
    const n = lenBuf.readBigUInt64LE(0);
    if (n > BigInt(MAX_HEADER)) throw new Error(`safetensors ${file}: header length ${n} is implausible (corrupt file?)`);
    const headerLen = Number(n);
    if (8 + headerLen > size) throw new Error(`safetensors ${file}: header length ${headerLen} runs past the end of the ${size}-byte file (truncated?)`);
    const headerBuf = Buffer.alloc(headerLen);
    fs.readSync(fd, headerBuf, 0, headerLen, 8);
    let header: unknown;
    try {
      header = JSON.parse(headerBuf.toString('utf8'));
    } catch (e) {
      throw new Error(`safetensors ${file}: header is not valid JSON: ${(e as Error).message}`);
    }
    const dataStart = 8 + headerLen;
    const { entries, metadata } = validateHeader(header, size - dataStart, file);
    const want = opts.names ? new Set(opts.names) : null;
    if (want) for (const nm of want) if (!entries.has(nm)) throw new Error(`safetensors ${file}: no tensor "${nm}"`);
    const tensors = new Map<string, HostTensor>();
    for (const [name, e] of entries) {
      if (want && !want.has(name)) continue;
      const bytes = new Uint8Array(e.end - e.begin);
      let got = 0;
      while (got < bytes.length) {
        const r = fs.readSync(fd, bytes, got, bytes.length - got, dataStart + e.begin + got);
        if (r === 0) throw new Error(`safetensors ${file}: tensor "${name}" is truncated`);
        got += r;
      }
      tensors.set(name, { dtype: e.dtype, shape: e.shape, values: decodeValues(e.dtype, bytes) });
    }
    return { tensors, metadata };
  } finally {
    fs.closeSync(fd);
  }
}

// ---- writing ----------------------------------------------------------------------------------

function encodeValues(name: string, t: HostTensor): Uint8Array {
  const n = numel(t.shape);
  if (t.values.length !== n) throw new Error(`safetensors: tensor "${name}" has ${t.values.length} values but shape [${t.shape}] needs ${n}`);
  const v = t.values;
  const asBytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  switch (t.dtype) {
    case 'F32': return asBytes(v instanceof Float32Array ? v : Float32Array.from(v as ArrayLike<number>));
    case 'F64': return asBytes(Float64Array.from(v as ArrayLike<number>));
    case 'F16': return asBytes(Uint16Array.from(v as ArrayLike<number>, f32ToF16));
    case 'BF16': return asBytes(Uint16Array.from(v as ArrayLike<number>, f32ToBf16));
    case 'I64': return asBytes(v instanceof BigInt64Array ? v : BigInt64Array.from(v as ArrayLike<number>, (x) => BigInt(x)));
    case 'I32': return asBytes(v instanceof Int32Array ? v : Int32Array.from(v as ArrayLike<number>));
    case 'I16': return asBytes(Int16Array.from(v as ArrayLike<number>));
    case 'I8': return asBytes(Int8Array.from(v as ArrayLike<number>));
    case 'U8': case 'BOOL': return asBytes(Uint8Array.from(v as ArrayLike<number>));
  }
}

/** Header (with its 8-byte length prefix) and the data chunks, in the given tensor order. */
function layout(tensors: Map<string, HostTensor>, metadata?: Record<string, string>): Uint8Array[] {
  assertLittleEndian();
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    if (name === '__metadata__') throw new Error('safetensors: "__metadata__" is reserved and cannot name a tensor');
    const bytes = encodeValues(name, t);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8); // align the data section to 8 bytes
  const headerBytes = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerBytes.length));
  return [len, headerBytes, ...chunks];
}

/** Serialise tensors (in the given order) to safetensors bytes in memory. */
export function serializeSafetensors(tensors: Map<string, HostTensor>, metadata?: Record<string, string>): Buffer {
  return Buffer.concat(layout(tensors, metadata));
}

/**
 * Write atomically (temp file, then rename): a crash leaves the old file or the new one, never
 * half of one. Written chunk by chunk, so files larger than one Buffer (gpt2-xl) work.
 */
export function writeSafetensors(file: string, tensors: Map<string, HostTensor>, metadata?: Record<string, string>): void {
  const parts = layout(tensors, metadata);
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      for (const p of parts) {
        let done = 0;
        while (done < p.length) done += fs.writeSync(fd, p, done, p.length - done);
      }
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

// ---- tf bridges -------------------------------------------------------------------------------

/** tf tensors -> host tensors (float32 -> F32, int32 -> I32, bool -> BOOL). Reads data synchronously. */
export function tfToHost(map: Map<string, tf.Tensor>): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [name, t] of map) {
    const shape = t.shape.slice();
    if (t.dtype === 'float32') out.set(name, { dtype: 'F32', shape, values: t.dataSync() as Float32Array });
    else if (t.dtype === 'int32') out.set(name, { dtype: 'I32', shape, values: t.dataSync() as Int32Array });
    else if (t.dtype === 'bool') out.set(name, { dtype: 'BOOL', shape, values: Uint8Array.from(t.dataSync() as Uint8Array) });
    else throw new Error(`safetensors: tensor "${name}" has dtype ${t.dtype}, which cannot be saved`);
  }
  return out;
}

/** Host tensor -> tf tensor: floats as float32, integers as int32 (I64 must fit in int32). */
export function hostToTf(name: string, t: HostTensor, file = '<memory>'): tf.Tensor {
  const v = t.values;
  if (v instanceof Float32Array) return tf.tensor(v, t.shape, 'float32');
  if (v instanceof BigInt64Array) {
    const out = new Int32Array(v.length);
    for (let i = 0; i < v.length; i++) {
      if (v[i] > 2147483647n || v[i] < -2147483648n) throw new Error(`safetensors ${file}: tensor "${name}" (I64) has value ${v[i]} outside int32`);
      out[i] = Number(v[i]);
    }
    return tf.tensor(out, t.shape, 'int32');
  }
  if (t.dtype === 'BOOL') return tf.tensor(Uint8Array.from(v as Uint8Array), t.shape, 'bool');
  return tf.tensor(Int32Array.from(v as ArrayLike<number>), t.shape, 'int32');
}

/** Read a file straight into tf tensors (caller disposes). */
export function loadSafetensorsTf(file: string): { tensors: Map<string, tf.Tensor>; metadata: Record<string, string> } {
  const { tensors, metadata } = readSafetensors(file);
  const out = new Map<string, tf.Tensor>();
  for (const [name, t] of tensors) out.set(name, hostToTf(name, t, file));
  return { tensors: out, metadata };
}

/** Write tf tensors as a safetensors file (atomic). */
export function saveSafetensorsTf(file: string, map: Map<string, tf.Tensor>, metadata?: Record<string, string>): void {
  writeSafetensors(file, tfToHost(map), metadata);
}
