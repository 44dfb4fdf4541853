/**
 * Build a generations table (lib/eval/generations.ts format): for every prompt and sample, each
 * model's response and its reward r(prompt + response), plus the prompt's own score r(prompt)
 * (the tail variable of the paper's evaluation). Used by `rarlhf generate`, the demo and repro.
 *
 * Sampling follows the paper's test-time setting: top_k 0, top_p 1, temperature 1, and
 * min_new_tokens = max_new_tokens (spec section 6), one sample per prompt unless asked for more.
 */
import { Rng } from '../engine/rng';
import { generate, type CausalLM } from '../models/generate';
import type { GPT2LMHeadModel } from '../models/gpt2';
import { AutoModelForCausalLM } from '../models/pretrained';
import type { GPT2Tokenizer } from '../text/gpt2-tokenizer';
import type { RewardModel } from '../rewards/types';
import type { Row } from '../eval/generations';

export interface GenerationModel {
  name: string;
  model: CausalLM;
  tokenizer: GPT2Tokenizer;
  /**
   * Ids put in front of every encoded prompt and seen by this model only (an instruction prefix,
   * a Quark control token); the reward still scores the original prompt + response.
   */
  queryPrefix?: number[];
  /** best-of-n (rejection sampling): sample n responses per row, keep the highest-reward one (n reward calls per row) */
  bestOf?: number;
}

/** Checkpoint folders as generation models, each with its own tokenizer (required); dispose them after use. */
export async function loadGenerationModels(checkpoints: readonly { name: string; dir: string }[]): Promise<(GenerationModel & { model: GPT2LMHeadModel })[]> {
  const models: (GenerationModel & { model: GPT2LMHeadModel })[] = [];
  for (const { name, dir } of checkpoints) {
    const { model, tokenizer } = await AutoModelForCausalLM.fromPretrained(dir, { requireTokenizer: true });
    models.push({ name, model, tokenizer });
  }
  return models;
}

export interface GenerationPrompt {
  prompt: string;
  /** class label written to the `class` column (IMDB 0/1 neg/pos, Jigsaw toxic 0/1) */
  cls: number | string;
  /** optional extra columns copied into every row of this prompt */
  extra?: Record<string, string | number | boolean>;
}

export interface GenerationOptions {
  maxNewTokens: number;
  /** default = maxNewTokens (the paper's test-time min_length) */
  minNewTokens?: number;
  /** samples per prompt (k); a `sample` column is written when k > 1 */
  samples?: number;
  /** prompts per generate() call */
  batchSize?: number;
  /** cut prompts to their first N tokens (the paper's 64 / 8 / 32-token prompts) */
  promptTokens?: number;
  seed: number;
  onProgress?: (done: number, total: number) => void;
}

/** Column names of a model in a generations table. */
export function modelColumns(name: string): { response: string; reward: string } {
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new Error(`model name "${name}" must match [A-Za-z0-9_.-]+ (it becomes a column name)`);
  return { response: `${name}_response`, reward: `${name}_reward` };
}

/**
 * Sample responses of every model for every prompt, score them, and return table rows. Each model
 * gets its own Rng stream from the same seed, so adding a model does not change the others' samples.
 */
export async function generationRows(
  prompts: readonly GenerationPrompt[],
  models: readonly GenerationModel[],
  reward: RewardModel,
  opts: GenerationOptions,
): Promise<Row[]> {
  const k = opts.samples ?? 1;
  if (!Number.isInteger(k) || k < 1) throw new Error(`generate: samples must be a positive integer, got ${k}`);
  if (prompts.length === 0) throw new Error('generate: no prompts');
  const names = models.map((m) => m.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new Error(`generate: model name "${dup}" given twice`);
  models.forEach((m) => modelColumns(m.name));
  const batchSize = opts.batchSize ?? 64;

  // Prompt text is the decoded token prefix (trl: query = decode(encode(text)[:L])), using the
  // first model's tokenizer; every model then re-encodes the same string.
  const tok0 = models[0].tokenizer;
  const promptTexts = prompts.map((p) => (opts.promptTokens ? tok0.decode(tok0.encode(p.prompt).slice(0, opts.promptTokens)) : p.prompt));
  const promptScores = await reward.score(promptTexts);

  const rows: Row[] = [];
  for (let i = 0; i < prompts.length; i++) {
    for (let s = 0; s < k; s++) {
      const row: Row = { prompt: promptTexts[i], class: prompts[i].cls, prompt_score: promptScores[i] };
      if (k > 1) row.sample = s;
      Object.assign(row, prompts[i].extra ?? {});
      rows.push(row);
    }
  }
  const total = rows.length * models.length;
  let done = 0;
  for (const m of models) {
    const cols = modelColumns(m.name);
    const rng = new Rng(opts.seed);
    const eos = m.tokenizer.eosTokenId;
    const n = m.bestOf ?? 1;
    if (!Number.isInteger(n) || n < 1) throw new Error(`generate: bestOf of model "${m.name}" must be a positive integer, got ${n}`);
    const prefix = m.queryPrefix ?? [];
    // best-of-n samples n candidates per row: fewer rows per call keep the batch near batchSize
    const step = Math.max(1, Math.floor(batchSize / n));
    for (let start = 0; start < rows.length; start += step) {
      const batch = rows.slice(start, start + step);
      const queries = batch.map((r) => m.tokenizer.encode(String(r.prompt)));
      const empty = queries.findIndex((q) => q.length === 0);
      if (empty >= 0) throw new Error(`generate: prompt ${start + empty} encodes to no tokens`);
      const candidates = batch.flatMap((_, j) => Array.from({ length: n }, () => [...prefix, ...queries[j]]));
      const out = generate(m.model, candidates, {
        maxNewTokens: opts.maxNewTokens, minNewTokens: opts.minNewTokens ?? opts.maxNewTokens,
        topK: 0, topP: 1, temperature: 1, eosTokenId: eos, rng,
      });
      // The reward sees query + decoded response with special tokens kept (spec 2.2), never the prefix.
      const responses = out.responses.map((r) => m.tokenizer.decode(r));
      const scores = await reward.score(responses.map((resp, c) => `${batch[Math.floor(c / n)].prompt}${resp}`));
      batch.forEach((r, j) => {
        const best = argmax(scores.slice(j * n, (j + 1) * n)) + j * n;
        r[cols.response] = responses[best];
        r[cols.reward] = scores[best];
      });
      done += batch.length;
      opts.onProgress?.(done, total);
    }
  }
  return rows;
}

/** Index of the largest value (the first one on ties). */
export function argmax(xs: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}
