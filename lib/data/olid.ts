/**
 * OLID v1.0 (Zampieri et al. 2019): the official TSV (olid-training-v1.0.tsv: id, tweet,
 * subtask_a, subtask_b, subtask_c with "NULL") or the staged JSONL (<dataDir>/olid/olid_<split>.jsonl).
 * `toxic` = subtask_a == "OFF". Not a paper task; used as extra offensive/non-offensive prompts.
 */
import { dataFile } from './paths';
import { codePointLength, drop, FieldError, loadRows, num, optText, recordsFor, text, type Loaded, type ReadOptions } from './readers';

export interface OlidRow {
  id: number;
  text: string;
  subtaskA: 'NOT' | 'OFF';
  subtaskB: 'TIN' | 'UNT' | null;
  subtaskC: 'IND' | 'GRP' | 'OTH' | null;
  toxic: 0 | 1;
}

export interface OlidOptions extends ReadOptions {
  dataDir?: string;
  source?: string;
  /** Keep len(tweet) > minChars when >= 0 (off by default: -1). */
  minChars?: number;
}

function oneOf<T extends string>(v: string | null, name: string, allowed: readonly T[], nullable: boolean): T | null {
  if (v === null) {
    if (nullable) return null;
    throw new FieldError(name, 'missing value');
  }
  if (!allowed.includes(v as T)) throw new FieldError(name, `expected one of ${allowed.join('/')}, got ${JSON.stringify(v)}`);
  return v as T;
}

export async function loadOlid(split: 'train' | 'test', opts: OlidOptions = {}): Promise<Loaded<OlidRow>> {
  const source = opts.source ?? dataFile(`olid/olid_${split}.jsonl`, opts.dataDir);
  const minChars = opts.minChars ?? -1;
  return loadRows<OlidRow>(
    source,
    recordsFor(source, opts),
    (rec) => {
      const id = num(rec, 'id')!;
      if (!Number.isInteger(id)) throw new FieldError('id', `expected an integer, got ${JSON.stringify(rec.id)}`);
      const t = text(rec, 'tweet');
      const subtaskA = oneOf(optText(rec, 'subtask_a'), 'subtask_a', ['NOT', 'OFF'] as const, false)!;
      const subtaskB = oneOf(optText(rec, 'subtask_b'), 'subtask_b', ['TIN', 'UNT'] as const, true);
      const subtaskC = oneOf(optText(rec, 'subtask_c'), 'subtask_c', ['IND', 'GRP', 'OTH'] as const, true);
      if (minChars >= 0 && codePointLength(t) <= minChars) return drop(`len<=${minChars}`);
      return { id, text: t, subtaskA, subtaskB, subtaskC, toxic: subtaskA === 'OFF' ? 1 : 0 };
    },
    { ...opts, label: `olid ${split}`, unit: 'tweets' },
  );
}
