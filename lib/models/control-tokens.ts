/**
 * Control tokens appended to a GPT-2 vocabulary (Quark's reward-quantile tokens): the embedding
 * matrix (tied to the LM head) grows by K rows, each drawn per dimension from N(mean, std) of the
 * existing rows, as the Quark code initialises its added tokens. The tokenizer is unchanged: a
 * control token is an id >= the tokenizer's vocabulary, placed by id in front of a query, never
 * produced by encode() and never sampled (RestrictedVocabLM cuts the logits back to the text
 * vocabulary).
 */
import { tf } from '../engine';
import { Rng } from '../engine/rng';
import { GPT2LMHeadModel, type ForwardArgs, type ForwardOutput, type GPT2Config } from './gpt2';

/** A copy of `model` whose vocabulary has K more ids (textVocab .. textVocab + K - 1). */
export function withControlTokens(model: GPT2LMHeadModel, K: number, rng: Rng): GPT2LMHeadModel {
  if (!Number.isInteger(K) || K < 1) throw new Error(`withControlTokens: K must be a positive integer, got ${K}`);
  const V = model.config.vocab_size;
  const E = model.config.n_embd;
  const grown = new GPT2LMHeadModel({ ...model.config, vocab_size: V + K }, { init: false });
  const weights = new Map<string, tf.Tensor>(model.namedWeights());
  const wte = model.namedWeights().get('transformer.wte.weight')!;
  const old = wte.dataSync() as Float32Array;
  const mean = new Float64Array(E);
  const sq = new Float64Array(E);
  for (let r = 0; r < V; r++) for (let e = 0; e < E; e++) { const x = old[r * E + e]; mean[e] += x; sq[e] += x * x; }
  const values = new Float32Array((V + K) * E);
  values.set(old);
  for (let k = 0; k < K; k++) {
    for (let e = 0; e < E; e++) {
      const m = mean[e] / V;
      const sd = Math.sqrt(Math.max(0, sq[e] / V - m * m));
      values[(V + k) * E + e] = m + sd * rng.normal();
    }
  }
  const newWte = tf.tensor2d(values, [V + K, E]);
  weights.set('transformer.wte.weight', newWte);
  grown.loadWeights(weights, { source: 'withControlTokens' });
  newWte.dispose();
  return grown;
}

type LM = Pick<GPT2LMHeadModel, 'config' | 'forward'> & Partial<Pick<GPT2LMHeadModel, 'lmHeadT'>>;

/**
 * A view of a control-token model as a causal LM over the text vocabulary only: logits are cut to
 * the first `textVocab` ids, so sampling never emits a control token and perplexity normalises
 * over text tokens (Quark's KL term does the same: logits[..., :-K]). An optional `prefixId` is put
 * in front of every full-sequence forward (perplexity: text scored under the control token);
 * cached decoding (`past` given) must get the prefix in its query instead (lib/pipeline/generations).
 */
export class RestrictedVocabLM {
  readonly config: GPT2Config;

  constructor(readonly model: LM, readonly textVocab: number, readonly prefixId?: number) {
    if (textVocab > model.config.vocab_size) throw new Error(`RestrictedVocabLM: textVocab ${textVocab} exceeds the model's vocab_size ${model.config.vocab_size}`);
    // A prefixed forward uses one position for the control token.
    this.config = { ...model.config, vocab_size: textVocab, n_positions: model.config.n_positions - (prefixId === undefined ? 0 : 1) };
  }

  lmHeadT(): tf.Tensor2D {
    if (!this.model.lmHeadT) throw new Error('RestrictedVocabLM: the wrapped model has no lmHeadT');
    return this.model.lmHeadT();
  }

  forward(args: ForwardArgs): ForwardOutput {
    if (this.prefixId === undefined || args.past) {
      if (this.prefixId !== undefined) throw new Error('RestrictedVocabLM: a prefixed model cannot decode with a cache; put the control token in the query');
      const out = this.model.forward(args);
      return { ...out, logits: cut(out.logits, this.textVocab) };
    }
    const [B, T] = args.inputIds.shape;
    const p = this.prefixId;
    const inputIds = tf.concat([tf.fill([B, 1], p, 'int32'), args.inputIds], 1) as tf.Tensor2D;
    const attentionMask = args.attentionMask ? (tf.concat([tf.ones([B, 1], 'int32'), args.attentionMask], 1) as tf.Tensor2D) : undefined;
    // Explicit positions (right padding) shift by one; otherwise they follow the mask.
    const positionIds = args.positionIds ? (tf.concat([tf.zeros([B, 1], 'int32'), args.positionIds.add(1)], 1) as tf.Tensor2D) : undefined;
    const out = this.model.forward({ ...args, inputIds, attentionMask, positionIds });
    tf.dispose([inputIds, attentionMask, positionIds].filter((t): t is tf.Tensor2D => t !== undefined));
    const V = out.logits.shape[2];
    // lastOnly: the one position is the text's last, the control token's is not among them
    const logits = tf.tidy(() => cut((args.lastOnly ? out.logits : out.logits.slice([0, 1, 0], [B, T, V])) as tf.Tensor3D, this.textVocab));
    const hidden = tf.tidy(() => out.hidden.slice([0, 1, 0], [B, T, out.hidden.shape[2]]) as tf.Tensor3D);
    tf.dispose([out.logits, out.hidden]);
    return { logits, hidden, present: out.present };
  }
}

function cut(logits: tf.Tensor3D, V: number): tf.Tensor3D {
  const [B, T, full] = logits.shape;
  return full === V ? logits : (logits.slice([0, 0, 0], [B, T, V]) as tf.Tensor3D);
}
