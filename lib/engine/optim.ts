/**
 * AdamW exactly as torch.optim.AdamW (decoupled weight decay; weightDecay 0 gives torch Adam, which
 * trl's PPOTrainer uses), and clip_grad_norm_. tf.train.adam has no decoupled decay, keeps its
 * state keyed by variable name and runs ~8 kernels per parameter, so the kit uses this one (one
 * fused kernel per parameter with the native kernels). The kit's only Adam: rl/adam.ts names it.
 */
import * as tf from '@tensorflow/tfjs';
import { adamStep, type AdamHyper } from './ops';

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
    const h: AdamHyper = {
      lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay,
      bc1: 1 - this.beta1 ** this.step, bc2: 1 - this.beta2 ** this.step,
    };
    tf.tidy(() => {
      vars.forEach((p, i) => {
        const g = grads[i];
        if (!g) throw new Error(`AdamW.apply: no gradient for variable "${p.name}" (not used by the loss?)`);
        const [m, v] = this.moments(p);
        // one fused kernel per parameter when native kernels are on (ops.ts)
        const [p2, m2, v2] = adamStep(p, g, m, v, h);
        p.assign(p2);
        m.assign(m2);
        v.assign(v2);
      });
    });
  }

  /** The moment variables of `p` (zeros before its first update). */
  moments(p: tf.Variable): [tf.Variable, tf.Variable] {
    if (!this.m.has(p)) {
      this.m.set(p, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
      this.v.set(p, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
    }
    return [this.m.get(p)!, this.v.get(p)!];
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}

/** Global L2 norm over all gradients and torch clip_grad_norm_'s scale min(1, maxNorm / (norm + 1e-6)). */
function clipCoef(grads: tf.Tensor[], maxNorm: number): { norm: number; coef: number } {
  const normT = tf.tidy(() => tf.sqrt(tf.addN(grads.map((g) => g.square().sum()))));
  const norm = normT.dataSync()[0];
  normT.dispose();
  return { norm, coef: Math.min(1, maxNorm / (norm + 1e-6)) };
}

/** torch.nn.utils.clip_grad_norm_ on a list: returns new tensors (the caller disposes both lists) and the norm. */
export function clipGradNorm(grads: tf.Tensor[], maxNorm: number): { grads: tf.Tensor[]; norm: number } {
  const { norm, coef } = clipCoef(grads, maxNorm);
  return { grads: grads.map((g) => (coef < 1 ? g.mul(coef) : g.clone())), norm };
}

/** The same on a name -> gradient map; when it scales, the input gradients are disposed and replaced. */
export function clipByGlobalNorm(grads: tf.NamedTensorMap, maxNorm: number): { grads: tf.NamedTensorMap; norm: number } {
  const names = Object.keys(grads);
  const { norm, coef } = clipCoef(names.map((n) => grads[n]), maxNorm);
  if (coef >= 1) return { grads, norm };
  const out: tf.NamedTensorMap = {};
  for (const n of names) {
    out[n] = tf.mul(grads[n], coef);
    grads[n].dispose();
  }
  return { grads: out, norm };
}
