/**
 * Streaming readers for JSONL(.gz), CSV/TSV (csv-parse) and parquet (hyparquet), plus the row
 * conversion loop every loader shares. A loader supplies a `convert` function that turns one raw
 * record into a typed row, returns `drop(reason)` for rows the paper's preparation filters out,
 * or throws FieldError for bad input. Bad input stops the load with a DataError naming file,
 * line (row for parquet) and field, unless `skipBadRows` is set, in which case it is counted in
 * `report.dropped` under "bad row: <field>".
 */
import { FieldError, DataError, type LoadReport, type Loaded, type ReadOptions, type RecordSource } from './read-types';
import { dataLog, parseDecimal } from './strict';
import { recordsFor } from './sources';

export * from './read-types';
export { csvRecords, jsonlRecords, parquetRecords, recordsFor } from './sources';

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

/** How a loader names its rows in the drop log ("imdb", "reviews"). */
export interface LoadLabel {
  label?: string;
  unit?: string;
}

/** "len<=200" -> "with <= 200 characters"; the report keeps the short keys. */
export function describeReason(reason: string): string {
  const len = /^len<=(\d+)$/.exec(reason);
  if (len) return `with <= ${len[1]} characters`;
  if (reason === 'unlabeled(-1)') return 'unlabeled (label -1)';
  if (reason === 'toxicity=null') return 'with no toxicity score (null)';
  if (reason.startsWith('bad row: ')) return `bad rows (field ${reason.slice(9)}; skipBadRows)`;
  return reason;
}

/** One stderr line per load that dropped or repaired anything: nothing goes without a count. */
export function logLoad(report: LoadReport, l: LoadLabel = {}): void {
  const name = `${l.label ?? 'data'} (${report.file})`;
  const dropped = Object.entries(report.dropped).filter(([, n]) => n > 0);
  if (dropped.length) {
    const total = dropped.reduce((a, [, n]) => a + n, 0);
    const why = dropped.map(([r, n]) => `${n} ${describeReason(r)}`).join(', ');
    dataLog(`${name}: dropped ${total} of ${report.read} ${l.unit ?? 'rows'}: ${why}`);
  }
  if (report.replaced) dataLog(`${name}: read ${report.replaced} invalid UTF-8 sequence(s) as U+FFFD (allow-replacement)`);
}

export async function loadRows<T>(
  file: string,
  records: RecordSource,
  convert: Converter<T>,
  opts: ReadOptions & LoadLabel = {},
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
      // A converter bug still names where it happened (the message alone would not).
      if (!(e instanceof FieldError)) throw new DataError(raw.source ?? file, raw.line, '(row)', (e as Error).message, unit);
      bad(raw.line, e.field, e.detail, raw.source);
      continue;
    }
    if (isDrop(out)) report.dropped[out.reason] = (report.dropped[out.reason] ?? 0) + 1;
    else rows.push(out);
  }
  report.kept = rows.length;
  if (records.stats?.replaced) report.replaced = records.stats.replaced;
  logLoad(report, opts);
  return { rows, report };
}

/** Read any supported file into plain records (no conversion). */
export async function readRecords(file: string, opts: ReadOptions = {}): Promise<Loaded<Record<string, unknown>>> {
  return loadRows(file, recordsFor(file, opts), (r) => r, opts);
}

// ---------------------------------------------------------------------------------------------
// Field accessors for converters. Dotted paths reach into nested objects ("prompt.text").

/** A value for an error message; JSON.stringify throws on parquet's BigInt int64 values. */
function show(v: unknown): string {
  return typeof v === 'bigint' ? `${v}` : JSON.stringify(v);
}

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
  if (typeof v !== 'string') throw new FieldError(name, `expected a string, got ${show(v)}`);
  if (v.trim() === '') throw new FieldError(name, 'empty text');
  return v;
}

/** Finite number; CSV strings are parsed (decimal or exponent notation only). `nullable` lets null/""/"NULL"/"None" through as null. */
export function num(rec: Record<string, unknown>, name: string, nullable = false): number | null {
  const v = field(rec, name);
  if (v === null || v === '' || v === 'NULL' || v === 'None' || v === 'nan' || v === 'NaN') {
    if (nullable) return null;
    throw new FieldError(name, `expected a number, got ${show(v)}`);
  }
  // Decimal text only: Number("0x10") is 16 and Number("0b1") is 1, which no data file means.
  const n = typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : typeof v === 'string' ? parseDecimal(v) : NaN;
  if (!Number.isFinite(n)) {
    const hint = typeof v === 'string' && Number.isFinite(Number(v.trim())) ? ' (only decimal notation is read, e.g. 16 or 1.5e-3)' : '';
    throw new FieldError(name, `expected a number, got ${show(v)}${hint}`);
  }
  return n;
}

/** Integer label in `allowed` (booleans and "True"/"False" map to 1/0). */
export function intLabel(rec: Record<string, unknown>, name: string, allowed: readonly number[] = [0, 1]): number {
  const v = field(rec, name);
  const n = v === true || v === 'True' || v === 'true' ? 1 : v === false || v === 'False' || v === 'false' ? 0 : num(rec, name)!;
  if (!Number.isInteger(n) || !allowed.includes(n)) {
    throw new FieldError(name, `expected one of ${allowed.join('/')}, got ${show(v)}`);
  }
  return n;
}

/** Optional nullable string: null/"NULL"/missing -> null. */
export function optText(rec: Record<string, unknown>, name: string): string | null {
  if (!(name in rec)) return null;
  const v = rec[name];
  if (v === null || v === 'NULL' || v === '') return null;
  if (typeof v !== 'string') throw new FieldError(name, `expected a string or null, got ${show(v)}`);
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
