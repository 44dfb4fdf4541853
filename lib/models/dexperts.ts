/**
 * DExperts (Liu et al., ACL 2021): decoding-time steering with an expert and an anti-expert LM,
 *
 *   z_t = z_base + alpha (z_expert - z_anti)        (logits over one shared vocabulary)
 *
 * after the base logits at the sampled (last) position are nucleus-filtered with filter_p (the
 * DExperts scripts' --filter_p 0.9).
 * The ensemble is itself a causal LM: its forward runs the three models, so `generate` samples
 * from it with one KV cache per model (the cache is the three layer lists one after another) and
 * perplexity scores text under the ensemble's distribution (use filterP 1 there: a filtered token
 * has probability 0). Defaults from the DExperts paper's scripts: alpha 3.2 for positive
 * sentiment, 2.0 for detoxification (lib/baselines/config.ts).
 */
import { tf } from '../engine';
import { processLogits } from './generate';
import type { ForwardArgs, ForwardOutput, GPT2Config, GPT2LMHeadModel, KVCache } from './gpt2';

type LM = Pick<GPT2LMHeadModel, 'config' | 'forward'>;

/** Pure: base + alpha (expert - anti), any shape; alpha 0 returns base's values. */
export function dexpertsLogits<T extends tf.Tensor>(base: T, expert: T, anti: T, alpha: number): T {
  return tf.tidy(() => (alpha === 0 ? base.clone() : base.add(expert.sub(anti).mul(alpha)))) as T;
}

export class DExpertsLM {
  readonly config: GPT2Config;

  constructor(readonly base: LM, readonly expert: LM, readonly anti: LM, readonly alpha: number, readonly filterP = 1) {
    const V = base.config.vocab_size;
    for (const [name, m] of [['expert', expert], ['anti-expert', anti]] as const) {
      if (m.config.vocab_size !== V) throw new Error(`DExperts: the ${name} has vocab_size ${m.config.vocab_size}, the base ${V} (they must share one tokenizer)`);
    }
    if (!(alpha >= 0)) throw new Error(`DExperts: alpha must be >= 0, got ${alpha}`);
    if (!(filterP > 0 && filterP <= 1)) throw new Error(`DExperts: filterP must be in (0, 1], got ${filterP}`);
    // The shortest context bounds the ensemble.
    this.config = { ...base.config, n_positions: Math.min(base.config.n_positions, expert.config.n_positions, anti.config.n_positions) };
  }

  /** The same ensemble with another nucleus filter (perplexity uses 1). */
  withFilterP(p: number): DExpertsLM {
    return new DExpertsLM(this.base, this.expert, this.anti, this.alpha, p);
  }

  forward(args: ForwardArgs): ForwardOutput {
    const n0 = this.base.config.n_layer;
    const n1 = this.expert.config.n_layer;
    const past = args.past;
    const pasts: (KVCache | undefined)[] = past ? [past.slice(0, n0), past.slice(n0, n0 + n1), past.slice(n0 + n1)] : [undefined, undefined, undefined];
    // lmHeadT is the caller's transpose of one model's head: never handed to the others.
    const outs = [this.base, this.expert, this.anti].map((m, i) => m.forward({ ...args, past: pasts[i], lmHeadT: undefined }));
    const logits = tf.tidy(() => {
      let base = outs[0].logits;
      if (this.filterP < 1) {
        // top-p filters the position that is sampled from (the last); on a full-sequence forward the
        // earlier positions stay unfiltered (generate asks for the last position only)
        const [B, T, V] = base.shape;
        const last = processLogits(base.slice([0, T - 1, 0], [B, 1, V]).reshape([B, V]) as tf.Tensor2D, { step: 0, topP: this.filterP }).reshape([B, 1, V]);
        base = (T > 1 ? tf.concat([base.slice([0, 0, 0], [B, T - 1, V]), last], 1) : last) as tf.Tensor3D;
      }
      return dexpertsLogits(base, outs[1].logits, outs[2].logits, this.alpha);
    });
    tf.dispose([...outs.map((o) => o.logits), outs[1].hidden, outs[2].hidden]);
    return { logits, hidden: outs[0].hidden, present: outs.flatMap((o) => o.present) };
  }
}
