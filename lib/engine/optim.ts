/**
 * AdamW exactly as torch.optim.AdamW (decoupled weight decay; weightDecay 0 gives torch Adam, which
 * trl's PPOTrainer uses), and clip_grad_norm_. tf.train.adam has no decoupled decay and keeps its
 * state keyed by variable name, so the kit uses this small one instead.
 */
import * as tf from '@tensorflow/tfjs';

export interface AdamWOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

export class AdamW {
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  step = 0;
  private readonly m = new Map<tf.Variable, tf.Variable>();
  private readonly v = new Map<tf.Variable, tf.Variable>();

  constructor(o: AdamWOptions) {
    this.lr = o.lr;
    this.beta1 = o.beta1 ?? 0.9;
    this.beta2 = o.beta2 ?? 0.999;
    this.eps = o.eps ?? 1e-8;
    this.weightDecay = o.weightDecay ?? 0;
  }

  /** One update; `grads` pairs each variable with its gradient (the caller disposes the grads). */
  apply(vars: tf.Variable[], grads: tf.Tensor[]): void {
    if (vars.length !== grads.length) throw new Error(`AdamW.apply: ${vars.length} variables but ${grads.length} gradients`);
    this.step += 1;
    const bc1 = 1 - this.beta1 ** this.step;
    const bc2 = 1 - this.beta2 ** this.step;
    const stepSize = this.lr / bc1;
    tf.tidy(() => {
      vars.forEach((p, i) => {
        const g = grads[i];
        if (!g) throw new Error(`AdamW.apply: no gradient for variable "${p.name}" (not used by the loss?)`);
        if (!this.m.has(p)) {
          this.m.set(p, tf.variable(tf.zerosLike(p), false));
          this.v.set(p, tf.variable(tf.zerosLike(p), false));
        }
        const m = this.m.get(p)!;
        const v = this.v.get(p)!;
        m.assign(m.mul(this.beta1).add(g.mul(1 - this.beta1)));
        v.assign(v.mul(this.beta2).add(g.square().mul(1 - this.beta2)));
        const denom = v.sqrt().div(Math.sqrt(bc2)).add(this.eps);
        const decayed = this.weightDecay ? p.mul(1 - this.lr * this.weightDecay) : p;
        p.assign(decayed.sub(m.div(denom).mul(stepSize)));
      });
    });
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}

/** torch.nn.utils.clip_grad_norm_: scale all grads by min(1, maxNorm / (total_norm + 1e-6)). Returns new tensors and the norm. */
export function clipGradNorm(grads: tf.Tensor[], maxNorm: number): { grads: tf.Tensor[]; norm: number } {
  const normT = tf.tidy(() => tf.sqrt(tf.addN(grads.map((g) => g.square().sum()))));
  const norm = normT.dataSync()[0];
  normT.dispose();
  const coef = Math.min(1, maxNorm / (norm + 1e-6));
  return { grads: grads.map((g) => (coef < 1 ? g.mul(coef) : g.clone())), norm };
}
