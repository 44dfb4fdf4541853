/**
 * Test fixtures for lib/data: a minimal parquet writer (one row group, REQUIRED columns, PLAIN
 * encoding, uncompressed, data page v1, thrift compact footer) so the hyparquet path is tested on
 * a real file without a parquet-writing dependency. Column types: string -> BYTE_ARRAY/UTF8,
 * number -> INT64.
 */

class Compact {
  bytes: number[] = [];
  private last: number[] = [0];
  varint(n: bigint): void {
    let v = n;
    do {
      let b = Number(v & 0x7fn);
      v >>= 7n;
      if (v > 0n) b |= 0x80;
      this.bytes.push(b);
    } while (v > 0n);
  }
  zigzag(n: number): void {
    const v = BigInt(n);
    this.varint(v >= 0n ? v << 1n : ((-v) << 1n) - 1n);
  }
  field(id: number, type: number): void {
    const delta = id - this.last[this.last.length - 1];
    if (delta > 0 && delta <= 15) this.bytes.push((delta << 4) | type);
    else {
      this.bytes.push(type);
      this.zigzag(id);
    }
    this.last[this.last.length - 1] = id;
  }
  i32(id: number, v: number): void {
    this.field(id, 5);
    this.zigzag(v);
  }
  i64(id: number, v: number): void {
    this.field(id, 6);
    this.zigzag(v);
  }
  str(id: number, s: string): void {
    this.field(id, 8);
    this.binary(s);
  }
  binary(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.varint(BigInt(b.length));
    this.bytes.push(...b);
  }
  list(id: number, elemType: number, n: number, each: (i: number) => void): void {
    this.field(id, 9);
    if (n < 15) this.bytes.push((n << 4) | elemType);
    else {
      this.bytes.push(0xf0 | elemType);
      this.varint(BigInt(n));
    }
    for (let i = 0; i < n; i++) each(i);
  }
  struct(id: number | null, body: () => void): void {
    if (id !== null) this.field(id, 12);
    this.last.push(0);
    body();
    this.bytes.push(0);
    this.last.pop();
  }
}

export function writeParquet(columns: Record<string, (string | number)[]>): Buffer {
  const names = Object.keys(columns);
  const nRows = columns[names[0]].length;
  const isStr = names.map((n) => typeof columns[n][0] === 'string');
  const chunks: Buffer[] = [Buffer.from('PAR1')];
  let offset = 4;
  const meta: { offset: number; size: number }[] = [];
  names.forEach((name, c) => {
    const data = Buffer.concat(
      columns[name].map((v) => {
        if (isStr[c]) {
          const s = Buffer.from(String(v), 'utf8');
          const len = Buffer.alloc(4);
          len.writeUInt32LE(s.length);
          return Buffer.concat([len, s]);
        }
        const b = Buffer.alloc(8);
        b.writeBigInt64LE(BigInt(v as number));
        return b;
      }),
    );
    const ph = new Compact();
    ph.struct(null, () => {
      ph.i32(1, 0); // DATA_PAGE
      ph.i32(2, data.length);
      ph.i32(3, data.length);
      ph.struct(5, () => {
        ph.i32(1, nRows);
        ph.i32(2, 0); // PLAIN
        ph.i32(3, 3); // RLE
        ph.i32(4, 3);
      });
    });
    const header = Buffer.from(ph.bytes);
    meta.push({ offset, size: header.length + data.length });
    chunks.push(header, data);
    offset += header.length + data.length;
  });
  const fm = new Compact();
  fm.struct(null, () => {
    fm.i32(1, 1);
    fm.list(2, 12, names.length + 1, (i) =>
      fm.struct(null, () => {
        if (i === 0) {
          fm.str(4, 'schema');
          fm.i32(5, names.length);
          return;
        }
        fm.i32(1, isStr[i - 1] ? 6 : 2); // BYTE_ARRAY | INT64
        fm.i32(3, 0); // REQUIRED
        fm.str(4, names[i - 1]);
        if (isStr[i - 1]) fm.i32(6, 0); // UTF8
      }),
    );
    fm.i64(3, nRows);
    fm.list(4, 12, 1, () =>
      fm.struct(null, () => {
        fm.list(1, 12, names.length, (c) =>
          fm.struct(null, () => {
            fm.i64(2, meta[c].offset);
            fm.struct(3, () => {
              fm.i32(1, isStr[c] ? 6 : 2);
              fm.list(2, 5, 1, () => fm.zigzag(0));
              fm.list(3, 8, 1, () => fm.binary(names[c]));
              fm.i32(4, 0); // UNCOMPRESSED
              fm.i64(5, nRows);
              fm.i64(6, meta[c].size);
              fm.i64(7, meta[c].size);
              fm.i64(9, meta[c].offset);
            });
          }),
        );
        fm.i64(2, meta.reduce((s, m) => s + m.size, 0));
        fm.i64(3, nRows);
      }),
    );
  });
  const footer = Buffer.from(fm.bytes);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(footer.length);
  chunks.push(footer, len, Buffer.from('PAR1'));
  return Buffer.concat(chunks);
}
