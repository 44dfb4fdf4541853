/**
 * Labelled rows for training and evaluating reward models, read from the staged data dir
 * (see ../shared/data/PROVENANCE.md). Reward training wants the raw labelled files (all 25k
 * IMDB train reviews, every labelled toxicity source), not the task prompts that lib/data
 * prepares for PPO, so this reader stays small and reward-specific; paths come from lib/data.
 */
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { dataFile } from '../data/paths';
import { isRewardTrainRow } from './heldout';
/** Dedup key: copies differing only in case or whitespace count once. */
const heldoutKey = (t: string) => t.normalize('NFC').toLowerCase().replace(/\s+/g, ' ').trim();

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
export function loadImdbLabelled(split: 'train' | 'test', dataDir?: string): SentimentRow[] {
  const file = dataFile(`imdb/imdb_${split}.jsonl.gz`, dataDir);
  return readJsonl(file).map((r, i) => ({
    text: field<string>(file, i + 1, r, 'text', isStr, 'a string'),
    label: field<0 | 1>(file, i + 1, r, 'label', isBit, '0 or 1'),
  }));
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
   * Texts the held-out rule is applied to: every exact variant merged into this row by the dedup
   * (and the prompt for RTP continuations). Train on the row only if all are reward-train rows.
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
 * Every labelled toxicity row available offline, deduplicated by the held-out key (first
 * occurrence wins; sources with toxic-bert rewards come first so their reward is kept):
 * Jigsaw test (paper's file, with rewards), critical toxic Jigsaw-train prefixes (with rewards),
 * wiki_toxic test, the first 282 Kaggle train rows, OLID train+test (subtask A: OFF = 1),
 * RTP subset prompts (Perspective > 0.5) and their continuations (continuation Perspective > 0.5).
 */
export function loadToxicityLabelled(dataDir?: string): ToxicityRow[] {
  const out: ToxicityRow[] = [];
  const seen = new Map<string, ToxicityRow>();
  const push = (row: ToxicityRow) => {
    const key = heldoutKey(row.text);
    if (key === '') return;
    const first = seen.get(key);
    if (first) {
      for (const t of row.ruleTexts) if (!first.ruleTexts.includes(t)) first.ruleTexts.push(t);
      return;
    }
    seen.set(key, row);
    out.push(row);
  };
  const jig = (rel: string, source: string, textField: string, withReward: boolean) => {
    const file = dataFile(rel, dataDir);
    readJsonl(file).forEach((r, i) => {
      const text = field<string>(file, i + 1, r, textField, isStr, 'a string');
      const toxic = field<0 | 1>(file, i + 1, r, 'toxic', isBit, '0 or 1');
      const reward = withReward ? field<number>(file, i + 1, r, 'reward', isNum, 'a finite number') : undefined;
      push({ text, toxic, reward, source, ruleTexts: [text] });
    });
  };
  jig('jigsaw/ra_rlhf_jigsaw_test.jsonl.gz', 'jigsaw_test', 'comment_text', true);
  jig('jigsaw/ra_rlhf_train7030_critical_toxic_prefixes.jsonl', 'jigsaw_critical_prefixes', 'text', true);
  jig('jigsaw/ra_rlhf_wiki_toxic_test.jsonl.gz', 'wiki_toxic_test', 'comment_text', false);
  jig('jigsaw/kaggle_train_first282_detoxify.jsonl', 'kaggle_train_282', 'comment_text', false);
  for (const split of ['train', 'test']) {
    const file = dataFile(`olid/olid_${split}.jsonl`, dataDir);
    readJsonl(file).forEach((r, i) => {
      const text = field<string>(file, i + 1, r, 'tweet', isStr, 'a string');
      const a = field<string>(file, i + 1, r, 'subtask_a', (v) => v === 'OFF' || v === 'NOT', '"OFF" or "NOT"');
      push({ text, toxic: a === 'OFF' ? 1 : 0, source: `olid_${split}`, ruleTexts: [text] });
    });
  }
  const file = dataFile('rtp/rtp_decodingtrust_subset_flat.jsonl', dataDir);
  readJsonl(file).forEach((r, i) => {
    const prompt = field<string>(file, i + 1, r, 'Prompt', isStr, 'a string');
    const label = field<boolean>(file, i + 1, r, 'Label', (v) => typeof v === 'boolean', 'a boolean');
    push({ text: prompt, toxic: label ? 1 : 0, source: 'rtp_prompt', ruleTexts: [prompt] });
    const cont = r.Continuation;
    const ctox = (r.continuation_scores as Record<string, unknown> | undefined)?.toxicity;
    if (typeof cont === 'string' && isNum(ctox)) {
      push({ text: cont, toxic: (ctox as number) > 0.5 ? 1 : 0, source: 'rtp_continuation', ruleTexts: [cont, prompt] });
    }
  });
  return out;
}
