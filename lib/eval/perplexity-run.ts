/**
 * Perplexity of checkpoints on a held-out text file (the paper's PPL column), for
 * `rarlhf eval --ppl-model NAME=<ckpt dir>[,<dir per seed>...] --ppl-texts <file> ...`.
 * Paper settings (spec section 6): Jigsaw = non-toxic test comments (--ppl-where toxic=0),
 * first 500 chars; IMDB/RTP = first 1000 chars, batch 8.
 */
import { dataLog } from '../data/strict';
import { readGenerations, stringColumn, type GenerationsFormat } from './generations';
import { causalLMLogprobs, perplexity, type PerplexityOptions, type PerplexityResult, type Tokenizer } from './perplexity';

export interface TextsSpec {
  file: string;
  format?: GenerationsFormat;
  /** column with the human text (default "text") */
  textCol?: string;
  /** keep rows whose column equals the value (as strings), e.g. {toxic: "0"} */
  where?: Record<string, string>;
  /** keep the first N texts after filtering */
  limit?: number;
  /** read invalid UTF-8 as U+FFFD (counted, printed) instead of failing */
  allowReplacement?: boolean;
}

/** Read held-out texts from a CSV/JSONL(.gz) file; errors name file, line and column. */
export function readTexts(spec: TextsSpec): string[] {
  const t = readGenerations(spec.file, spec.format, { allowReplacement: spec.allowReplacement });
  const all = stringColumn(t, spec.textCol ?? 'text');
  const keep = all.map(() => true);
  for (const [col, value] of Object.entries(spec.where ?? {})) {
    stringColumn(t, col).forEach((v, i) => { if (v !== value) keep[i] = false; });
  }
  let texts = all.filter((_, i) => keep[i]);
  if (texts.length < all.length) dataLog(`${spec.file}: --ppl-where ${JSON.stringify(spec.where)} dropped ${all.length - texts.length} of ${all.length} texts`);
  if (spec.limit !== undefined && texts.length > spec.limit) {
    dataLog(`${spec.file}: --ppl-limit ${spec.limit} keeps the first ${spec.limit} of ${texts.length} texts`);
    texts = texts.slice(0, spec.limit);
  }
  if (texts.length === 0) throw new Error(`${spec.file}: no texts left after --ppl-where ${JSON.stringify(spec.where ?? {})}`);
  return texts;
}

/**
 * Perplexity of one checkpoint (HF layout, lib/models/checkpoint.ts). Tokenizer: the checkpoint's
 * own; a checkpoint without tokenizer files needs `tokenizerDir` (no silent fallback: the wrong
 * tokenizer gives a plausible but meaningless number). BOS = the model's bos_token_id.
 */
export async function checkpointPerplexity(
  dir: string, texts: readonly string[], opts: PerplexityOptions & { tokenizerDir?: string } = {},
): Promise<PerplexityResult> {
  const { initEngine } = await import('../engine');
  const { loadGPT2 } = await import('../models/checkpoint');
  const { missingTokenizerMessage } = await import('../models/load-checks');
  await initEngine({ quiet: true });
  const { model, tokenizer } = loadGPT2(dir);
  try {
    let tok: Tokenizer | undefined = tokenizer;
    if (!tok && opts.tokenizerDir) {
      const { GPT2Tokenizer } = await import('../text/gpt2-tokenizer');
      tok = GPT2Tokenizer.fromDir(opts.tokenizerDir);
      dataLog(`${dir}: no tokenizer files; using --ppl-tokenizer ${opts.tokenizerDir}`);
    }
    if (!tok) throw new Error(`${missingTokenizerMessage(dir)}; pass --ppl-tokenizer <dir> to name the tokenizer it was trained with`);
    return await perplexity(causalLMLogprobs(model), tok, texts, { bosTokenId: model.config.bos_token_id, ...opts });
  } finally {
    model.dispose();
  }
}

export interface PplRunResult {
  /** model name -> mean-of-per-text PPL per seed checkpoint (the paper's number) */
  perplexity: Record<string, number[]>;
  /** model name -> corpus-level exp(mean NLL) per seed checkpoint */
  corpusPerplexity: Record<string, number[]>;
  texts: number;
}

/** Every `NAME=dir1,dir2` checkpoint list on the same texts. */
export async function perplexityOfModels(
  models: Record<string, string[]>, texts: readonly string[], opts: PerplexityOptions & { tokenizerDir?: string } = {},
): Promise<PplRunResult> {
  const out: PplRunResult = { perplexity: {}, corpusPerplexity: {}, texts: texts.length };
  for (const [name, dirs] of Object.entries(models)) {
    out.perplexity[name] = [];
    out.corpusPerplexity[name] = [];
    for (const dir of dirs) {
      const r = await checkpointPerplexity(dir, texts, opts);
      out.perplexity[name].push(r.meanPerplexity);
      out.corpusPerplexity[name].push(r.corpusPerplexity);
    }
  }
  return out;
}
