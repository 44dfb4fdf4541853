import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  HostTensor, f16ToF32, f32ToBf16, f32ToF16, loadSafetensorsTf, readSafetensors, saveSafetensorsTf, serializeSafetensors, writeSafetensors,
} from '../lib/models/safetensors';
import { tf } from '../lib/engine';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-st-'));

/** Build a file by hand the way the reference implementation lays it out. */
function handMade(header: object, data: Buffer, file: string): string {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const p = path.join(dir, file);
  fs.writeFileSync(p, Buffer.concat([len, json, data]));
  return p;
}

test('F32 round trip is bit-exact (NaN payloads, -0, subnormals, extremes) with metadata', () => {
  const bits = new Uint32Array([0x00000000, 0x80000000, 0x00000001, 0x7f7fffff, 0xff800000, 0x7fc00001, 0x3eaaaaab, 0x807fffff]);
  const values = new Float32Array(bits.buffer);
  const rng = new Float32Array(1000).map((_, i) => Math.sin(i * 12.9898) * 43758.5453);
  const tensors = new Map<string, HostTensor>([
    ['special', { dtype: 'F32', shape: [2, 4], values }],
    ['random', { dtype: 'F32', shape: [10, 10, 10], values: rng }],
    ['scalar', { dtype: 'F32', shape: [], values: new Float32Array([3.5]) }],
    ['empty', { dtype: 'F32', shape: [0, 3], values: new Float32Array(0) }],
  ]);
  const file = path.join(dir, 'f32.safetensors');
  writeSafetensors(file, tensors, { format: 'pt', note: 'héllo' });
  const back = readSafetensors(file);
  assert.deepEqual(back.metadata, { format: 'pt', note: 'héllo' });
  assert.deepEqual(new Uint32Array((back.tensors.get('special')!.values as Float32Array).buffer), bits);
  assert.deepEqual(back.tensors.get('random')!.values, rng);
  assert.deepEqual(back.tensors.get('random')!.shape, [10, 10, 10]);
  assert.deepEqual(back.tensors.get('scalar')!.shape, []);
  assert.equal(back.tensors.get('empty')!.values.length, 0);
  // layout: header padded to a multiple of 8, data offsets contiguous from 0
  const raw = fs.readFileSync(file);
  const n = Number(raw.readBigUInt64LE(0));
  assert.equal(n % 8, 0);
  const header = JSON.parse(raw.subarray(8, 8 + n).toString());
  assert.deepEqual(header.special.data_offsets, [0, 32]);
  assert.deepEqual(header.random.data_offsets, [32, 4032]);
  assert.equal(raw.length, 8 + n + 4036);
});

test('reads F16 / BF16 / I64 / I32 written by another writer, converting halves to f32', () => {
  const f16 = Buffer.from(new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x3555, 0x7c00, 0x8000]).buffer);
  const bf16 = Buffer.from(new Uint16Array([0x3f80, 0xc040, 0x4049, 0x0000]).buffer);
  const i64 = Buffer.from(new BigInt64Array([1n, -2n, 50256n]).buffer);
  const i32 = Buffer.from(new Int32Array([7, -7]).buffer);
  const file = handMade({
    __metadata__: { format: 'pt' },
    h: { dtype: 'F16', shape: [7], data_offsets: [0, 14] },
    b: { dtype: 'BF16', shape: [2, 2], data_offsets: [14, 22] },
    l: { dtype: 'I64', shape: [3], data_offsets: [22, 46] },
    i: { dtype: 'I32', shape: [2], data_offsets: [46, 54] },
  }, Buffer.concat([f16, bf16, i64, i32]), 'mixed.safetensors');
  const { tensors } = readSafetensors(file);
  assert.deepEqual(Array.from(tensors.get('h')!.values as Float32Array), [1, -2, 65504, 2 ** -24, 0.333251953125, Infinity, -0]);
  assert.deepEqual(Array.from(tensors.get('b')!.values as Float32Array), [1, -3, 3.140625, 0]);
  assert.deepEqual(Array.from(tensors.get('l')!.values as BigInt64Array), [1n, -2n, 50256n]);
  assert.deepEqual(Array.from(tensors.get('i')!.values as Int32Array), [7, -7]);
  const { tensors: tfs } = loadSafetensorsTf(file);
  assert.equal(tfs.get('l')!.dtype, 'int32');
  assert.deepEqual(Array.from(tfs.get('l')!.dataSync()), [1, -2, 50256]);
  assert.deepEqual(tfs.get('b')!.shape, [2, 2]);
  for (const t of tfs.values()) t.dispose();
});

test('f32 -> f16 / bf16 round to nearest even (numpy values)', () => {
  assert.equal(f32ToF16(0.1), 0x2e66); // np.float16(0.1).view(np.uint16) == 11878
  assert.equal(f32ToF16(65520), 0x7c00); // rounds to inf
  assert.equal(f32ToF16(3e-8), 0x0001); // just above half of the smallest subnormal
  assert.equal(f32ToF16(2 ** -25), 0x0000); // exact tie -> even (0)
  assert.equal(f32ToF16(1 + 2 ** -11), 0x3c00); // tie between 1 and 1+2^-10 -> even
  assert.equal(f16ToF32(f32ToF16(-1.5)), -1.5);
  assert.equal(f32ToBf16(1), 0x3f80);
  assert.equal(f32ToBf16(Math.PI), 0x4049);
  assert.equal(f32ToBf16(1 + 2 ** -8), 0x3f80); // tie -> even
  assert.equal(f32ToBf16(1 + 3 * 2 ** -8), 0x3f82); // tie -> even (up)
  // F16/BF16 writing then reading gives the rounded values
  const file = path.join(dir, 'half.safetensors');
  const v = new Float32Array([0.1, -2.5, 1000]);
  writeSafetensors(file, new Map<string, HostTensor>([['h', { dtype: 'F16', shape: [3], values: v }], ['b', { dtype: 'BF16', shape: [3], values: v }]]));
  const { tensors } = readSafetensors(file);
  assert.deepEqual(Array.from(tensors.get('h')!.values as Float32Array), [0.0999755859375, -2.5, 1000]);
  assert.deepEqual(Array.from(tensors.get('b')!.values as Float32Array), [0.10009765625, -2.5, 1000]);
});

test('tf bridge round trip is bit-exact', () => {
  const file = path.join(dir, 'tf.safetensors');
  const a = tf.randomNormal([3, 5], 0, 1, 'float32', 1);
  const b = tf.tensor1d([1, 2, 3], 'int32');
  saveSafetensorsTf(file, new Map([['a', a], ['b', b]]));
  const { tensors } = loadSafetensorsTf(file);
  assert.deepEqual(tensors.get('a')!.dataSync(), a.dataSync());
  assert.equal(tensors.get('b')!.dtype, 'int32');
  assert.deepEqual(Array.from(tensors.get('b')!.dataSync()), [1, 2, 3]);
  for (const t of [a, b, ...tensors.values()]) t.dispose();
});

test('corrupt or truncated files give errors naming the file and tensor', () => {
  const good = serializeSafetensors(new Map<string, HostTensor>([['w', { dtype: 'F32', shape: [4], values: new Float32Array(4) }]]));
  const write = (name: string, buf: Buffer) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, buf);
    return p;
  };
  const trunc = write('trunc.safetensors', good.subarray(0, good.length - 3));
  assert.throws(() => readSafetensors(trunc), /trunc\.safetensors: tensor "w" data_offsets \[0, 16\] are outside the data section \(13 bytes; file truncated\?\)/);
  assert.throws(() => readSafetensors(write('tiny.safetensors', Buffer.from([1, 2]))), /tiny\.safetensors: file is 2 bytes/);
  const hugeLen = Buffer.from(good);
  hugeLen.writeBigUInt64LE(1n << 40n);
  assert.throws(() => readSafetensors(write('huge.safetensors', hugeLen)), /huge\.safetensors: header length \d+ is implausible/);
  const longLen = Buffer.from(good);
  longLen.writeBigUInt64LE(BigInt(good.length));
  assert.throws(() => readSafetensors(write('long.safetensors', longLen)), /long\.safetensors: header length .* runs past the end/);
  const badJson = Buffer.from(good);
  badJson[8] = 0x5b; // '[' at the start of the header
  assert.throws(() => readSafetensors(write('json.safetensors', badJson)), /json\.safetensors: header is not valid JSON/);
  const data = Buffer.alloc(16);
  assert.throws(() => readSafetensors(handMade({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 16] } }, data, 'size.safetensors')), /size\.safetensors: tensor "w" spans 16 bytes but shape \[3\] x F32 needs 12/);
  assert.throws(() => readSafetensors(handMade({ w: { dtype: 'Q4', shape: [4], data_offsets: [0, 16] } }, data, 'dtype.safetensors')), /dtype\.safetensors: tensor "w" has unsupported dtype "Q4"/);
  assert.throws(() => readSafetensors(handMade({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 12] }, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, data, 'overlap.safetensors')), /overlap\.safetensors: tensors "a" and "b" overlap/);
  assert.throws(() => readSafetensors(handMade({ w: { dtype: 'F32', shape: [-4], data_offsets: [0, 16] } }, data, 'shape.safetensors')), /shape\.safetensors: tensor "w" has invalid shape/);
  assert.throws(() => readSafetensors(path.join(dir, 'nope.safetensors')), /nope\.safetensors cannot be opened/);
  assert.throws(() => readSafetensors(write('good.safetensors', good), { names: ['x'] }), /good\.safetensors: no tensor "x"/);
  assert.equal(readSafetensors(path.join(dir, 'good.safetensors'), { names: ['w'] }).tensors.size, 1);
});
