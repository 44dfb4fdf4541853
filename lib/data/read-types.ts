/**
 * Types shared by the data readers (lib/data/readers.ts) and the record sources
 * (lib/data/sources.ts): load reports, options, and the errors that name file, line and field.
 */
export interface LoadReport {
  file: string;
  /** Records read from the file (after the CSV header). */
  read: number;
  kept: number;
  /** reason -> count. Filters use their own reason ("len<=200"); bad input uses "bad row: <field>". */
  dropped: Record<string, number>;
  /** The first few bad-row messages when skipBadRows was on. */
  errors: string[];
  /** Invalid UTF-8 sequences read as U+FFFD (allowReplacement); absent when there were none. */
  replaced?: number;
}
export interface Loaded<T> {
  rows: T[];
  report: LoadReport;
}
export interface ReadOptions {
  /** Skip rows with missing/invalid fields or unparsable lines instead of throwing; they are counted. */
  skipBadRows?: boolean;
  /**
   * Read invalid UTF-8 as U+FFFD instead of stopping at it (default: readDefaults.allowReplacement,
   * false); the replacements are counted in report.replaced and printed.
   */
  allowReplacement?: boolean;
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

/** What a source saw besides records: U+FFFD replacements accepted under allowReplacement. */
export interface SourceStats {
  replaced: number;
  replacedLines: number;
}
/** Records plus the source's stats (filled in while it is iterated). */
export interface RecordSource extends AsyncIterable<RawRecord> {
  stats?: SourceStats;
}

/** Process-wide default for ReadOptions.allowReplacement (the CLI's --allow-replacement sets it). */
export const readDefaults = { allowReplacement: false };
export const allowReplacement = (opts: ReadOptions): boolean => opts.allowReplacement ?? readDefaults.allowReplacement;

