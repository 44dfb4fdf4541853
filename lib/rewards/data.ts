/**
 * Labelled rows for training and evaluating reward models, through lib/data's loaders with the
 * paper's length filters switched off (reward training wants every labelled row: all 25k IMDB
 * train reviews, every toxicity source). Only the distilbert-imdb reference file, which lib/data
 * does not load, is read here directly.
 */
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { dataFile } from '../data/paths';
import { loadImdb } from '../data/imdb';
import { loadJigsaw, type JigsawName } from '../data/jigsaw';
import { loadOlid } from '../data/olid';
import { loadRtp } from '../data/rtp';
import { isRewardTrainRow } from './heldout';
/** Dedup key: copies differing only in case or whitespace count once. */
const dedupKey = (t: string) => t.normalize('NFC').toLowerCase().replace(/\s+/g, ' ').trim();

/** Parse a .jsonl or .jsonl.gz file; errors name the file and line. */
export function readJsonl(file: string): Record<string, unknown>[] {
  let buf = fs.readFileSync(file);
  if (file.endsWith('.gz')) buf = zlib.gunzipSync(buf);
  const lines = buf.toString('utf8').split('\n');
  const rows: Record<string, unknown>[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    try {
      rows.push(JSON.parse(lines[i]) as Record<string, unknown>);
    } catch (e) {
      throw new Error(`${file}:${i + 1}: invalid JSON (${(e as Error).message})`);
    }
  }
  return rows;
}

function field<T>(file: string, line: number, row: Record<string, unknown>, name: string, check: (v: unknown) => boolean, want: string): T {
  const v = row[name];
  if (!check(v)) throw new Error(`${file}:${line}: field "${name}" must be ${want}, got ${JSON.stringify(v)?.slice(0, 60)}`);
  return v as T;
}
const isStr = (v: unknown) => typeof v === 'string';
const isNum = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
const isBit = (v: unknown) => v === 0 || v === 1;


export interface SentimentRow {
  text: string;
  label: 0 | 1; // 1 = positive
}

/** IMDB (aclImdb) train or test split: 25,000 rows each, labels 0 = neg / 1 = pos. */
export async function loadImdbLabelled(split: 'train' | 'test', dataDir?: string): Promise<SentimentRow[]> {
  const { rows } = await loadImdb(split, { dataDir, minChars: -1 });
  return rows.map((r) => ({ text: r.text, label: r.label }));
}

export interface ReferenceRow {
  text: string;
  gold: 0 | 1;
  logit: number; // lvwerra/distilbert-imdb raw POSITIVE logit (authors' run)
}

/** The authors' 1,550 distilbert-imdb (text, POSITIVE logit) pairs: mis-scored IMDB *train* reviews. */
export function loadImdbReference(dataDir?: string): ReferenceRow[] {
  const file = dataFile('imdb/ra_rlhf_distilbert_imdb_reference_scores.jsonl', dataDir);
  return readJsonl(file).map((r, i) => ({
    text: field<string>(file, i + 1, r, 'text', isStr, 'a string'),
    gold: field<0 | 1>(file, i + 1, r, 'gold_label', isBit, '0 or 1'),
    logit: field<number>(file, i + 1, r, 'distilbert_imdb_pos_logit', isNum, 'a finite number'),
  }));
}

export interface ToxicityRow {
  text: string;
  /** 1 = toxic / offensive. */
  toxic: 0 | 1;
  /** unitary/toxic-bert reward −logit(toxic), where the authors computed it. */
  reward?: number;
  source: string;
  /**
   * Texts the held-out rule is applied to: every exact variant merged into this row by the dedup.
   * Train on the row only if all are reward-train rows.
   */
  ruleTexts: string[];
}

/** Reward-train side of the held-out rule for a deduplicated row (all variants must agree). */
export function rowIsRewardTrain(row: ToxicityRow): boolean {
  return row.ruleTexts.every(isRewardTrainRow);
}
/** Evaluation side: no variant of the row may be a reward-train text. */
export function rowIsRewardEval(row: ToxicityRow): boolean {
  return row.ruleTexts.every((t) => !isRewardTrainRow(t));
}

/**
 * Every labelled toxicity row available offline, deduplicated by case/whitespace-insensitive text
 * (first occurrence wins; sources with toxic-bert rewards come first so their reward is kept):
 * Jigsaw test (paper's file, with rewards), critical toxic Jigsaw-train prefixes (with rewards),
 * wiki_toxic test, the first 282 Kaggle train rows, OLID train+test (subtask A: OFF = 1) and the
 * RTP subset prompts (Perspective toxicity > 0.5 = 1).
 */
export async function loadToxicityLabelled(dataDir?: string): Promise<ToxicityRow[]> {
  const out: ToxicityRow[] = [];
  const seen = new Map<string, ToxicityRow>();
  const push = (row: ToxicityRow) => {
    const key = dedupKey(row.text);
    if (key === '') return;
    const first = seen.get(key);
    if (first) {
      for (const t of row.ruleTexts) if (!first.ruleTexts.includes(t)) first.ruleTexts.push(t);
      return;
    }
    seen.set(key, row);
    out.push(row);
  };
  const all = { dataDir, minChars: -1 };
  const jigsaw: [JigsawName, string][] = [
    ['test', 'jigsaw_test'], ['critical-toxic-prefixes', 'jigsaw_critical_prefixes'],
    ['wiki-toxic-test', 'wiki_toxic_test'], ['kaggle-train-sample', 'kaggle_train_282'],
  ];
  for (const [name, source] of jigsaw) {
    for (const r of (await loadJigsaw(name, all)).rows) push({ text: r.text, toxic: r.toxic, reward: r.reward ?? undefined, source, ruleTexts: [r.text] });
  }
  for (const split of ['train', 'test'] as const) {
    for (const r of (await loadOlid(split, all)).rows) push({ text: r.text, toxic: r.toxic, source: `olid_${split}`, ruleTexts: [r.text] });
  }
  for (const r of (await loadRtp('subset-flat', { dataDir })).rows) push({ text: r.text, toxic: r.label, source: 'rtp_prompt', ruleTexts: [r.text] });
  return out;
}
