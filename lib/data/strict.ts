/**
 * Strict-input helpers shared by the data readers, the generations tables, configs and CLI flags:
 * decimal-only numbers, duplicate column names and JSON keys, the real line of an unclosed CSV
 * quote, input-file checks (missing, a folder, a ".gz" that is not gzip) and a one-line stderr log
 * for what filters drop. Each error names the file (and line and field where there is one).
 */
import * as fs from 'node:fs';

/** Plain decimal or exponent notation ("-2.5", "1e-3", ".5"); not "0x10", "0b1", "Infinity", "1_0". */
export const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** The number a decimal string denotes, or NaN for anything else (Number() would read "0x10" as 16). */
export function parseDecimal(s: string): number {
  const t = s.trim();
  return DECIMAL.test(t) ? Number(t) : NaN;
}

/** First repeated name as [name, first index, second index] (0-based), or null. */
export function firstDuplicate(names: readonly string[]): [string, number, number] | null {
  const seen = new Map<string, number>();
  for (let i = 0; i < names.length; i++) {
    const j = seen.get(names[i]);
    if (j !== undefined) return [names[i], j, i];
    seen.set(names[i], i);
  }
  return null;
}

export function duplicateHeaderMessage(d: [string, number, number]): string {
  return `duplicate column name (columns ${d[1] + 1} and ${d[2] + 1}); a reader would keep only the last, so rename one`;
}

/**
 * The first key that appears twice in one JSON object of `text` (already valid JSON), with its
 * dotted path, or null. JSON.parse keeps the last value silently; that hides a mistake.
 */
export function duplicateJsonKey(text: string): string | null {
  if (!text.includes('{')) return null;
  const frames: { obj: boolean; keys: Set<string>; path: string; key: string }[] = [];
  const join = (a: string, b: string) => (a ? `${a}.${b}` : b);
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i;
      for (;;) {
        j = text.indexOf('"', j + 1);
        let k = j - 1;
        while (text[k] === '\\') k--;
        if ((j - 1 - k) % 2 === 0) break; // an even run of backslashes: this quote ends the string
      }
      const top = frames[frames.length - 1];
      if (expectKey && top?.obj) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key)) return join(top.path, key);
        top.keys.add(key);
        top.key = key;
        expectKey = false;
      }
      i = j;
    } else if (c === '{' || c === '[') {
      const top = frames[frames.length - 1];
      const path = !top ? '' : top.obj ? join(top.path, top.key) : `${top.path}[]`;
      frames.push({ obj: c === '{', keys: new Set(), path, key: '' });
      expectKey = c === '{';
    } else if (c === '}' || c === ']') {
      frames.pop();
      expectKey = false;
    } else if (c === ',') expectKey = frames[frames.length - 1]?.obj === true;
  }
  return null;
}

/** Drop a leading UTF-8 byte-order mark (Excel and Notepad write one; CSV readers already accept it). */
export function stripBom(s: string): string {
  return s.charCodeAt(0) === 0xfeff ? s.slice(1) : s;
}

/**
 * Where the quote that is never closed opens: 1-based line and 0-based field index of the record,
 * scanning with the csv-parse / Python csv rules ('"' opens a quoted field, '""' escapes).
 * csv-parse itself reports the file's last line.
 */
export function findUnclosedQuote(text: string, delimiter = ','): { line: number; fieldIndex: number } | null {
  let line = 1;
  let fieldIndex = 0;
  let atFieldStart = true;
  let open: { line: number; fieldIndex: number } | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (open) {
      if (c === '\n') line++;
      else if (c === '"') {
        if (text[i + 1] === '"') i++;
        else open = null;
      }
      continue;
    }
    if (c === '"' && atFieldStart) {
      open = { line, fieldIndex };
      continue;
    }
    atFieldStart = false;
    if (c === delimiter) {
      fieldIndex++;
      atFieldStart = true;
    } else if (c === '\n') {
      line++;
      fieldIndex = 0;
      atFieldStart = true;
    } else if (c === '\r') atFieldStart = true;
  }
  return open;
}

/** An input file must exist and be a file; a folder is named as one (instead of EISDIR). */
export function checkInputFile(file: string, what = 'data file'): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new Error(`${what} not found: ${file}`);
  }
  if (st.isDirectory()) throw new Error(`${file} is a folder; expected a ${what}`);
}

/** True when the file starts with the gzip magic bytes; a ".gz" name without them is an error. */
export function isGzipFile(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  let head: Buffer;
  try {
    head = Buffer.alloc(2);
    head = head.subarray(0, fs.readSync(fd, head, 0, 2, 0));
  } finally {
    fs.closeSync(fd);
  }
  const magic = head.length === 2 && head[0] === 0x1f && head[1] === 0x8b;
  if (!magic && file.toLowerCase().endsWith('.gz')) {
    throw new Error(`${file}: named .gz but not gzip data (starts with ${JSON.stringify(head.toString('latin1'))}); rename it or gzip it`);
  }
  return magic;
}

/** Name the file in a zlib error ("unexpected end of file" = a truncated download). */
export function gzipError(file: string, e: Error, afterLine?: number): Error {
  const code = (e as { code?: string }).code ?? '';
  const what = code === 'Z_BUF_ERROR' || /unexpected end/.test(e.message) ? 'truncated gzip data' : 'corrupt gzip data';
  return new Error(`${file}: ${what}${afterLine ? ` after line ${afterLine}` : ''} (zlib: ${e.message})`);
}

export const isZlibError = (e: unknown): boolean =>
  e instanceof Error && (/^Z_/.test(String((e as { code?: string }).code)) || (e as { errno?: number }).errno !== undefined && /zlib|header check|end of file/i.test(e.message));

// ---------------------------------------------------------------------------------------------
// What filters drop: one line on stderr each, so no row disappears without a count.

type LogFn = (line: string) => void;
let logFn: LogFn = (line) => process.stderr.write(`${line}\n`);

/** Redirect the drop/replacement log (tests capture it); returns the previous function. */
export function setDataLog(fn: LogFn): LogFn {
  const prev = logFn;
  logFn = fn;
  return prev;
}

export function dataLog(msg: string): void {
  logFn(`[rarlhf] ${msg}`);
}
