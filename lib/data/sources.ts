/**
 * Record sources: JSONL(.gz), CSV/TSV (csv-parse) and parquet (hyparquet), each yielding raw
 * records with their line (parquet: row). Input is strict: invalid UTF-8, duplicate header names
 * or JSON keys, an unclosed quote and broken gzip data are errors that name file, line and field.
 */
import * as fs from 'node:fs';
import * as readline from 'node:readline';
import { pipeline } from 'node:stream';
import * as zlib from 'node:zlib';
import { parse as csvParse } from 'csv-parse';
import { allowReplacement, DataError, type RawRecord, type ReadOptions, type RecordSource, type SourceStats } from './read-types';
import {
  checkInputFile, duplicateHeaderMessage, duplicateJsonKey, findUnclosedQuote, firstDuplicate, gzipError, isGzipFile, isZlibError, stripBom,
} from './strict';
import { decodeUtf8, describeBadLine, REPLACEMENT_HINT, Utf8Guard, type BadLine } from './utf8';

/** The file's bytes (gunzipped when it is gzip) through a UTF-8 guard; errors name the file. */
function openText(file: string): { input: NodeJS.ReadableStream; guard: Utf8Guard } {
  checkInputFile(file);
  const guard = new Utf8Guard();
  const streams: NodeJS.ReadWriteStream[] = isGzipFile(file) ? [zlib.createGunzip(), guard] : [guard];
  // pipeline() forwards a gunzip error to the guard, where readline / csv-parse see it.
  pipeline(fs.createReadStream(file), ...(streams as [NodeJS.ReadWriteStream]), () => undefined);
  return { input: guard, guard };
}

function rethrowSourceError(file: string, e: unknown, line: number): never {
  if (e instanceof DataError) throw e;
  if (isZlibError(e)) throw gzipError(file, e as Error, line);
  throw e;
}

/** The first field (dotted path) whose string value holds U+FFFD: where the invalid bytes went. */
function replacedField(v: unknown, prefix = ''): string | null {
  if (typeof v === 'string') return v.includes('\uFFFD') ? prefix || '(value)' : null;
  if (v === null || typeof v !== 'object') return null;
  for (const [k, x] of Object.entries(v)) {
    const f = replacedField(x, prefix ? `${prefix}.${k}` : k);
    if (f) return f;
  }
  return null;
}

const badUtf8 = (field: string | null, b: BadLine): { field: string; detail: string } => ({
  field: field ?? '(utf-8)',
  detail: `${describeBadLine(b)}; ${REPLACEMENT_HINT}`,
});

/** JSONL (plain or gzip), line by line; blank lines are skipped (not counted as records). A BOM is dropped. */
export function jsonlRecords(file: string, opts: ReadOptions = {}): RecordSource {
  const stats: SourceStats = { replaced: 0, replacedLines: 0 };
  const allow = allowReplacement(opts);
  async function* gen(): AsyncGenerator<RawRecord> {
    const { input, guard } = openText(file);
    const rl = readline.createInterface({ input, crlfDelay: Infinity });
    let line = 0;
    try {
      for await (let text of rl) {
        line++;
        if (line === 1) text = stripBom(text);
        if (text.trim() === '') continue;
        let v: unknown;
        try {
          v = JSON.parse(text);
        } catch (e) {
          yield { line, parseError: { field: '(json)', detail: `unparsable JSON: ${(e as Error).message}` } };
          continue;
        }
        const bad = guard.scanner.badLines.get(line);
        if (v === null || typeof v !== 'object' || Array.isArray(v)) {
          yield { line, parseError: { field: '(json)', detail: 'expected a JSON object per line' } };
        } else if (bad && !allow) {
          yield { line, parseError: badUtf8(replacedField(v), bad) };
        } else {
          const dup = duplicateJsonKey(text);
          if (dup) yield { line, parseError: { field: dup, detail: 'key appears twice in this object (JSON.parse would keep only the last)' } };
          else yield { line, record: v as Record<string, unknown> };
        }
      }
    } catch (e) {
      rethrowSourceError(file, e, line);
    }
    stats.replaced = guard.scanner.replaced;
    stats.replacedLines = guard.scanner.badLines.size;
  }
  return Object.assign(gen(), { stats });
}

/** Scan the whole (decompressed) file for the quote that never closes; csv-parse names the last line. */
async function unclosedQuoteError(file: string, delimiter: string, header: string[] | null, fallback: Error & { lines?: number }): Promise<DataError> {
  let buf = fs.readFileSync(file);
  if (isGzipFile(file)) buf = zlib.gunzipSync(buf);
  const at = findUnclosedQuote(stripBom(buf.toString('utf8')), delimiter);
  if (!at) return new DataError(file, fallback.lines ?? 0, '(csv)', fallback.message);
  const name = at.line === 1 || !header ? `header column ${at.fieldIndex + 1}` : `column "${header[at.fieldIndex] ?? at.fieldIndex + 1}"`;
  // Field "(csv)" as for every tokenizer error; the detail names the column whose quote is open.
  return new DataError(file, at.line, '(csv)', `unclosed quote: the quote that opens ${name} on this line is never closed (csv-parse read to the end of the file)`);
}

/**
 * CSV/TSV with a header row (Python csv / pandas quoting: '"' quotes, '""' escapes). All values are
 * strings. A row whose column count differs from the header is a bad row (field "(columns)").
 * `line` is the file line on which the record ends (records may span lines inside quotes).
 * Duplicate header names are an error (a dict per row would keep only the last column).
 */
export function csvRecords(file: string, opts: { delimiter?: string } & ReadOptions = {}): RecordSource {
  const stats: SourceStats = { replaced: 0, replacedLines: 0 };
  const allow = allowReplacement(opts);
  const delimiter = opts.delimiter ?? ',';
  async function* gen(): AsyncGenerator<RawRecord> {
    const { input, guard } = openText(file);
    const parser = input.pipe(csvParse({ delimiter, relax_column_count: true, info: true, bom: true }));
    input.on('error', (e) => parser.destroy(e)); // pipe() does not forward errors: a gunzip error would hang the loop
    let header: string[] | null = null;
    let prevEnd = 0;
    try {
      for await (const item of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
        const { record, info } = item;
        // Invalid UTF-8 anywhere in this record's lines (prevEnd, info.lines].
        let bad: BadLine | undefined;
        for (let l = prevEnd + 1; l <= info.lines && !bad; l++) bad = guard.scanner.badLines.get(l);
        const start = prevEnd + 1;
        prevEnd = info.lines;
        if (!header) {
          if (bad && !allow) throw new DataError(file, start, '(header)', badUtf8(null, bad).detail);
          const dup = firstDuplicate(record);
          if (dup) throw new DataError(file, start, dup[0], duplicateHeaderMessage(dup));
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
        if (bad && !allow) yield { line: info.lines, parseError: badUtf8(replacedField(obj), bad) };
        else yield { line: info.lines, record: obj };
      }
    } catch (e) {
      const err = e as Error & { lines?: number; code?: string };
      if (err.code === 'CSV_QUOTE_NOT_CLOSED') throw await unclosedQuoteError(file, delimiter, header, err);
      if (err instanceof DataError || isZlibError(err)) rethrowSourceError(file, err, prevEnd);
      // Other fatal tokenizer errors cannot be skipped: csv-parse stops there.
      throw new DataError(file, err.lines ?? 0, '(csv)', err.message);
    }
    stats.replaced = guard.scanner.replaced;
    stats.replacedLines = guard.scanner.badLines.size;
  }
  return Object.assign(gen(), { stats });
}

/** Marks a parquet string that was not valid UTF-8 (so the row loop can name row and column). */
class InvalidUtf8 {
  constructor(readonly bad: BadLine, readonly text: string) {}
}

/** Parquet (e.g. HF `imdb` plain_text/*.parquet) via hyparquet; `line` is the 1-based row number. */
export function parquetRecords(file: string, opts: ReadOptions = {}): RecordSource {
  const stats: SourceStats = { replaced: 0, replacedLines: 0 };
  const allow = allowReplacement(opts);
  async function* gen(): AsyncGenerator<RawRecord> {
    checkInputFile(file);
    // hyparquet is ESM-only; Node >= 20.19 can require() it, and tsx handles the import either way.
    const { parquetReadObjects } = await import('hyparquet');
    const buf = fs.readFileSync(file);
    const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
    const stringFromBytes = (bytes: Uint8Array | undefined): unknown => {
      if (!bytes) return bytes;
      const { text, scanner } = decodeUtf8(bytes);
      if (scanner.replaced === 0) return text;
      stats.replaced += scanner.replaced;
      stats.replacedLines++;
      return allow ? text : new InvalidUtf8(scanner.badLines.get(1) ?? [...scanner.badLines.values()][0], text);
    };
    let rows: Record<string, unknown>[];
    try {
      rows = await parquetReadObjects({ file: ab, parsers: { stringFromBytes } as never });
    } catch (e) {
      throw new DataError(file, 0, '(parquet)', `unreadable parquet: ${(e as Error).message}`, 'row');
    }
    for (let i = 0; i < rows.length; i++) {
      const badCol = Object.entries(rows[i]).find(([, v]) => v instanceof InvalidUtf8);
      if (badCol) {
        const b = (badCol[1] as InvalidUtf8).bad;
        yield { line: i + 1, parseError: { field: badCol[0], detail: `${describeBadLine(b).replace(' of the line', ' of the value')}; ${REPLACEMENT_HINT}` } };
      } else yield { line: i + 1, record: rows[i] };
    }
  }
  return Object.assign(gen(), { stats });
}

/** Pick a reader by extension: .jsonl/.jsonl.gz/.json.gz, .csv, .tsv, .parquet. */
export function recordsFor(file: string, opts: ReadOptions = {}): RecordSource {
  const f = file.toLowerCase().replace(/\.gz$/, '');
  if (f.endsWith('.jsonl') || f.endsWith('.json')) return jsonlRecords(file, opts);
  if (f.endsWith('.csv')) return csvRecords(file, opts);
  if (f.endsWith('.tsv')) return csvRecords(file, { ...opts, delimiter: '\t' });
  if (f.endsWith('.parquet')) return parquetRecords(file, opts);
  checkInputFile(file);
  throw new Error(`${file}: unknown data format (expected .jsonl[.gz], .csv, .tsv or .parquet)`);
}

