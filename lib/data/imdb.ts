/**
 * IMDB (Maas et al. 2011) with the paper's preparation (paper-spec §5, IMDB-Gen):
 * keep reviews with len(text) > 200 (Python len = code points), label 0 = neg, 1 = pos.
 * Sources: the staged JSONL (<dataDir>/imdb/imdb_<split>.jsonl.gz), an aclImdb folder
 * (<dir>/<split>/{pos,neg}/<id>_<rating>.txt), or HF `imdb` parquet (columns text, label);
 * source 'hub' downloads stanfordnlp/imdb's parquet into the HF cache (hub-datasets.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HUB_SOURCE, hubDatasetFile, type HubDatasetOptions } from './hub-datasets';
import { dataFile } from './paths';
import {
  codePointLength, drop, field, intLabel, loadRows, logLoad, num, readDefaults, recordsFor, text,
  type Loaded, type RawRecord, type ReadOptions,
} from './readers';
import { decodeUtf8, describeBadLine, REPLACEMENT_HINT, type BadLine } from './utf8';
import { seededSample } from './split';

export interface ImdbRow {
  /** "<split>/<pos|neg>/<fileid>_<rating>" when known, else "<file>#<line>". */
  id: string;
  text: string;
  label: 0 | 1;
  /** 1-10 star rating where the source has it (aclImdb file name, staged JSONL), else null. */
  rating: number | null;
}

export interface ImdbOptions extends ReadOptions {
  dataDir?: string;
  /** A .jsonl[.gz] / .parquet file, an aclImdb folder, or 'hub'; default the staged JSONL for the split. */
  source?: string;
  /** Download options for source 'hub' (endpoint, cacheDir, revision, offline, ...). */
  hub?: HubDatasetOptions;
  /** Keep rows with len(text) > minChars (code points). Paper: 200. Set -1 to keep everything. */
  minChars?: number;
}

export const IMDB_MIN_CHARS = 200;

/** Load one IMDB split with the `len(text) > 200` filter. */
export async function loadImdb(split: 'train' | 'test', opts: ImdbOptions = {}): Promise<Loaded<ImdbRow>> {
  const minChars = opts.minChars ?? IMDB_MIN_CHARS;
  const source =
    opts.source === HUB_SOURCE ? await hubDatasetFile('imdb', split, opts.hub) : (opts.source ?? dataFile(`imdb/imdb_${split}.jsonl.gz`, opts.dataDir));
  if (!fs.existsSync(source)) throw new Error(`IMDB source not found: ${source}`);
  const isDir = fs.statSync(source).isDirectory();
  const records = isDir ? aclImdbRecords(source, split, opts) : recordsFor(source, opts);
  let n = 0;
  return loadRows<ImdbRow>(
    source,
    records,
    (rec) => {
      n++;
      const t = text(rec, 'text');
      const label = intLabel(rec, 'label') as 0 | 1;
      const rating = 'rating' in rec && rec.rating !== null ? num(rec, 'rating') : null;
      const id = 'id' in rec && rec.id !== null ? String(field(rec, 'id')) : `${path.basename(source)}#${n}`;
      if (minChars >= 0 && codePointLength(t) <= minChars) return drop(`len<=${minChars}`);
      return { id, text: t, label, rating };
    },
    { ...opts, label: `imdb ${split}`, unit: 'reviews' },
  );
}

/**
 * aclImdb layout. The repo copy we staged had moved part of train/ into val/; a val/ folder is
 * merged back into train. Rows are sorted by (label, numeric file id), the staged JSONL order.
 * Bad file names are reported against the file itself.
 */
async function* aclImdbRecords(root: string, split: 'train' | 'test', opts: ReadOptions): AsyncGenerator<RawRecord> {
  const dirs = split === 'train' ? ['train', 'val'] : ['test'];
  const entries: { file: string; sub: string; label: number; id: number; rating: number; ok: boolean }[] = [];
  for (const [label, cls] of [[0, 'neg'], [1, 'pos']] as const) {
    let found = false;
    for (const sub of dirs) {
      const dir = path.join(root, sub, cls);
      if (!fs.existsSync(dir)) continue;
      found = true;
      for (const name of fs.readdirSync(dir)) {
        if (!name.endsWith('.txt')) continue;
        const m = /^(\d+)_(\d+)\.txt$/.exec(name);
        entries.push({ file: path.join(dir, name), sub, label, id: m ? +m[1] : -1, rating: m ? +m[2] : -1, ok: !!m });
      }
    }
    if (!found) throw new Error(`aclImdb folder ${root}: missing ${split}/${cls}/ (expected <dir>/${split}/{pos,neg}/<id>_<rating>.txt)`);
  }
  entries.sort((x, y) => x.label - y.label || x.id - y.id || x.file.localeCompare(y.file));
  for (const e of entries) {
    if (!e.ok) {
      yield { line: 1, source: e.file, parseError: { field: '(filename)', detail: 'expected <id>_<rating>.txt' } };
      continue;
    }
    const { text: body, scanner } = decodeUtf8(fs.readFileSync(e.file));
    const bad = scanner.badLines.entries().next().value as [number, BadLine] | undefined;
    if (bad && !(opts.allowReplacement ?? readDefaults.allowReplacement)) {
      yield { line: bad[0], source: e.file, parseError: { field: 'text', detail: `${describeBadLine(bad[1])}; ${REPLACEMENT_HINT}` } };
      continue;
    }
    const cls = e.label === 1 ? 'pos' : 'neg';
    yield { line: 1, source: e.file, record: { id: `${split}/${cls}/${e.id}_${e.rating}`, text: body, label: e.label, rating: e.rating } };
  }
}

/**
 * Apply the `len(text) > minChars` filter to rows loaded with minChars -1 (so one read can serve
 * both the filtered prompts and the unfiltered SFT texts); the report counts the drops.
 */
export function filterByLength<T extends { text: string }>(loaded: Loaded<T>, minChars = IMDB_MIN_CHARS): Loaded<T> {
  const rows = loaded.rows.filter((r) => codePointLength(r.text) > minChars);
  const key = `len<=${minChars}`;
  const dropped = { ...loaded.report.dropped };
  const n = loaded.rows.length - rows.length;
  if (n > 0) dropped[key] = (dropped[key] ?? 0) + n;
  // Only this filter's count: the load itself already logged its own drops.
  logLoad({ ...loaded.report, read: loaded.rows.length, dropped: { [key]: n } }, { label: 'imdb', unit: 'reviews' });
  return { rows, report: { ...loaded.report, kept: rows.length, dropped } };
}

/**
 * The paper's 5k IMDB test sample: HF `shuffle(seed=0).select(range(5000))` on the filtered test
 * split. Ours is a seeded Rng shuffle: identical on every run, 5000 distinct rows, but not the same
 * rows HF/numpy would select.
 */
export function imdbTestSample(rows: readonly ImdbRow[], n = 5000, seed = 0): ImdbRow[] {
  return seededSample(rows, n, seed);
}
