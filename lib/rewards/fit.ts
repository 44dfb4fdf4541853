/**
 * The optimisation loop for kit reward models (pure orchestration over TF.js):
 * mini-batch Adam on  mean_b[ cls_b · BCE(z_b, y_b) + regWeight · reg_b · (z_b − t_b)^2 ] + l2 · ||w||^2
 * where z is the linear model's output, y = 1 marks the "good" class (positive review,
 * non-toxic comment) and t is a reference reward to regress (toxic-bert's −logit).
 */
import { tf } from '../engine';
import { Rng } from '../engine/rng';
import type { SparseRow } from './features';
import type { KitRewardModel } from './trained';

export interface Example {
  row: SparseRow;
  /** BCE target: 1 = good class (z > 0 means "good"). */
  y?: 0 | 1;
  /** Regression target on the reward scale (used instead of y when present). */
  target?: number;
}

export interface FitOptions {
  epochs: number;
  batchSize: number;
  lr: number;
  l2: number;
  regWeight: number;
  seed: number;
  log?: (msg: string) => void;
  /** Called after each epoch (e.g. validation accuracy); its string is logged. */
  afterEpoch?: (epoch: number) => Promise<string>;
}

export interface FitReport {
  epochLoss: number[];
  seconds: number;
  steps: number;
}

/** Per-example masks and targets for one batch. */
function batchTargets(batch: readonly Example[]) {
  const n = batch.length;
  const cls = new Float32Array(n);
  const y = new Float32Array(n);
  const reg = new Float32Array(n);
  const t = new Float32Array(n);
  batch.forEach((e, i) => {
    if (e.target !== undefined) {
      reg[i] = 1;
      t[i] = e.target;
    } else if (e.y !== undefined) {
      cls[i] = 1;
      y[i] = e.y;
    } else throw new Error('fit: an example has neither a label y nor a regression target');
  });
  return { cls, y, reg, t };
}

export async function fitKitModel(model: KitRewardModel, examples: readonly Example[], opts: FitOptions): Promise<FitReport> {
  if (examples.length === 0) throw new Error('fitKitModel: no training examples');
  const optimizer = tf.train.adam(opts.lr);
  const rng = new Rng(opts.seed);
  const t0 = Date.now();
  const epochLoss: number[] = [];
  let steps = 0;
  for (let epoch = 1; epoch <= opts.epochs; epoch++) {
    const order = rng.shuffle(examples.map((_, i) => i));
    let lossSum = 0;
    for (let s = 0; s < order.length; s += opts.batchSize) {
      const batch = order.slice(s, s + opts.batchSize).map((i) => examples[i]);
      const m = batchTargets(batch);
      const loss = tf.tidy(() => {
        const cls = tf.tensor1d(m.cls);
        const y = tf.tensor1d(m.y);
        const reg = tf.tensor1d(m.reg);
        const t = tf.tensor1d(m.t);
        return optimizer.minimize(() => {
          const z = model.logits(batch.map((e) => e.row));
          // BCE with logits, stable form: softplus(z) − y·z
          const bce = tf.softplus(z).sub(y.mul(z)).mul(cls);
          const se = z.sub(t).square().mul(reg).mul(opts.regWeight);
          const data = bce.add(se).mean();
          return data.add(model.weight.square().sum().mul(opts.l2)) as tf.Scalar;
        }, true, [model.weight, model.bias]) as tf.Scalar;
      });
      lossSum += (await loss.data())[0] * batch.length; // one read per step, for the log
      loss.dispose();
      steps++;
    }
    epochLoss.push(lossSum / examples.length);
    const extra = opts.afterEpoch ? ` ${await opts.afterEpoch(epoch)}` : '';
    opts.log?.(`epoch ${epoch}/${opts.epochs} loss ${epochLoss[epoch - 1].toFixed(4)} (${((Date.now() - t0) / 1000).toFixed(1)} s)${extra}`);
  }
  optimizer.dispose();
  return { epochLoss, seconds: (Date.now() - t0) / 1000, steps };
}
