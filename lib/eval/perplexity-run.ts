/**
 * Perplexity of checkpoints on a held-out text file (the paper's PPL column), for
 * `rarlhf eval --ppl-model NAME=<ckpt dir>[,<dir per seed>...] --ppl-texts <file> ...`.
 * Paper settings (spec section 6): Jigsaw = non-toxic test comments (--ppl-where toxic=0),
 * first 500 chars; IMDB/RTP = first 1000 chars, batch 8.
 */
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
}

/** Read held-out texts from a CSV/JSONL(.gz) file; errors name file, line and column. */
export function readTexts(spec: TextsSpec): string[] {
  const t = readGenerations(spec.file, spec.format);
  const all = stringColumn(t, spec.textCol ?? 'text');
  const keep = all.map(() => true);
  for (const [col, value] of Object.entries(spec.where ?? {})) {
    stringColumn(t, col).forEach((v, i) => { if (v !== value) keep[i] = false; });
  }
  let texts = all.filter((_, i) => keep[i]);
  if (spec.limit !== undefined) texts = texts.slice(0, spec.limit);
  if (texts.length === 0) throw new Error(`${spec.file}: no texts left after --ppl-where ${JSON.stringify(spec.where ?? {})}`);
  return texts;
}

/**
 * Perplexity of one checkpoint (HF layout, lib/models/checkpoint.ts). Tokenizer: the checkpoint's
 * own, else `fallbackTokenizer` (the GPT-2 BPE from the data dir). BOS = the model's bos_token_id.
 */
export async function checkpointPerplexity(
  dir: string, texts: readonly string[], opts: PerplexityOptions & { fallbackTokenizer?: () => Tokenizer } = {},
): Promise<PerplexityResult> {
  const { initEngine } = await import('../engine');
  const { loadGPT2 } = await import('../models/checkpoint');
  await initEngine({ quiet: true });
  const { model, tokenizer } = loadGPT2(dir);
  try {
    const tok = tokenizer ?? opts.fallbackTokenizer?.();
    if (!tok) throw new Error(`${dir}: checkpoint has no tokenizer files and no fallback tokenizer was given`);
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
  models: Record<string, string[]>, texts: readonly string[], opts: PerplexityOptions & { dataDir?: string } = {},
): Promise<PplRunResult> {
  const fallbackTokenizer = () => {
    const { GPT2Tokenizer } = require('../text/gpt2-tokenizer') as typeof import('../text/gpt2-tokenizer');
    const { dataFile } = require('../data/paths') as typeof import('../data/paths');
    return GPT2Tokenizer.fromDir(dataFile('tokenizers/gpt2', opts.dataDir));
  };
  const out: PplRunResult = { perplexity: {}, corpusPerplexity: {}, texts: texts.length };
  for (const [name, dirs] of Object.entries(models)) {
    out.perplexity[name] = [];
    out.corpusPerplexity[name] = [];
    for (const dir of dirs) {
      const r = await checkpointPerplexity(dir, texts, { ...opts, fallbackTokenizer });
      out.perplexity[name].push(r.meanPerplexity);
      out.corpusPerplexity[name].push(r.corpusPerplexity);
    }
  }
  return out;
}
