/**
 * Strict UTF-8 decoding with line numbers. Node's default decoding replaces invalid bytes with
 * U+FFFD without a word; here invalid input is an error naming the file and line unless the
 * caller allows replacement, in which case the replacements are counted (so they can be printed).
 * The scanner is the WHATWG Encoding decoder's state machine, so its count equals the number of
 * U+FFFD that TextDecoder / Buffer#toString('utf8') produce for the same bytes.
 */
import { Transform, type TransformCallback } from 'node:stream';

/** Where the first invalid sequence of a line starts; `count` = U+FFFD on that line. */
export interface BadLine {
  /** 1-based byte column within the line */
  column: number;
  byte: number;
  count: number;
}

/** Incremental WHATWG UTF-8 validation over byte chunks, tracking 1-based line numbers. */
export class Utf8Scanner {
  line = 1;
  /** total invalid sequences (= U+FFFD a decoder emits) */
  replaced = 0;
  /** line -> first invalid sequence on it (capped at `maxLines` entries; `replaced` keeps counting) */
  readonly badLines = new Map<number, BadLine>();
  private col = 0;
  private needed = 0;
  private seen = 0;
  private lower = 0x80;
  private upper = 0xbf;
  private start = { line: 1, column: 1, byte: 0 };
  constructor(private readonly maxLines = 100_000) {}

  private error(line: number, column: number, byte: number): void {
    this.replaced++;
    const b = this.badLines.get(line);
    if (b) b.count++;
    else if (this.badLines.size < this.maxLines) this.badLines.set(line, { column, byte, count: 1 });
  }

  push(buf: Uint8Array): void {
    for (let i = 0; i < buf.length; i++) {
      const b = buf[i];
      if (this.needed === 0) {
        this.col++;
        if (b < 0x80) {
          if (b === 0x0a) {
            this.line++;
            this.col = 0;
          }
          continue;
        }
        this.start = { line: this.line, column: this.col, byte: b };
        if (b >= 0xc2 && b <= 0xdf) this.needed = 1;
        else if (b >= 0xe0 && b <= 0xef) {
          if (b === 0xe0) this.lower = 0xa0;
          if (b === 0xed) this.upper = 0x9f;
          this.needed = 2;
        } else if (b >= 0xf0 && b <= 0xf4) {
          if (b === 0xf0) this.lower = 0x90;
          if (b === 0xf4) this.upper = 0x8f;
          this.needed = 3;
        } else this.error(this.line, this.col, b);
        continue;
      }
      if (b < this.lower || b > this.upper) {
        // The sequence so far is one U+FFFD; this byte starts over (WHATWG: "prepend byte").
        this.reset();
        this.error(this.start.line, this.start.column, this.start.byte);
        i--;
        continue;
      }
      this.lower = 0x80;
      this.upper = 0xbf;
      this.col++;
      if (++this.seen === this.needed) this.reset();
    }
  }

  /** End of input: an unfinished sequence is one more U+FFFD. */
  end(): void {
    if (this.needed !== 0) {
      this.reset();
      this.error(this.start.line, this.start.column, this.start.byte);
    }
  }

  private reset(): void {
    this.needed = 0;
    this.seen = 0;
    this.lower = 0x80;
    this.upper = 0xbf;
  }
}

export function describeBadLine(b: BadLine): string {
  return `invalid UTF-8 (byte 0x${b.byte.toString(16).padStart(2, '0')} at byte ${b.column} of the line${b.count > 1 ? `, ${b.count} bad sequences on it` : ''})`;
}

export const REPLACEMENT_HINT = 'pass --allow-replacement (readers: allowReplacement) to read such bytes as U+FFFD';

/** Pass-through byte stream that validates UTF-8 as it goes; readers look up `scanner.badLines`. */
export class Utf8Guard extends Transform {
  readonly scanner = new Utf8Scanner();
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.scanner.push(chunk);
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    this.scanner.end();
    cb();
  }
}

/** Decode a whole buffer; returns the text (U+FFFD where invalid) and the scanner's findings. */
export function decodeUtf8(buf: Uint8Array): { text: string; scanner: Utf8Scanner } {
  const scanner = new Utf8Scanner();
  scanner.push(buf);
  scanner.end();
  return { text: Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('utf8'), scanner };
}

/** Strict decode of a whole file's bytes: throws "file: line N: invalid UTF-8 ..." unless allowed. */
export function decodeUtf8Strict(buf: Uint8Array, file: string, allowReplacement = false): { text: string; replaced: number } {
  const { text, scanner } = decodeUtf8(buf);
  if (scanner.replaced > 0 && !allowReplacement) {
    const [line, b] = scanner.badLines.entries().next().value as [number, BadLine];
    throw new Error(`${file}: line ${line}: ${describeBadLine(b)}; ${REPLACEMENT_HINT}`);
  }
  return { text, replaced: scanner.replaced };
}
