/**
 * Generations tables: one row per (prompt, sample) with columns
 *   prompt, class, prompt_score, [sample], <model>_response, <model>_reward, ...
 * stored as CSV (header row) or JSONL (one object per line). `npx rarlhf generate` writes them,
 * `npx rarlhf eval` reads them. Reading keeps the line number of every row so errors can say
 * "file:line: column ...".
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { parse as parseCsv } from 'csv-parse/sync';
import {
  checkInputFile, dataLog, duplicateHeaderMessage, duplicateJsonKey, findUnclosedQuote, firstDuplicate, gzipError, isGzipFile, parseDecimal, stripBom,
} from '../data/strict';
import { decodeUtf8, describeBadLine, REPLACEMENT_HINT } from '../data/utf8';

export type GenerationsFormat = 'csv' | 'jsonl';
export type Cell = string | number | boolean | null;
export type Row = Record<string, Cell>;

export interface GenerationsTable {
  file: string;
  format: GenerationsFormat;
  columns: string[];
  rows: Row[];
  /** 1-based line of each row in the file (first line of a multi-line CSV record) */
  lines: number[];
  /** invalid UTF-8 sequences read as U+FFFD (only with allowReplacement) */
  replaced?: number;
}

export interface ReadTableOptions {
  /** Read invalid UTF-8 as U+FFFD (counted and printed) instead of failing; CLI --allow-replacement. */
  allowReplacement?: boolean;
}

export function formatFromPath(file: string): GenerationsFormat {
  const f = file.replace(/\.gz$/, '').toLowerCase();
  if (f.endsWith('.jsonl') || f.endsWith('.ndjson') || f.endsWith('.json')) return 'jsonl';
  return 'csv';
}

export function readGenerations(file: string, format?: GenerationsFormat, opts: ReadTableOptions = {}): GenerationsTable {
  const fmt = format ?? formatFromPath(file);
  checkInputFile(file, 'generations table');
  let buf = fs.readFileSync(file);
  if (isGzipFile(file)) {
    try {
      buf = zlib.gunzipSync(buf);
    } catch (e) {
      throw gzipError(file, e as Error);
    }
  }
  const { text, scanner } = decodeUtf8(buf);
  const t = fmt === 'csv' ? readCsv(file, stripBom(text)) : readJsonl(file, stripBom(text));
  if (scanner.replaced > 0) {
    if (!opts.allowReplacement) {
      const [line, bad] = scanner.badLines.entries().next().value!;
      let i = t.lines.length - 1;
      while (i >= 0 && t.lines[i] > line) i--;
      const row = i >= 0 ? t.rows[i] : undefined;
      const col = row ? Object.keys(row).find((c) => String(row[c]).includes('\uFFFD')) : undefined;
      const where = i < 0 && t.format === 'csv' ? 'the header' : col ? `column '${col}'` : 'a value';
      throw new Error(`${file}:${line}: ${where} has ${describeBadLine(bad)}; ${REPLACEMENT_HINT}`);
    }
    t.replaced = scanner.replaced;
    dataLog(`${file}: read ${scanner.replaced} invalid UTF-8 sequence(s) on ${scanner.badLines.size} line(s) as U+FFFD (--allow-replacement)`);
  }
  return t;
}

function readCsv(file: string, text: string): GenerationsTable {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parseCsv(text, { info: true, relax_column_count: false, bom: true, skip_empty_lines: true }) as never;
  } catch (e) {
    const err = e as Error & { code?: string; lines?: number };
    if (err.code === 'CSV_QUOTE_NOT_CLOSED') {
      const at = findUnclosedQuote(text);
      // csv-parse names the last line; the quote opens earlier.
      if (at) {
        let name = `field ${at.fieldIndex + 1}`;
        try {
          const header = (parseCsv(text.slice(0, text.indexOf('\n')), { relax_quotes: true }) as string[][])[0];
          if (at.line > 1 && header?.[at.fieldIndex] !== undefined) name = `column '${header[at.fieldIndex]}'`;
        } catch { /* keep the field number */ }
        throw new Error(`${file}:${at.line}: ${name}: unclosed quote: the quote that opens it on this line is never closed (the rest of the file was read into it)`);
      }
    }
    throw new Error(`${file}${err.lines ? `:${err.lines}` : ''}: CSV parse error: ${err.message}`);
  }
  if (records.length === 0) throw new Error(`${file}: empty CSV (no header row)`);
  const columns = records[0].record;
  const dup = firstDuplicate(columns);
  if (dup) throw new Error(`${file}:1: column '${dup[0]}': ${duplicateHeaderMessage(dup)}`);
  const rows: Row[] = [];
  const lines: number[] = [];
  // info.lines is the line where the record ENDS; count newlines inside the record for its start.
  for (const { record, info } of records.slice(1)) {
    const row: Row = {};
    columns.forEach((c, j) => { row[c] = record[j]; });
    rows.push(row);
    const inner = record.reduce((n, v) => n + (v.match(/\n/g)?.length ?? 0), 0);
    lines.push(info.lines - inner);
  }
  return { file, format: 'csv', columns, rows, lines };
}

function readJsonl(file: string, text: string): GenerationsTable {
  const rows: Row[] = [];
  const lines: number[] = [];
  const columns = new Set<string>();
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (e) {
      throw new Error(`${file}:${i + 1}: invalid JSON (${(e as Error).message})`);
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new Error(`${file}:${i + 1}: expected a JSON object per line`);
    const dup = duplicateJsonKey(line);
    if (dup) throw new Error(`${file}:${i + 1}: field '${dup}' appears twice in this object (JSON.parse would keep only the last)`);
    for (const k of Object.keys(obj)) columns.add(k);
    rows.push(obj as Row);
    lines.push(i + 1);
  });
  return { file, format: 'jsonl', columns: [...columns], rows, lines };
}

/** True when a column is in the CSV header / in some JSONL object (requireColumns then checks every row). */
export function hasColumn(t: GenerationsTable, col: string): boolean {
  return t.columns.includes(col);
}

/** Throw "file: column 'x' missing (columns: ...)" unless every column exists. */
export function requireColumns(t: GenerationsTable, cols: readonly string[]): void {
  for (const c of cols) {
    if (t.format === 'csv' && !t.columns.includes(c)) {
      throw new Error(`${t.file}:1: column '${c}' not in the header (columns: ${t.columns.join(', ')})`);
    }
    if (t.format === 'jsonl') {
      const i = t.rows.findIndex((r) => !(c in r));
      if (i >= 0) throw new Error(`${t.file}:${t.lines[i]}: field '${c}' missing (fields: ${Object.keys(t.rows[i]).join(', ')})`);
    }
  }
}

/** A numeric column; names file, line and column for a missing or non-numeric value. */
export function numberColumn(t: GenerationsTable, col: string): number[] {
  requireColumns(t, [col]);
  return t.rows.map((r, i) => {
    const v = r[col];
    // Decimal text only: Number() would read "0x10" as 16.
    const x = typeof v === 'number' ? v : typeof v === 'string' ? parseDecimal(v) : NaN;
    if (!Number.isFinite(x)) throw new Error(`${t.file}:${t.lines[i]}: column '${col}' has ${JSON.stringify(v)}, expected a finite number in decimal notation`);
    return x;
  });
}

/** A text column (numbers are stringified; null/missing is an error). */
export function stringColumn(t: GenerationsTable, col: string): string[] {
  requireColumns(t, [col]);
  return t.rows.map((r, i) => {
    const v = r[col];
    if (v === null || v === undefined) throw new Error(`${t.file}:${t.lines[i]}: column '${col}' is empty/null`);
    return String(v);
  });
}

/**
 * Prompt index of every row. With a sample column, rows with the same prompt key (the prompt-id
 * column, else the prompt text) are samples of one prompt. Without one, every row is its own
 * prompt (so duplicate prompt texts in a test set stay separate prompts).
 */
export function promptGroups(t: GenerationsTable, opts: { promptCol: string; sampleCol?: string; promptIdCol?: string }): number[] {
  if (!opts.sampleCol) return t.rows.map((_, i) => i);
  requireColumns(t, [opts.sampleCol]);
  const keys = stringColumn(t, opts.promptIdCol ?? opts.promptCol);
  const ids = new Map<string, number>();
  return keys.map((k) => {
    let g = ids.get(k);
    if (g === undefined) { g = ids.size; ids.set(k, g); }
    return g;
  });
}

function csvCell(v: Cell | undefined): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Write rows as CSV (RFC 4180 quoting) or JSONL; columns default to the union of row keys. */
export function writeGenerations(file: string, rows: readonly Row[], format?: GenerationsFormat, columns?: string[]): void {
  const fmt = format ?? formatFromPath(file);
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  let text: string;
  if (fmt === 'jsonl') {
    text = rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : '');
  } else {
    const cols = columns ?? [...new Set(rows.flatMap((r) => Object.keys(r)))];
    text = [cols.map(csvCell).join(','), ...rows.map((r) => cols.map((c) => csvCell(r[c])).join(','))].join('\n') + '\n';
  }
  fs.writeFileSync(file, file.endsWith('.gz') ? zlib.gzipSync(text) : text);
}
