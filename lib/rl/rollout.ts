/**
 * Rollouts for PPO (trl 0.7 `generate` + `batched_forward_pass`): sample responses from left-padded
 * queries, build right-padded query+response sequences with response masks, and run the no-grad
 * forward passes that give logprobs, ref_logprobs and values.
 *
 * Mask convention (trl): logprob index j predicts token j+1, so the response of a query of length
 * |q| occupies logprob indices [|q|-1, |q|-1+|r|). Sequences are right-padded with pad (= eos), as
 * trl's DataCollatorForLanguageModeling does with GPT-2's default padding side.
 */
import { tf, Rng } from '../engine';
import { generate, sequenceLogprobs } from '../models/generate';
import type { ForwardArgs, GPT2LMHeadModel, GPT2WithValueHead } from '../models/gpt2';
import type { GPT2Tokenizer } from '../text/gpt2-tokenizer';
import { KLPenalty, klPenalty } from './core';

export interface GenerationConfig {
  max_new_tokens: number;
  /** HF min_length: counts the (left-padded) prompt, so it only bites for short prompts (spec §2.2). */
  min_length?: number;
  /** Extra floor on new tokens (HF min_new_tokens); the larger of the two constraints wins. */
  min_new_tokens?: number;
  top_k?: number; // 0 = off (paper)
  top_p?: number; // 1 = off (paper)
  temperature?: number;
  /** Queries generated together (trl: 4). Changes only padding and speed. */
  chunk_size?: number;
}

/**
 * Sample one response per query. trl samples through `model.generate` in whatever mode the model is
 * in; after the first PPO step that is train mode, so GPT-2 dropout is active while sampling (spec
 * §2.2). `rolloutDropout: true` reproduces that quirk; the default samples in eval mode.
 */
export function generateResponses(
  policy: GPT2WithValueHead,
  queries: number[][],
  gen: GenerationConfig,
  rng: Rng,
  opts: { rolloutDropout?: boolean } = {},
): number[][] {
  const lm = policy.lm;
  const model = opts.rolloutDropout
    ? {
        config: lm.config,
        lmHeadT: () => lm.lmHeadT(),
        forward: (a: ForwardArgs) => lm.forward({ ...a, training: true, rng }),
      }
    : lm;
  const chunk = gen.chunk_size ?? queries.length;
  const responses: number[][] = [];
  for (let i = 0; i < queries.length; i += chunk) {
    const part = queries.slice(i, i + chunk);
    const padded = Math.max(...part.map((q) => q.length));
    const minNew = Math.max(gen.min_new_tokens ?? 0, (gen.min_length ?? 0) - padded);
    const out = generate(model, part, {
      maxNewTokens: gen.max_new_tokens,
      minNewTokens: minNew > 0 ? minNew : undefined,
      topK: gen.top_k ?? 0,
      topP: gen.top_p ?? 1,
      temperature: gen.temperature ?? 1,
      eosTokenId: lm.config.eos_token_id,
      rng,
    });
    responses.push(...out.responses);
  }
  return responses;
}

/** Reward-model input as trl builds it: decode(query) + decode(response), special tokens kept. */
export function rewardTexts(tokenizer: GPT2Tokenizer, queries: number[][], responses: number[][]): { queryTexts: string[]; responseTexts: string[]; texts: string[] } {
  const queryTexts = queries.map((q) => tokenizer.decode(q, { skipSpecialTokens: false }));
  const responseTexts = responses.map((r) => tokenizer.decode(r, { skipSpecialTokens: false }));
  return { queryTexts, responseTexts, texts: queryTexts.map((q, i) => q + responseTexts[i]) };
}

export interface PPOBatch {
  inputIds: tf.Tensor2D; // [B, T] int32, right-padded query+response
  attentionMask: tf.Tensor2D; // [B, T] int32
  masks: tf.Tensor2D; // [B, T-1] float32, 1 on response positions in logprob coordinates
  firstResponseIndex: number[]; // per row, |q| - 1
}

/** Right-pad query+response rows and build the response masks. Caller disposes the tensors. */
export function buildBatch(queries: number[][], responses: number[][], padTokenId: number): PPOBatch {
  const B = queries.length;
  if (B === 0 || responses.length !== B) throw new Error(`buildBatch: ${B} queries but ${responses.length} responses`);
  const lens = queries.map((q, i) => {
    if (q.length === 0) throw new Error(`buildBatch: query ${i} is empty`);
    if (responses[i].length === 0) throw new Error(`buildBatch: response ${i} is empty (trl needs >= 1 response token to place the score)`);
    return q.length + responses[i].length;
  });
  const T = Math.max(...lens);
  const ids = new Int32Array(B * T).fill(padTokenId);
  const att = new Int32Array(B * T);
  const masks = new Float32Array(B * (T - 1));
  for (let b = 0; b < B; b++) {
    const seq = [...queries[b], ...responses[b]];
    for (let t = 0; t < seq.length; t++) {
      ids[b * T + t] = seq[t];
      att[b * T + t] = 1;
    }
    const start = queries[b].length - 1;
    for (let j = start; j < start + responses[b].length; j++) masks[b * (T - 1) + j] = 1;
  }
  return {
    inputIds: tf.tensor2d(ids, [B, T], 'int32'),
    attentionMask: tf.tensor2d(att, [B, T], 'int32'),
    masks: tf.tensor2d(masks, [B, T - 1], 'float32'),
    firstResponseIndex: queries.map((q) => q.length - 1),
  };
}

/** Rows [start, end) of a rank-2 tensor. */
function rows<T extends tf.Tensor>(x: T, start: number, end: number): T {
  return x.slice([start, ...x.shape.slice(1).map(() => 0)], [end - start, ...x.shape.slice(1).map(() => -1)]) as T;
}

/**
 * trl batched_forward_pass (no gradients, dropout off) in chunks of `fbs` rows: policy logprobs and
 * values, reference logprobs, and the per-token KL penalty (kind 'full' needs the whole
 * distributions, so it is computed here chunk by chunk).
 */
export function forwardBatch(
  policy: GPT2WithValueHead,
  ref: Pick<GPT2LMHeadModel, 'forward' | 'config'>,
  batch: PPOBatch,
  opts: { fbs: number; klPenalty: KLPenalty },
): { logprobs: tf.Tensor2D; values: tf.Tensor2D; refLogprobs: tf.Tensor2D; kl: tf.Tensor2D } {
  const B = batch.inputIds.shape[0];
  const parts: { logprobs: tf.Tensor2D; values: tf.Tensor2D; refLogprobs: tf.Tensor2D; kl: tf.Tensor2D }[] = [];
  for (let s = 0; s < B; s += opts.fbs) {
    const e = Math.min(B, s + opts.fbs);
    parts.push(
      tf.tidy(() => {
        const ids = rows(batch.inputIds, s, e);
        const att = rows(batch.attentionMask, s, e);
        const full = opts.klPenalty === 'full';
        const p = sequenceLogprobs(policy, ids, att, { training: false, returnLogits: full });
        const r = sequenceLogprobs(ref, ids, att, { training: false, returnLogits: full });
        const kl = klPenalty(opts.klPenalty, p.logprobs, r.logprobs, full ? { logits: p.logits!, refLogits: r.logits! } : undefined);
        return { logprobs: p.logprobs, values: p.values!, refLogprobs: r.logprobs, kl };
      }),
    );
  }
  const cat = (k: 'logprobs' | 'values' | 'refLogprobs' | 'kl') => {
    const t = parts.length === 1 ? parts[0][k] : (tf.concat(parts.map((p) => p[k]), 0) as tf.Tensor2D);
    if (parts.length > 1) tf.dispose(parts.map((p) => p[k]));
    return t;
  };
  return { logprobs: cat('logprobs'), values: cat('values'), refLogprobs: cat('refLogprobs'), kl: cat('kl') };
}
