/**
 * PPO math for RLHF, as in HF trl 0.7 (`trl/core.py` and `PPOTrainer.compute_rewards /
 * compute_advantages / loss`). Pure functions on tensors; names follow trl and the paper.
 *
 * Coordinates: index j of a [B, T-1] "logprob" tensor refers to the prediction of token j+1 from the
 * prefix 0..j. `masks` is 1 on response positions in those coordinates (see rollout.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { entropyFromLogits as engineEntropy } from '../engine/ops';

export type KLPenalty = 'kl' | 'abs' | 'mse' | 'full';

/**
 * Float one-hot. tf.oneHot(..., 'float32') is broken on tfjs-backend-wasm 4.22 (it writes the int
 * bit pattern 1, i.e. 1.4e-45), so build it as int32 and cast.
 */
export function oneHotF(indices: tf.Tensor, depth: number): tf.Tensor {
  return tf.tidy(() => tf.cast(tf.oneHot(tf.cast(indices, 'int32') as tf.Tensor1D, depth), 'float32'));
}

/** log p(labels | logits) along the last axis: [B,T,V] x [B,T] -> [B,T]. Differentiable. */
export function logprobsFromLogits(logits: tf.Tensor3D, labels: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const V = logits.shape[2];
    // oneHot + sum instead of gather: gather's gradient needs a scatter kernel on big vocabularies
    const picked = tf.sum(tf.mul(logits, oneHotF(labels, V)), -1);
    return tf.sub(picked, tf.logSumExp(logits, -1)) as tf.Tensor2D;
  });
}

/** Entropy of the categorical given by logits: logsumexp(l) - sum softmax(l) * l (trl core.py). */
export function entropyFromLogits(logits: tf.Tensor3D): tf.Tensor2D {
  return engineEntropy(logits) as tf.Tensor2D;
}

/**
 * Per-token KL penalty estimate (trl `_kl_penalty`): 'kl' logp - ref, 'abs' |logp - ref|,
 * 'mse' 0.5 (logp - ref)^2. 'full' needs the whole distributions: pass `full` logits and it returns
 * sum_v p(v) (log p(v) - log p_ref(v)) (exact KL(pi || ref) per position).
 */
export function klPenalty(
  kind: KLPenalty,
  logprobs: tf.Tensor2D,
  refLogprobs: tf.Tensor2D,
  full?: { logits: tf.Tensor3D; refLogits: tf.Tensor3D },
): tf.Tensor2D {
  return tf.tidy(() => {
    const d = tf.sub(logprobs, refLogprobs);
    switch (kind) {
      case 'kl':
        return d as tf.Tensor2D;
      case 'abs':
        return tf.abs(d) as tf.Tensor2D;
      case 'mse':
        return tf.mul(0.5, tf.square(d)) as tf.Tensor2D;
      case 'full': {
        if (!full) throw new Error("klPenalty: kind 'full' needs the full logits of policy and reference");
        const lp = tf.logSoftmax(full.logits, -1);
        const lr = tf.logSoftmax(full.refLogits, -1);
        return tf.sum(tf.mul(tf.exp(lp), tf.sub(lp, lr)), -1) as tf.Tensor2D;
      }
      default:
        throw new Error(`klPenalty: unknown kind "${kind as string}" (kl, abs, mse, full)`);
    }
  });
}

/** trl masked_mean: sum(x*mask)/sum(mask) over `axis` (all axes when undefined). */
export function maskedMean(values: tf.Tensor, mask: tf.Tensor, axis?: number): tf.Tensor {
  return tf.tidy(() => tf.div(tf.sum(tf.mul(values, mask), axis), tf.sum(mask, axis)));
}

/** trl masked_var with Bessel's correction n/(n-1), n = number of kept entries. */
export function maskedVar(values: tf.Tensor, mask: tf.Tensor, unbiased = true): tf.Scalar {
  return tf.tidy(() => {
    const mean = maskedMean(values, mask);
    const variance = maskedMean(tf.square(tf.sub(values, mean)), mask);
    if (!unbiased) return variance as tf.Scalar;
    const n = tf.sum(mask);
    return tf.mul(variance, tf.div(n, tf.sub(n, 1))) as tf.Scalar;
  });
}

/** trl masked_whiten: (x - mean) / sqrt(var + 1e-8), mean and unbiased var over kept entries. */
export function maskedWhiten<T extends tf.Tensor>(values: T, mask: tf.Tensor, shiftMean = true): T {
  return tf.tidy(() => {
    const mean = maskedMean(values, mask);
    const variance = maskedVar(values, mask);
    let whitened = tf.mul(tf.sub(values, mean), tf.rsqrt(tf.add(variance, 1e-8)));
    if (!shiftMean) whitened = tf.add(whitened, mean);
    return whitened as T;
  });
}

/**
 * trl compute_rewards: r̄_t = -kl_coef * kl_t at every position (non_score_rewards), plus the
 * environment score added at the LAST position where masks = 1. Rows must have >= 1 masked token.
 */
export function computeRewards(args: {
  scores: tf.Tensor1D;
  logprobs: tf.Tensor2D;
  refLogprobs: tf.Tensor2D;
  masks: tf.Tensor2D;
  klCoef: number;
  klPenalty?: KLPenalty;
  full?: { logits: tf.Tensor3D; refLogits: tf.Tensor3D };
  /** precomputed per-token penalty (e.g. 'full' KL computed chunk by chunk); overrides klPenalty */
  kl?: tf.Tensor2D;
}): { rewards: tf.Tensor2D; nonScoreRewards: tf.Tensor2D; kl: tf.Tensor2D } {
  return tf.tidy(() => {
    const kl = args.kl ? args.kl.clone() : klPenalty(args.klPenalty ?? 'kl', args.logprobs, args.refLogprobs, args.full);
    const nonScoreRewards = tf.mul(-args.klCoef, kl) as tf.Tensor2D;
    const T = args.masks.shape[1];
    // index of the last 1 in each row = argmax of mask * (t+1)
    const lastIdx = tf.argMax(tf.mul(args.masks, tf.range(1, T + 1, 1, 'float32')), 1);
    const atLast = oneHotF(lastIdx, T);
    const rewards = tf.add(nonScoreRewards, tf.mul(atLast, tf.expandDims(args.scores, 1))) as tf.Tensor2D;
    return { rewards, nonScoreRewards, kl };
  });
}

/**
 * trl compute_advantages without the whitening: values *= mask, rewards *= mask, then the GAE
 * reverse loop over every position with V beyond the end = 0:
 *   delta_t = r_t + gamma V_{t+1} - V_t,  A_t = delta_t + gamma lam A_{t+1},  returns = A + V.
 * Returns the masked values too (trl returns them and uses them as `values` from here on).
 */
export function gae(args: {
  values: tf.Tensor2D;
  rewards: tf.Tensor2D;
  masks: tf.Tensor2D;
  gamma?: number;
  lam?: number;
}): { advantages: tf.Tensor2D; returns: tf.Tensor2D; values: tf.Tensor2D } {
  const gamma = args.gamma ?? 1.0;
  const lam = args.lam ?? 0.95;
  return tf.tidy(() => {
    const values = tf.mul(args.values, args.masks) as tf.Tensor2D;
    const rewards = tf.mul(args.rewards, args.masks) as tf.Tensor2D;
    const T = values.shape[1];
    const v = tf.unstack(values, 1);
    const r = tf.unstack(rewards, 1);
    const reversed: tf.Tensor[] = [];
    let lastgaelam: tf.Tensor = tf.zerosLike(v[0]);
    for (let t = T - 1; t >= 0; t--) {
      const nextvalues = t < T - 1 ? tf.mul(gamma, v[t + 1]) : tf.zerosLike(v[t]);
      const delta = tf.sub(tf.add(r[t], nextvalues), v[t]);
      lastgaelam = tf.add(delta, tf.mul(gamma * lam, lastgaelam));
      reversed.push(lastgaelam);
    }
    const advantages = tf.stack(reversed.reverse(), 1) as tf.Tensor2D;
    return { advantages, returns: tf.add(advantages, values) as tf.Tensor2D, values };
  });
}

/** 1 when avgRatio <= threshold (or NaN), else 0; a constant for the gradient (no comparison grads in tfjs). */
function ratioGate(avgRatio: tf.Scalar, threshold: number): tf.Scalar {
  const gate = tf.customGrad(((x: tf.Tensor) => ({
    value: tf.cast(tf.logicalNot(tf.greater(x, threshold)), 'float32'),
    gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
  })) as unknown as Parameters<typeof tf.customGrad>[0]);
  return gate(avgRatio) as tf.Scalar;
}

export interface PPOLossArgs {
  oldLogprobs: tf.Tensor2D;
  values: tf.Tensor2D; // old (rollout) values, masked
  logprobs: tf.Tensor2D; // current policy
  vpreds: tf.Tensor2D; // current value head
  masks: tf.Tensor2D;
  advantages: tf.Tensor2D; // whitened
  returns: tf.Tensor2D;
  logits?: tf.Tensor3D; // only for the entropy statistic
  cliprange?: number;
  cliprangeValue?: number;
  vfCoef?: number;
  ratioThreshold?: number;
}

export interface PPOLossOut {
  loss: tf.Scalar; // pg_loss + vf_coef * vf_loss (x0 when the ratio threshold trips)
  pgLoss: tf.Scalar;
  vfLoss: tf.Scalar; // without vf_coef, as trl logs ppo/loss/value
  stats: Record<string, tf.Scalar>;
}

/**
 * trl PPOTrainer.loss: clipped value loss 0.5 max((v-R)^2, (clip(v, v_old±cv)-R)^2), clipped
 * policy loss max(-A ratio, -A clip(ratio, 1±c)), both masked means; total pg + vf_coef vf. If the
 * masked mean ratio exceeds ratio_threshold the losses are multiplied by 0 (trl still steps Adam).
 */
export function ppoLoss(a: PPOLossArgs): PPOLossOut {
  const c = a.cliprange ?? 0.2;
  const cv = a.cliprangeValue ?? 0.2;
  const vfCoef = a.vfCoef ?? 0.1;
  const threshold = a.ratioThreshold ?? 10.0;
  const m = a.masks;
  const vpredclipped = tf.minimum(tf.maximum(a.vpreds, tf.sub(a.values, cv)), tf.add(a.values, cv));
  const vfLosses1 = tf.square(tf.sub(a.vpreds, a.returns));
  const vfLosses2 = tf.square(tf.sub(vpredclipped, a.returns));
  let vfLoss = tf.mul(0.5, maskedMean(tf.maximum(vfLosses1, vfLosses2), m)) as tf.Scalar;
  const vfClipfrac = maskedMean(tf.cast(tf.greater(vfLosses2, vfLosses1), 'float32'), m) as tf.Scalar;

  const logRatio = tf.sub(a.logprobs, a.oldLogprobs);
  const ratio = tf.exp(logRatio);
  const pgLosses = tf.mul(tf.neg(a.advantages), ratio);
  const pgLosses2 = tf.mul(tf.neg(a.advantages), tf.clipByValue(ratio, 1 - c, 1 + c));
  let pgLoss = maskedMean(tf.maximum(pgLosses, pgLosses2), m) as tf.Scalar;
  const pgClipfrac = maskedMean(tf.cast(tf.greater(pgLosses2, pgLosses), 'float32'), m) as tf.Scalar;

  const avgRatio = maskedMean(ratio, m) as tf.Scalar;
  // kept as a tensor so the whole loss stays on the device (no sync inside the gradient function)
  const keep = ratioGate(avgRatio, threshold);
  pgLoss = tf.mul(pgLoss, keep) as tf.Scalar;
  vfLoss = tf.mul(vfLoss, keep) as tf.Scalar;
  const loss = tf.add(pgLoss, tf.mul(vfCoef, vfLoss)) as tf.Scalar;

  const stats: Record<string, tf.Scalar> = {
    'loss/policy': pgLoss,
    'loss/value': vfLoss,
    'loss/total': loss,
    'policy/approxkl': tf.mul(0.5, maskedMean(tf.square(logRatio), m)) as tf.Scalar,
    'policy/policykl': maskedMean(tf.neg(logRatio), m) as tf.Scalar,
    'policy/clipfrac': pgClipfrac,
    'policy/advantages_mean': maskedMean(a.advantages, m) as tf.Scalar,
    'policy/ratio_mean': avgRatio,
    'policy/skipped_ratio': tf.sub(1, keep) as tf.Scalar,
    'returns/mean': maskedMean(a.returns, m) as tf.Scalar,
    'returns/var': maskedVar(a.returns, m),
    'val/vpred': maskedMean(a.vpreds, m) as tf.Scalar,
    'val/error': maskedMean(tf.square(tf.sub(a.vpreds, a.returns)), m) as tf.Scalar,
    'val/clipfrac': vfClipfrac,
    'val/mean': maskedMean(a.values, m) as tf.Scalar,
    'val/var': maskedVar(a.values, m),
  };
  if (a.logits) stats['policy/entropy'] = maskedMean(entropyFromLogits(a.logits), m) as tf.Scalar;
  return { loss, pgLoss, vfLoss, stats };
}

// Global-norm gradient clipping is the engine's (one clipper for PPO, SFT and the reward trainers).
export { clipByGlobalNorm } from '../engine/optim';

/** trl AdaptiveKLController: e = clip(KL/target - 1, ±0.2); kl_coef *= 1 + e * n_steps / horizon. */
export class AdaptiveKLController {
  value: number;
  constructor(
    initKlCoef: number,
    readonly target: number,
    readonly horizon: number,
  ) {
    this.value = initKlCoef;
  }
  update(current: number, nSteps: number): void {
    const proportionalError = Math.min(Math.max(current / this.target - 1, -0.2), 0.2);
    this.value *= 1 + (proportionalError * nSteps) / this.horizon;
  }
}

/** trl FixedKLController: kl_coef never changes. */
export class FixedKLController {
  constructor(public value: number) {}
  update(_current: number, _nSteps: number): void {}
}

export type KLController = AdaptiveKLController | FixedKLController;
