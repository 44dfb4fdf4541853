/**
 * Batched sampling from left-padded prompts with a KV cache (HF generate semantics as trl 0.7 uses
 * it), plus per-token logprobs of given sequences for PPO.
 *
 * Logits processing order follows HF: min_new_tokens (EOS -> -inf) -> temperature -> top-k ->
 * top-p. Sampling is inverse-CDF on the tensor with one uniform per row from the seeded Rng, so
 * only the B sampled ids are synced to JS per step.
 */
import { getMatmulMode, logprobRows, nativeActive, sampleRows, tf } from '../engine';
import { Rng } from '../engine/rng';
import type { ForwardArgs, GPT2Config, GPT2LMHeadModel, KVCache } from './gpt2';

/**
 * Anything with a GPT-2 style forward (GPT2LMHeadModel, GPT2WithValueHead via its .lm, or an
 * ensemble such as DExpertsLM, which has no single head to pre-transpose).
 */
type ForwardLM = Pick<GPT2LMHeadModel, 'config' | 'forward'> & Partial<Pick<GPT2LMHeadModel, 'lmHeadT'>>;
export type CausalLM = ForwardLM | { lm: ForwardLM };

export interface GenerateOptions {
  maxNewTokens: number;
  /** EOS is suppressed until this many tokens were generated (HF min_new_tokens). */
  minNewTokens?: number;
  temperature?: number;
  /** 0 = off. */
  topK?: number;
  /** 1 = off. */
  topP?: number;
  greedy?: boolean;
  eosTokenId?: number;
  /** Defaults to eosTokenId (GPT-2 has no pad token; trl sets pad = eos). */
  padTokenId?: number;
  rng?: Rng;
  seed?: number;
}

export interface GenerateOutput {
  /** Per row: generated ids, cut after the first EOS (EOS kept), as trl's remove_padding. */
  responses: number[][];
  /** Per row: query (without padding) followed by its response. */
  sequences: number[][];
}

/** Left-pad queries to a common length; mask 0 on pads. */
export function leftPad(queries: number[][], padTokenId: number): { inputIds: number[][]; attentionMask: number[][] } {
  if (queries.length === 0) throw new Error('leftPad: no queries');
  const L = Math.max(...queries.map((q) => q.length));
  queries.forEach((q, i) => {
    if (q.length === 0) throw new Error(`leftPad: query ${i} is empty`);
  });
  return {
    inputIds: queries.map((q) => [...new Array<number>(L - q.length).fill(padTokenId), ...q]),
    attentionMask: queries.map((q) => [...new Array<number>(L - q.length).fill(0), ...new Array<number>(q.length).fill(1)]),
  };
}

export interface LogitsProcessing {
  /** Tokens generated so far (for min_new_tokens). */
  step: number;
  minNewTokens?: number;
  eosTokenId?: number;
  temperature?: number;
  topK?: number;
  topP?: number;
}

/** Logit given to removed tokens: exp() of it is exactly 0 in float32. */
export const REMOVED = -1e30;

/**
 * x where x >= thr (thr [B, 1]), else REMOVED or lower. Arithmetic (step) rather than tf.where:
 * wasm's broadcasting comparison/select kernels are ~25x slower than its broadcasting sub.
 */
function removeBelow(x: tf.Tensor2D, thr: tf.Tensor): tf.Tensor2D {
  return x.sub(tf.step(thr.sub(x)).mul(-REMOVED)) as tf.Tensor2D;
}

/** Pure: next-token logits [B, V] -> processed logits; removed tokens get <= REMOVED (EOS under min_new_tokens: -Infinity). */
export function processLogits(logits: tf.Tensor2D, o: LogitsProcessing): tf.Tensor2D {
  return tf.tidy(() => {
    const [B, V] = logits.shape;
    let x: tf.Tensor2D = logits;
    if (o.minNewTokens && o.step < o.minNewTokens && o.eosTokenId !== undefined) {
      const bias = new Float32Array(V);
      bias[o.eosTokenId] = -Infinity;
      x = x.add(tf.tensor1d(bias));
    }
    const temperature = o.temperature ?? 1;
    if (temperature <= 0) throw new Error(`processLogits: temperature must be > 0 (got ${temperature}); use greedy for argmax`);
    if (temperature !== 1) x = x.div(temperature);
    const topK = o.topK ?? 0;
    if (topK > 0 && topK < V) {
      const kth = tf.topk(x, topK).values.slice([0, topK - 1], [B, 1]);
      x = removeBelow(x, kth);
    }
    const topP = o.topP ?? 1;
    if (topP < 1) {
      // Keep the smallest set of most likely tokens whose mass reaches top_p: a token stays when the
      // mass strictly above it is < top_p (the top token always stays), as HF TopPLogitsWarper.
      const sorted = tf.topk(x, V).values;
      const above = tf.cumsum(tf.softmax(sorted), 1, true);
      const keep = tf.step(tf.sub(topP, above)); // 1 where above < top_p
      // Smallest kept logit; removed entries are lifted far above any logit before the min.
      const thr = tf.maximum(sorted, REMOVED).add(tf.sub(1, keep).mul(1e38)).min(1, true);
      x = removeBelow(x, thr);
    }
    return x;
  });
}

/**
 * Pure: sample one id per row from logits [B, V] by inverse CDF with uniforms `u` in [0, 1)
 * (token = first index whose cumulative mass reaches u * total; zero-probability tokens can never
 * be chosen). Greedy = argmax.
 */
export function sampleFromLogits(logits: tf.Tensor2D, u: number[] | null): tf.Tensor1D {
  return tf.tidy(() => {
    if (!u) return tf.argMax(logits, 1).toInt() as tf.Tensor1D;
    return sampleRows(logits, u);
  });
}

function unwrap(model: CausalLM): ForwardLM {
  return 'lm' in model ? model.lm : model;
}

/** Sample up to maxNewTokens per query (list of token-id arrays) with a KV cache. */
export function generate(model: CausalLM, queries: number[][], opts: GenerateOptions): GenerateOutput {
  const lm = unwrap(model);
  const cfg: GPT2Config = lm.config;
  const eos = opts.eosTokenId ?? cfg.eos_token_id;
  const pad = opts.padTokenId ?? eos;
  const rng = opts.rng ?? new Rng(opts.seed ?? 0);
  if (!Number.isInteger(pad) || pad < 0 || pad >= cfg.vocab_size) throw new Error(`generate: padTokenId ${pad} is not in [0, ${cfg.vocab_size})`);
  const B = queries.length;
  const { inputIds, attentionMask } = leftPad(queries, pad);
  const L = inputIds[0].length;
  if (L + opts.maxNewTokens > cfg.n_positions) {
    throw new Error(`generate: prompt length ${L} + maxNewTokens ${opts.maxNewTokens} exceeds n_positions ${cfg.n_positions}`);
  }

  const generated: number[][] = queries.map(() => []);
  const finished = new Array<boolean>(B).fill(false);
  // One explicit transpose of the tied lm_head per call (not needed with native BLAS, skipped in stock mode).
  const headT = getMatmulMode() === 'fast' && !nativeActive() && lm.lmHeadT ? lm.lmHeadT() : undefined;
  let cur: tf.Tensor2D = tf.tensor2d(inputIds, [B, L], 'int32');
  let mask: tf.Tensor2D = tf.tensor2d(attentionMask, [B, L], 'int32');
  let past: KVCache | undefined;
  try {
    for (let step = 0; step < opts.maxNewTokens; step++) {
      const u = opts.greedy ? null : queries.map(() => rng.uniform());
      const { ids, present } = tf.tidy(() => {
        const args: ForwardArgs = { inputIds: cur, attentionMask: mask, past, lmHeadT: headT, lastOnly: true };
        const out = lm.forward(args);
        const T = out.logits.shape[1];
        const last = out.logits.slice([0, T - 1, 0], [B, 1, cfg.vocab_size]).reshape([B, cfg.vocab_size]) as tf.Tensor2D;
        const processed = processLogits(last, { step, minNewTokens: opts.minNewTokens, eosTokenId: eos, temperature: opts.temperature, topK: opts.topK, topP: opts.topP });
        return { ids: sampleFromLogits(processed, u), present: out.present };
      });
      const sampled = ids.dataSync();
      ids.dispose();
      const next: number[] = [];
      for (let b = 0; b < B; b++) {
        const tok = finished[b] ? pad : sampled[b]; // HF: finished rows keep emitting pad
        next.push(tok);
        if (!finished[b]) generated[b].push(tok);
        if (tok === eos) finished[b] = true;
      }
      if (past) for (const l of past) tf.dispose([l.k, l.v]);
      past = present;
      cur.dispose();
      cur = tf.tensor2d(next, [B, 1], 'int32');
      const grown = tf.tidy(() => tf.concat([mask, tf.ones([B, 1], 'int32')], 1) as tf.Tensor2D);
      mask.dispose();
      mask = grown;
      if (finished.every(Boolean)) break;
    }
  } finally {
    if (past) for (const l of past) tf.dispose([l.k, l.v]);
    tf.dispose([cur, mask]);
    if (headT) headT.dispose();
  }
  return { responses: generated, sequences: queries.map((q, b) => [...q, ...generated[b]]) };
}

/** log p(labels) under logits: [B, T, V], [B, T] -> [B, T] (trl logprobs_from_logits). Differentiable. */
export function logprobsFromLogits(logits: tf.Tensor3D, labels: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const [B, T, V] = logits.shape;
    return logprobRows(logits.reshape([B * T, V]), labels.reshape([B * T])).reshape([B, T]) as tf.Tensor2D;
  });
}

/**
 * Logprobs of each next token for all T positions without slicing the [B, T, V] logits (a full
 * copy): the last position gets a dummy label and is dropped from the small [B, T] result.
 */
function nextTokenLogprobs(logits: tf.Tensor3D, inputIds: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const [B, T] = inputIds.shape;
    const labels = tf.concat([inputIds.slice([0, 1], [B, T - 1]), tf.zeros([B, 1], 'int32')], 1) as tf.Tensor2D;
    return logprobsFromLogits(logits, labels).slice([0, 0], [B, T - 1]) as tf.Tensor2D;
  });
}

/**
 * Forward pass over full sequences, returning what PPO needs (trl batched_forward_pass): logprobs
 * [B, T-1] where index j is log p(token j+1 | tokens <= j); values [B, T-1] (value of the state at
 * j) when the model has a value head; logits [B, T-1, V] only if asked.
 */
export function sequenceLogprobs(
  model: CausalLM | { forward(a: ForwardArgs): { logits: tf.Tensor3D; values?: tf.Tensor2D } },
  inputIds: tf.Tensor2D,
  attentionMask: tf.Tensor2D,
  opts: { training?: boolean; rng?: Rng; returnLogits?: boolean } = {},
): { logprobs: tf.Tensor2D; values?: tf.Tensor2D; logits?: tf.Tensor3D } {
  return tf.tidy(() => {
    const m = model as { forward(a: ForwardArgs): { logits: tf.Tensor3D; values?: tf.Tensor2D } };
    const out = m.forward({ inputIds, attentionMask, training: opts.training, rng: opts.rng });
    const [B, T, V] = out.logits.shape;
    const res: { logprobs: tf.Tensor2D; values?: tf.Tensor2D; logits?: tf.Tensor3D } = { logprobs: nextTokenLogprobs(out.logits, inputIds) };
    if (out.values) res.values = out.values.slice([0, 0], [B, T - 1]) as tf.Tensor2D;
    if (opts.returnLogits) res.logits = out.logits.slice([0, 0, 0], [B, T - 1, V]) as tf.Tensor3D;
    return res;
  });
}

/** Causal LM loss: mean next-token cross-entropy over positions whose target is a real token. */
export function lmLoss(model: CausalLM, inputIds: tf.Tensor2D, attentionMask?: tf.Tensor2D, opts: { training?: boolean; rng?: Rng } = {}): tf.Scalar {
  return tf.tidy(() => {
    const lm = unwrap(model);
    const [B, T] = inputIds.shape;
    const { logits } = lm.forward({ inputIds, attentionMask, training: opts.training, rng: opts.rng });
    const lp = nextTokenLogprobs(logits, inputIds);
    if (!attentionMask) return lp.mean().neg() as tf.Scalar;
    const m = attentionMask.slice([0, 1], [B, T - 1]).toFloat();
    return lp.mul(m).sum().div(m.sum().maximum(1)).neg() as tf.Scalar;
  });
}
