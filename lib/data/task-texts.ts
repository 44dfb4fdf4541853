/**
 * Texts a recipe needs beyond loadTask's prompts, per dataset (the dataset branches live here, in
 * the data layer): the causal-LM "pretraining" corpus of a miniature and train prompts of another
 * size than the task's.
 */
import { filterByLength, loadImdb } from './imdb';
import { makePrompts, type PromptTokenizer } from './prompts';
import { seededSample } from './split';
import type { TaskData } from './tasks';

/** Pretraining text: IMDB every train review (both classes); other tasks their train prompts' and SFT texts. */
export async function pretrainTexts(task: TaskData, dataDir?: string): Promise<string[]> {
  if (task.spec.dataset === 'imdb') return (await loadImdb('train', { dataDir, minChars: -1 })).rows.map((r) => r.text);
  return [...new Set([...task.train.map((p) => p.text), ...task.sftTexts])];
}

/**
 * Train prompt ids for `n` prompts. The task's own size: loadTask's prompts unchanged. Another size
 * (IMDB only): loadTask's recipe (imdbParts) with that size: train reviews with len > 200,
 * seededSample(n, dataSeed), first promptTokens tokens.
 */
export async function trainPromptIds(task: TaskData, n: number, tokenizer: PromptTokenizer, dataDir?: string): Promise<number[][]> {
  if (n === (task.spec.trainSize ?? task.train.length)) return task.train.map((p) => p.queryIds);
  if (task.spec.dataset !== 'imdb') throw new Error(`repro: --train-prompts other than the task's ${task.spec.trainSize} is supported for imdb-mini only, got ${n} for ${task.spec.name}`);
  const rows = filterByLength(await loadImdb('train', { dataDir, minChars: -1 })).rows;
  if (n > rows.length) throw new Error(`repro: --train-prompts ${n} exceeds the ${rows.length} IMDB train reviews with len > 200`);
  return makePrompts(seededSample(rows, n, task.spec.dataSeed).map((r) => r.text), tokenizer, task.spec.promptTokens).map((p) => p.queryIds);
}
