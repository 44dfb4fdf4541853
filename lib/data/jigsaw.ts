/**
 * Jigsaw Toxic Comment Classification (Kaggle 2018) with the paper's preparation (paper-spec §5,
 * Jigsaw-Gen): keep len(comment_text) > 64 (code points); only the broad `toxic` label is used.
 * Formats: Kaggle CSV (id, comment_text, toxic, severe_toxic, ...), the authors' jigsaw_test.csv
 * (no id, extra `reward` = -toxic-bert "toxic" logit of the full comment), and JSONL(.gz) with the
 * same columns. Kaggle's test labels use -1 for unscored rows; those are dropped ("unlabeled").
 *
 * The authors' 70/30 train file (jigsaw_train_70_30.csv, 36,973 rows) and the full Kaggle train.csv
 * are NOT available offline; `buildJigsawTrain7030` rebuilds the inferred recipe from a train.csv
 * if you have one.
 */
import { dataFile } from './paths';
import { codePointLength, drop, field, intLabel, loadRows, num, recordsFor, text, type Loaded, type ReadOptions } from './readers';
import { build7030, buildBalanced, type ClassMix } from './split';

export interface JigsawRow {
  id: string | null;
  text: string;
  toxic: 0 | 1;
  /** Fine-grained labels when the source has them (null otherwise). */
  labels: Partial<Record<(typeof FINE_LABELS)[number], 0 | 1>>;
  /** Dataset's precomputed reward of the full comment (-toxic-bert toxic logit), when present. */
  reward: number | null;
}

const FINE_LABELS = ['severe_toxic', 'obscene', 'threat', 'insult', 'identity_hate'] as const;

/** Named staged files under <dataDir>/jigsaw/. */
export const JIGSAW_FILES = {
  /** The paper's exact test set: 7,708 rows, 3,854/3,854, with `reward`. */
  test: 'jigsaw/ra_rlhf_jigsaw_test.jsonl.gz',
  /** wiki_toxic test (7,924 rows, Kaggle test comments; 4,302 texts also in `test`). */
  'wiki-toxic-test': 'jigsaw/ra_rlhf_wiki_toxic_test.jsonl.gz',
  /** First 282 rows of Kaggle train.csv (format sample). */
  'kaggle-train-sample': 'jigsaw/kaggle_train_first282_detoxify.jsonl',
  /** 2,212 toxic prefixes of the authors' train comments (reward < -5); field `text`. */
  'critical-toxic-prefixes': 'jigsaw/ra_rlhf_train7030_critical_toxic_prefixes.jsonl',
} as const;
export type JigsawName = keyof typeof JIGSAW_FILES;

export interface JigsawOptions extends ReadOptions {
  dataDir?: string;
  /** Keep len(comment_text) > minChars (code points). Paper: 64. -1 keeps everything. */
  minChars?: number;
}

export const JIGSAW_MIN_CHARS = 64;

/** Load a named staged file or a path (CSV/JSONL/parquet). Text field: comment_text (or text). */
export async function loadJigsaw(nameOrFile: JigsawName | string, opts: JigsawOptions = {}): Promise<Loaded<JigsawRow>> {
  const file = nameOrFile in JIGSAW_FILES ? dataFile(JIGSAW_FILES[nameOrFile as JigsawName], opts.dataDir) : nameOrFile;
  const minChars = opts.minChars ?? JIGSAW_MIN_CHARS;
  return loadRows<JigsawRow>(
    file,
    recordsFor(file, opts),
    (rec) => {
      const t = text(rec, 'comment_text' in rec || !('text' in rec) ? 'comment_text' : 'text');
      // Kaggle test_labels.csv marks unscored comments with -1.
      const toxic = intLabel(rec, 'toxic', [-1, 0, 1]);
      if (toxic === -1) return drop('unlabeled(-1)');
      const labels: JigsawRow['labels'] = {};
      for (const k of FINE_LABELS) if (k in rec) labels[k] = intLabel(rec, k) as 0 | 1;
      const reward = 'reward' in rec ? num(rec, 'reward') : null;
      const id = 'id' in rec && rec.id !== null ? String(field(rec, 'id')) : null;
      if (minChars >= 0 && codePointLength(t) <= minChars) return drop(`len<=${minChars}`);
      return { id, text: t, toxic: toxic as 0 | 1, labels, reward };
    },
    { ...opts, label: `jigsaw ${nameOrFile in JIGSAW_FILES ? nameOrFile : 'file'}`, unit: 'comments' },
  );
}

export function splitByToxic<T extends { toxic: number }>(rows: readonly T[]): { toxic: T[]; nonToxic: T[] } {
  return { toxic: rows.filter((r) => r.toxic === 1), nonToxic: rows.filter((r) => r.toxic === 0) };
}

/**
 * Inferred recipe of jigsaw_train_70_30.csv (paper-spec §5): every toxic train comment with
 * len > 64 (11,092 in Kaggle train) + int(n_toxic*70/30) sampled non-toxic (25,881) = 36,973.
 * Feed it loadJigsaw(<Kaggle train.csv>) rows; the sample is seeded, not the authors' rows.
 */
export function buildJigsawTrain7030(rows: readonly JigsawRow[], seed: number): ClassMix<JigsawRow> {
  const { toxic, nonToxic } = splitByToxic(rows);
  return build7030(toxic, nonToxic, seed);
}

/** 50/50 test recipe (jigsaw_test.csv is already balanced: 3,854/3,854). */
export function buildJigsawTest5050(rows: readonly JigsawRow[], seed: number, nPerClass?: number): ClassMix<JigsawRow> {
  const { toxic, nonToxic } = splitByToxic(rows);
  return buildBalanced(toxic, nonToxic, seed, nPerClass);
}
