/**
 * Fused ops the models and trainers call. Each has two implementations with the same maths: the
 * native kernels (native.ts) when they are active, else a composition of stock tfjs kernels (the
 * path every backend has, and what the kit ran before the native kernels existed). Tests hold the
 * two to 1e-5.
 */
import * as tf from '@tensorflow/tfjs';
import { NATIVE, nativeActive } from './native';

type Grad = Parameters<typeof tf.customGrad>[0];
const run = (name: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap = {}) =>
  tf.engine().runKernel(name, inputs, attrs) as tf.Tensor | tf.Tensor[];

// --- log p(label) per row -------------------------------------------------------------------

const nativeLogprob = tf.customGrad(((...args: unknown[]) => {
  const [logits, labels, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
  const [lp, lse] = run(NATIVE.logprob, { logits, labels }) as tf.Tensor[];
  save([logits, labels, lse]);
  return {
    value: lp,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [l, y, z] = saved;
      return [run(NATIVE.logprobGrad, { logits: l, labels: y, lse: z, dy }) as tf.Tensor, tf.zerosLike(y)];
    },
  };
}) as Grad) as unknown as (logits: tf.Tensor2D, labels: tf.Tensor1D) => tf.Tensor1D;

/**
 * Stock path: one exp in forward, none in backward (the softmax is saved), where logSoftmax +
 * gather costs three full-vocabulary exps. d/dlogits = onehot - softmax.
 */
const composedLogprob = tf.customGrad(((...args: unknown[]) => {
  const [logits, flatIdx, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
  const [N, V] = logits.shape;
  const shifted = logits.sub(logits.max(1, true));
  const e = tf.exp(shifted);
  const z = e.sum(1, true);
  const value = tf.gather(shifted.reshape([N * V]), flatIdx).sub(tf.log(z).reshape([N]));
  save([e.div(z), flatIdx]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [probs, idx] = saved;
      const onehotDy = tf.unsortedSegmentSum(dy, idx as tf.Tensor1D, N * V).reshape([N, V]);
      return [onehotDy.sub(probs.mul(dy.reshape([N, 1]))), tf.zerosLike(idx)];
    },
  };
}) as Grad) as unknown as (logits: tf.Tensor2D, flatIdx: tf.Tensor1D) => tf.Tensor1D;

// webgpu: the same maths as one WGSL kernel per direction (webgpu-kernels.ts); nothing [N, V] is kept
const WEBGPU_LOGPROB = { forward: 'RarlhfLogprobWebGPU', grad: 'RarlhfLogprobGradWebGPU' };
const webgpuLogprob = tf.customGrad(((...args: unknown[]) => {
  const [logits, labels, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
  save([logits, labels]);
  return {
    value: run(WEBGPU_LOGPROB.forward, { logits, labels }) as tf.Tensor,
    gradFunc: (dy: tf.Tensor, [l, y]: tf.Tensor[]) => [run(WEBGPU_LOGPROB.grad, { logits: l, labels: y, dy }) as tf.Tensor, tf.zerosLike(y)],
  };
}) as Grad) as unknown as (logits: tf.Tensor2D, labels: tf.Tensor1D) => tf.Tensor1D;
const webgpuFused = () => tf.getBackend() === 'webgpu' && !!tf.getKernel(WEBGPU_LOGPROB.forward, 'webgpu');

/** log softmax(logits)[label] for each row: [N, V] x [N] -> [N]. Differentiable in logits. */
export function logprobRows(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const y = labels.dtype === 'int32' ? labels : labels.toInt();
    if (nativeActive()) return nativeLogprob(logits, y);
    if (webgpuFused()) return webgpuLogprob(logits, y);
    const [N, V] = logits.shape;
    return composedLogprob(logits, tf.range(0, N, 1, 'int32').mul(tf.scalar(V, 'int32')).add(y) as tf.Tensor1D);
  });
}

// --- entropy, sampling ----------------------------------------------------------------------

/** Entropy of softmax(logits) along the last axis: logsumexp(l) - sum softmax(l) l (trl core.py). */
export function entropyFromLogits<T extends tf.Tensor>(logits: T): tf.Tensor {
  if (nativeActive()) return run(NATIVE.entropy, { logits }) as tf.Tensor;
  return tf.tidy(() => tf.sub(tf.logSumExp(logits, -1), tf.sum(tf.mul(tf.softmax(logits, -1), logits), -1)));
}

/**
 * One categorical sample per row of logits [B, V] by inverse CDF with the given uniforms:
 * the index of the first token whose cumulative probability reaches u (capped at V - 1).
 */
export function sampleRows(logits: tf.Tensor2D, u: number[]): tf.Tensor1D {
  return tf.tidy(() => {
    if (nativeActive()) return run(NATIVE.sample, { logits, u: tf.tensor1d(u, 'float32') }) as tf.Tensor1D;
    const cdf = tf.cumsum(tf.softmax(logits), 1);
    const V = logits.shape[1];
    const target = tf.tensor2d(u, [u.length, 1]).mul(cdf.slice([0, V - 1], [-1, 1]));
    // #{j : cdf_j < target} via step(target - cdf): same result as tf.less, far faster on wasm.
    return tf.minimum(tf.step(target.sub(cdf)).sum(1), V - 1).toInt() as tf.Tensor1D;
  });
}

// --- gelu_new, LayerNorm ----------------------------------------------------------------------

const nativeGelu = tf.customGrad(((...args: unknown[]) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
  save([x]);
  return { value: run(NATIVE.gelu, { x }) as tf.Tensor, gradFunc: (dy: tf.Tensor, [sx]: tf.Tensor[]) => run(NATIVE.geluGrad, { x: sx, dy }) as tf.Tensor };
}) as Grad) as unknown as (x: tf.Tensor) => tf.Tensor;

/** gelu_new: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
export function geluNew<T extends tf.Tensor>(x: T): T {
  if (nativeActive()) return nativeGelu(x) as T;
  return tf.tidy(() => {
    const inner = x.add(x.mul(x).mul(x).mul(0.044715)).mul(Math.sqrt(2 / Math.PI));
    return x.mul(0.5).mul(tf.tanh(inner).add(1)) as T;
  });
}

function nativeLayerNormFn(eps: number) {
  return tf.customGrad(((...args: unknown[]) => {
    const [x, gamma, beta, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const [y, mean, rstd] = run(NATIVE.layerNorm, { x, gamma, beta }, { eps }) as tf.Tensor[];
    save([x, gamma, mean, rstd]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, g, m, r] = saved;
        return run(NATIVE.layerNormGrad, { x: sx, gamma: g, mean: m, rstd: r, dy }) as tf.Tensor[];
      },
    };
  }) as Grad) as unknown as (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor;
}
const nativeLayerNorms = new Map<number, (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor>();

/** LayerNorm over the last axis (biased variance, as torch): (x - mean) / sqrt(var + eps) * g + b. */
export function layerNorm<T extends tf.Tensor>(x: T, g: tf.Tensor, b: tf.Tensor, eps: number): T {
  if (nativeActive()) {
    let f = nativeLayerNorms.get(eps);
    if (!f) nativeLayerNorms.set(eps, (f = nativeLayerNormFn(eps)));
    return f(x, g, b) as T;
  }
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true);
    return x.sub(mean).mul(tf.rsqrt(variance.add(eps))).mul(g).add(b) as T;
  });
}

// --- Adam ---------------------------------------------------------------------------------------

export interface AdamHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled (AdamW) decay; 0 = torch Adam. */
  weightDecay: number;
  /** Bias corrections 1 - beta^t. */
  bc1: number;
  bc2: number;
}

/**
 * One torch Adam(W) update of a parameter: returns [p', m', v'] (new tensors; the caller assigns).
 * m' = b1 m + (1-b1) g; v' = b2 v + (1-b2) g^2; p' = p (1 - lr wd) - lr (m'/bc1) / (sqrt(v'/bc2) + eps).
 */
export function adamStep(p: tf.Tensor, g: tf.Tensor, m: tf.Tensor, v: tf.Tensor, h: AdamHyper): [tf.Tensor, tf.Tensor, tf.Tensor] {
  if (nativeActive()) return run(NATIVE.adam, { p, g, m, v }, { ...h }) as [tf.Tensor, tf.Tensor, tf.Tensor];
  return tf.tidy(() => {
    const m2 = m.mul(h.beta1).add(g.mul(1 - h.beta1));
    const v2 = v.mul(h.beta2).add(g.square().mul(1 - h.beta2));
    const denom = v2.div(h.bc2).sqrt().add(h.eps);
    const decayed = h.weightDecay ? p.mul(1 - h.lr * h.weightDecay) : p;
    return [decayed.sub(m2.div(h.bc1).div(denom).mul(h.lr)), m2, v2];
  });
}
