/**
 * Perplexity of held-out human text (spec section 6 "Perplexity"), as Hugging Face
 * `evaluate.load("perplexity", module_type="measurement")` computes it:
 *   - each text cut to its first N characters (Python slicing: code points, not UTF-16 units),
 *   - tokenized without special tokens, BOS (50256) prepended (add_start_token=True),
 *   - no truncation, no sliding window, right padding with an attention mask,
 *   - per-text PPL = exp(sum of masked token cross-entropies / number of predicted tokens).
 * We report the mean of per-text PPLs (the paper's number) AND the corpus-level
 * exp(total NLL / total tokens).
 * Difference from HF, same numbers: HF pads every batch to the longest text of the whole corpus;
 * we pad to the longest text of each batch (padding never changes a right-padded causal LM's
 * outputs on real tokens).
 */
import type * as tfTypes from '@tensorflow/tfjs';

/** Anything that can score next tokens. */
export interface TokenLogprobModel {
  /**
   * inputIds: right-padded [B][T]; attentionMask: 1 on real tokens, 0 on pads.
   * Returns [B][T-1]: out[b][t] = log p(inputIds[b][t+1] | inputIds[b][0..t]).
   */
  logprobsOf(inputIds: number[][], attentionMask: number[][]): Promise<number[][]>;
}

export interface Tokenizer { encode(text: string): number[] }

export interface PerplexityOptions {
  /** keep the first maxChars characters of each text (500 Jigsaw, 1000 IMDB/RTP); default: all */
  maxChars?: number;
  /** texts per forward pass (HF default 16; the paper's scripts use 8) */
  batchSize?: number;
  /** prepend BOS (default true, as the paper) */
  addStartToken?: boolean;
  bosTokenId?: number;
  /** pad id on the right (masked out, so any valid id works); default bosTokenId */
  padTokenId?: number;
  /** called after each batch with (texts done, total) */
  onProgress?: (done: number, total: number) => void;
}

export interface PerplexityResult {
  /** per-text perplexities, input order */
  perplexities: number[];
  /** mean of per-text PPLs: the number the paper reports */
  meanPerplexity: number;
  /** exp(sum of all token NLLs / number of all predicted tokens) */
  corpusPerplexity: number;
  /** predicted tokens per text (sequence length incl. BOS minus 1) */
  tokens: number[];
}

/** First n code points of s, as Python's s[:n]. */
export function firstChars(s: string, n?: number): string {
  if (n === undefined) return s;
  let out = '';
  let i = 0;
  for (const ch of s) { if (i++ >= n) break; out += ch; }
  return out;
}

/** Right-pad token sequences into a batch with a 0/1 attention mask. */
export function rightPadBatch(seqs: readonly number[][], padId: number): { inputIds: number[][]; attentionMask: number[][] } {
  const T = Math.max(...seqs.map((s) => s.length));
  return {
    inputIds: seqs.map((s) => [...s, ...new Array<number>(T - s.length).fill(padId)]),
    attentionMask: seqs.map((s) => [...new Array<number>(s.length).fill(1), ...new Array<number>(T - s.length).fill(0)]),
  };
}

/**
 * Per-sequence NLL sums and token counts from next-token logprobs, masked as HF does:
 * target t+1 counts iff attentionMask[t+1] = 1.
 */
export function maskedNll(logprobs: readonly number[][], attentionMask: readonly number[][]): { nll: number[]; tokens: number[] } {
  const nll: number[] = [];
  const tokens: number[] = [];
  logprobs.forEach((row, b) => {
    let s = 0;
    let n = 0;
    for (let t = 0; t < row.length; t++) {
      if (attentionMask[b][t + 1] === 1) { s -= row[t]; n++; }
    }
    nll.push(s);
    tokens.push(n);
  });
  return { nll, tokens };
}

/** Perplexity of pre-tokenized sequences (BOS handling included). */
export async function perplexityOfIds(model: TokenLogprobModel, ids: readonly number[][], opts: PerplexityOptions = {}): Promise<PerplexityResult> {
  const bos = opts.bosTokenId ?? 50256;
  const pad = opts.padTokenId ?? bos;
  const batchSize = opts.batchSize ?? 16;
  const seqs = ids.map((s) => ((opts.addStartToken ?? true) ? [bos, ...s] : [...s]));
  seqs.forEach((s, i) => {
    if (s.length < 2) throw new Error(`perplexity: text ${i} has no token to predict (empty after cutting; add_start_token=${opts.addStartToken ?? true})`);
  });
  // Batch texts of similar length together (less padding); results go back in input order.
  const order = seqs.map((_, i) => i).sort((a, b) => seqs[a].length - seqs[b].length || a - b);
  const nll = new Array<number>(seqs.length);
  const tokens = new Array<number>(seqs.length);
  for (let start = 0; start < order.length; start += batchSize) {
    const idx = order.slice(start, start + batchSize);
    const batch = rightPadBatch(idx.map((i) => seqs[i]), pad);
    const lp = await model.logprobsOf(batch.inputIds, batch.attentionMask);
    const r = maskedNll(lp, batch.attentionMask);
    idx.forEach((i, j) => { nll[i] = r.nll[j]; tokens[i] = r.tokens[j]; });
    opts.onProgress?.(Math.min(start + batchSize, order.length), order.length);
  }
  const perplexities = nll.map((s, i) => Math.exp(s / tokens[i]));
  const totalTokens = tokens.reduce((a, b) => a + b, 0);
  const totalNll = nll.reduce((a, b) => a + b, 0);
  return {
    perplexities,
    meanPerplexity: perplexities.reduce((a, b) => a + b, 0) / perplexities.length,
    corpusPerplexity: Math.exp(totalNll / totalTokens),
    tokens,
  };
}

/** Perplexity of human texts: cut to maxChars, tokenize, then `perplexityOfIds`. */
export async function perplexity(model: TokenLogprobModel, tokenizer: Tokenizer, texts: readonly string[], opts: PerplexityOptions = {}): Promise<PerplexityResult> {
  const ids = texts.map((t) => tokenizer.encode(firstChars(t, opts.maxChars)));
  return perplexityOfIds(model, ids, opts);
}

/** The part of GPT2LMHeadModel (lib/models/gpt2.ts) that perplexity needs. */
export interface CausalLM {
  forward(args: { inputIds: tfTypes.Tensor2D; attentionMask?: tfTypes.Tensor2D; positionIds?: tfTypes.Tensor2D; training?: boolean }): { logits: tfTypes.Tensor3D };
}

/**
 * Adapt a tfjs causal LM (HF GPT2LMHeadModel semantics) to TokenLogprobModel. Right padding, so
 * position ids are 0..T-1 as HF uses when none are given. log p(target) = logit[target] -
 * logsumexp(logits) so the full [B,T,V] log-softmax is never materialised; one array read per
 * batch.
 */
export function causalLMLogprobs(model: CausalLM): TokenLogprobModel {
  // Lazy: the eval CLI does not need tfjs unless perplexity is computed.
  const tf = require('@tensorflow/tfjs') as typeof tfTypes;
  return {
    async logprobsOf(inputIds, attentionMask) {
      const B = inputIds.length;
      const T = inputIds[0].length;
      const out = tf.tidy(() => {
        const ids = tf.tensor2d(inputIds, [B, T], 'int32');
        const mask = tf.tensor2d(attentionMask, [B, T], 'int32');
        const pos = tf.tile(tf.range(0, T, 1, 'int32').expandDims(0), [B, 1]) as tfTypes.Tensor2D;
        const { logits } = model.forward({ inputIds: ids, attentionMask: mask, positionIds: pos, training: false });
        const V = logits.shape[2];
        const shifted = tf.slice(logits, [0, 0, 0], [B, T - 1, V]);
        const lse = tf.logSumExp(shifted, -1); // [B, T-1]
        const targets = inputIds.flatMap((row) => row.slice(1));
        const flatIdx = tf.tensor1d(targets.map((y, i) => i * V + y), 'int32');
        const picked = tf.gather(tf.reshape(shifted, [-1]), flatIdx).reshape([B, T - 1]);
        return tf.sub(picked, lse);
      });
      const arr = (await out.array()) as number[][];
      out.dispose();
      return arr;
    },
  };
}
