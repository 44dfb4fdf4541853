/**
 * Streaming readers for JSONL(.gz), CSV/TSV (csv-parse) and parquet (hyparquet), plus the row
 * conversion loop every loader shares. A loader supplies a `convert` function that turns one raw
 * record into a typed row, returns `drop(reason)` for rows the paper's preparation filters out,
 * or throws FieldError for bad input. Bad input stops the load with a DataError naming file,
 * line (row for parquet) and field, unless `skipBadRows` is set, in which case it is counted in
 * `report.dropped` under "bad row: <field>".
 */
import * as fs from 'node:fs';
import * as readline from 'node:readline';
import * as zlib from 'node:zlib';
import { parse as csvParse } from 'csv-parse';

export interface LoadReport {
  file: string;
  /** Records read from the file (after the CSV header). */
  read: number;
  kept: number;
  /** reason -> count. Filters use their own reason ("len<=200"); bad input uses "bad row: <field>". */
  dropped: Record<string, number>;
  /** The first few bad-row messages when skipBadRows was on. */
  errors: string[];
}
export interface Loaded<T> {
  rows: T[];
  report: LoadReport;
}
export interface ReadOptions {
  /** Skip rows with missing/invalid fields or unparsable lines instead of throwing; they are counted. */
  skipBadRows?: boolean;
}

/** Bad input: names the file, the 1-based line (or parquet row) and the field. */
export class DataError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly field: string,
    readonly detail: string,
    readonly unit: 'line' | 'row' = 'line',
  ) {
    super(`${file}: ${unit} ${line}: field "${field}": ${detail}`);
    this.name = 'DataError';
  }
}

/** Thrown by converters; loadRows attaches file and line. */
export class FieldError extends Error {
  constructor(
    readonly field: string,
    readonly detail: string,
  ) {
    super(`field "${field}": ${detail}`);
  }
}

/** One raw record: either a parsed object or the reason it could not be parsed. */
export interface RawRecord {
  line: number;
  /** The file this record came from when it is not the loader's file (aclImdb: one file per review). */
  source?: string;
  record?: Record<string, unknown>;
  parseError?: { field: string; detail: string };
}

// ---------------------------------------------------------------------------------------------
// Sources

function isGzip(file: string): boolean {
  if (file.endsWith('.gz')) return true;
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(2);
    return fs.readSync(fd, b, 0, 2, 0) === 2 && b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    fs.closeSync(fd);
  }
}

function openText(file: string): NodeJS.ReadableStream {
  if (!fs.existsSync(file)) throw new Error(`data file not found: ${file}`);
  const raw = fs.createReadStream(file);
  return isGzip(file) ? raw.pipe(zlib.createGunzip()) : raw;
}

/** JSONL (plain or gzip), line by line; blank lines are skipped (not counted as records). */
export async function* jsonlRecords(file: string): AsyncGenerator<RawRecord> {
  const rl = readline.createInterface({ input: openText(file), crlfDelay: Infinity });
  let line = 0;
  for await (const text of rl) {
    line++;
    if (text.trim() === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      yield { line, parseError: { field: '(json)', detail: `unparsable JSON: ${(e as Error).message}` } };
      continue;
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      yield { line, parseError: { field: '(json)', detail: 'expected a JSON object per line' } };
    } else yield { line, record: v as Record<string, unknown> };
  }
}

/**
 * CSV/TSV with a header row (Python csv / pandas quoting: '"' quotes, '""' escapes). All values are
 * strings. A row whose column count differs from the header is a bad row (field "(columns)").
 * `line` is the file line on which the record ends (records may span lines inside quotes).
 */
export async function* csvRecords(file: string, opts: { delimiter?: string } = {}): AsyncGenerator<RawRecord> {
  const parser = openText(file).pipe(
    csvParse({ delimiter: opts.delimiter ?? ',', relax_column_count: true, info: true, bom: true }),
  );
  let header: string[] | null = null;
  try {
    for await (const item of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      const { record, info } = item;
      if (!header) {
        header = record;
        continue;
      }
      if (record.length !== header.length) {
        yield {
          line: info.lines,
          parseError: { field: '(columns)', detail: `expected ${header.length} columns (${header.join(', ')}), got ${record.length}` },
        };
        continue;
      }
      const obj: Record<string, unknown> = {};
      header.forEach((h, i) => (obj[h] = record[i]));
      yield { line: info.lines, record: obj };
    }
  } catch (e) {
    // Fatal tokenizer errors (e.g. an unclosed quote) cannot be skipped: csv-parse stops there.
    const err = e as Error & { lines?: number };
    throw new DataError(file, err.lines ?? 0, '(csv)', err.message);
  }
}

/** Parquet (e.g. HF `imdb` plain_text/*.parquet) via hyparquet; `line` is the 1-based row number. */
export async function* parquetRecords(file: string): AsyncGenerator<RawRecord> {
  if (!fs.existsSync(file)) throw new Error(`data file not found: ${file}`);
  // hyparquet is ESM-only; Node >= 20.19 can require() it, and tsx handles the import either way.
  const { parquetReadObjects } = await import('hyparquet');
  const buf = fs.readFileSync(file);
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
  let rows: Record<string, unknown>[];
  try {
    rows = await parquetReadObjects({ file: ab });
  } catch (e) {
    throw new DataError(file, 0, '(parquet)', `unreadable parquet: ${(e as Error).message}`, 'row');
  }
  for (let i = 0; i < rows.length; i++) yield { line: i + 1, record: rows[i] };
}

/** Pick a reader by extension: .jsonl/.jsonl.gz/.json.gz, .csv, .tsv, .parquet. */
export function recordsFor(file: string): AsyncGenerator<RawRecord> {
  const f = file.toLowerCase().replace(/\.gz$/, '');
  if (f.endsWith('.jsonl') || f.endsWith('.json')) return jsonlRecords(file);
  if (f.endsWith('.csv')) return csvRecords(file);
  if (f.endsWith('.tsv')) return csvRecords(file, { delimiter: '\t' });
  if (f.endsWith('.parquet')) return parquetRecords(file);
  throw new Error(`${file}: unknown data format (expected .jsonl[.gz], .csv, .tsv or .parquet)`);
}

// ---------------------------------------------------------------------------------------------
// Conversion loop

const DROP = Symbol('drop');
export interface Drop {
  [DROP]: true;
  reason: string;
}
/** Returned by a converter for a row the preparation filters out (counted under `reason`). */
export function drop(reason: string): Drop {
  return { [DROP]: true, reason };
}
function isDrop(v: unknown): v is Drop {
  return typeof v === 'object' && v !== null && DROP in v;
}

export type Converter<T> = (rec: Record<string, unknown>) => T | Drop;

export async function loadRows<T>(
  file: string,
  records: AsyncIterable<RawRecord>,
  convert: Converter<T>,
  opts: ReadOptions = {},
): Promise<Loaded<T>> {
  const unit = file.toLowerCase().endsWith('.parquet') ? 'row' : 'line';
  const report: LoadReport = { file, read: 0, kept: 0, dropped: {}, errors: [] };
  const rows: T[] = [];
  const bad = (line: number, field: string, detail: string, source?: string): void => {
    const err = new DataError(source ?? file, line, field, detail, unit);
    if (!opts.skipBadRows) throw err;
    const key = `bad row: ${field}`;
    report.dropped[key] = (report.dropped[key] ?? 0) + 1;
    if (report.errors.length < 5) report.errors.push(err.message);
  };
  for await (const raw of records) {
    report.read++;
    if (raw.parseError) {
      bad(raw.line, raw.parseError.field, raw.parseError.detail, raw.source);
      continue;
    }
    let out: T | Drop;
    try {
      out = convert(raw.record!);
    } catch (e) {
      if (!(e instanceof FieldError)) throw e;
      bad(raw.line, e.field, e.detail, raw.source);
      continue;
    }
    if (isDrop(out)) report.dropped[out.reason] = (report.dropped[out.reason] ?? 0) + 1;
    else rows.push(out);
  }
  report.kept = rows.length;
  return { rows, report };
}

/** Read any supported file into plain records (no conversion). */
export async function readRecords(file: string, opts: ReadOptions = {}): Promise<Loaded<Record<string, unknown>>> {
  return loadRows(file, recordsFor(file), (r) => r, opts);
}

// ---------------------------------------------------------------------------------------------
// Field accessors for converters. Dotted paths reach into nested objects ("prompt.text").

export function field(rec: Record<string, unknown>, name: string): unknown {
  let v: unknown = rec;
  for (const part of name.split('.')) {
    if (v === null || typeof v !== 'object' || !(part in (v as object))) throw new FieldError(name, 'missing');
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/** A non-empty (after trimming) string. */
export function text(rec: Record<string, unknown>, name: string): string {
  const v = field(rec, name);
  if (typeof v !== 'string') throw new FieldError(name, `expected a string, got ${JSON.stringify(v)}`);
  if (v.trim() === '') throw new FieldError(name, 'empty text');
  return v;
}

/** Finite number; CSV strings are parsed. `nullable` lets null/""/"NULL"/"None" through as null. */
export function num(rec: Record<string, unknown>, name: string, nullable = false): number | null {
  const v = field(rec, name);
  if (v === null || v === '' || v === 'NULL' || v === 'None' || v === 'nan' || v === 'NaN') {
    if (nullable) return null;
    throw new FieldError(name, `expected a number, got ${JSON.stringify(v)}`);
  }
  const n = typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : typeof v === 'string' ? Number(v.trim()) : NaN;
  if (!Number.isFinite(n)) throw new FieldError(name, `expected a number, got ${JSON.stringify(v)}`);
  return n;
}

/** Integer label in `allowed` (booleans and "True"/"False" map to 1/0). */
export function intLabel(rec: Record<string, unknown>, name: string, allowed: readonly number[] = [0, 1]): number {
  const v = field(rec, name);
  const n = v === true || v === 'True' || v === 'true' ? 1 : v === false || v === 'False' || v === 'false' ? 0 : num(rec, name)!;
  if (!Number.isInteger(n) || !allowed.includes(n)) {
    throw new FieldError(name, `expected one of ${allowed.join('/')}, got ${JSON.stringify(v)}`);
  }
  return n;
}

/** Optional nullable string: null/"NULL"/missing -> null. */
export function optText(rec: Record<string, unknown>, name: string): string | null {
  if (!(name in rec)) return null;
  const v = rec[name];
  if (v === null || v === 'NULL' || v === '') return null;
  if (typeof v !== 'string') throw new FieldError(name, `expected a string or null, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * Length in Unicode code points, as Python's len(str). JS `.length` counts UTF-16 units, which
 * differs for characters outside the BMP (emoji), so the paper's `len(text) > N` filters use this.
 */
export function codePointLength(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}
