/**
 * The reward-model contract (docs/ARCHITECTURE.md) and the batching loop every implementation
 * shares: input checks, fixed-size batches, and a cli-progress bar on stderr for long inputs.
 */
import { SingleBar, Presets } from 'cli-progress';

export interface ScoreOptions {
  batchSize?: number;
  /** Show a progress bar on stderr. Default: only for >= 1,000 texts when stderr is a TTY. */
  progress?: boolean;
}

export interface RewardModel {
  name: string;
  /** One scalar reward per text, in input order (scale: see each model's docs). */
  score(texts: string[], opts?: ScoreOptions): Promise<number[]>;
  dispose?(): void | Promise<void>;
}

/** Reject what no reward model can score, naming the offending index. */
export function checkTexts(texts: unknown, who: string): asserts texts is string[] {
  if (!Array.isArray(texts)) throw new Error(`${who}: texts must be an array of strings, got ${typeof texts}`);
  for (let i = 0; i < texts.length; i++) {
    const t = texts[i] as unknown;
    if (typeof t !== 'string') throw new Error(`${who}: texts[${i}] must be a string, got ${t === null ? 'null' : typeof t}`);
    if (t.trim() === '') throw new Error(`${who}: texts[${i}] is empty (or only whitespace); a reward model needs text to score`);
  }
}

/** Run `scoreBatch` over consecutive slices of `texts`, with an optional progress bar. */
export async function scoreInBatches(
  who: string,
  texts: string[],
  opts: ScoreOptions | undefined,
  defaultBatch: number,
  scoreBatch: (batch: string[]) => Promise<number[]>,
): Promise<number[]> {
  checkTexts(texts, who);
  const batchSize = opts?.batchSize ?? defaultBatch;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`${who}: batchSize must be a positive integer, got ${batchSize}`);
  const showBar = opts?.progress ?? (texts.length >= 1000 && Boolean(process.stderr.isTTY));
  const bar = showBar
    ? new SingleBar({ stream: process.stderr, format: `${who} [{bar}] {value}/{total} texts | {eta_formatted} left`, hideCursor: true }, Presets.shades_classic)
    : null;
  bar?.start(texts.length, 0);
  const out: number[] = [];
  try {
    for (let i = 0; i < texts.length; i += batchSize) {
      const batch = texts.slice(i, i + batchSize);
      const scores = await scoreBatch(batch);
      if (scores.length !== batch.length) throw new Error(`${who}: batch gave ${scores.length} scores for ${batch.length} texts`);
      out.push(...scores);
      bar?.update(Math.min(i + batchSize, texts.length));
    }
  } finally {
    bar?.stop();
  }
  return out;
}
