/**
 * The one switch between the kit's reward architectures, for the CLI (`reward train --arch`) and
 * the repro/study pipelines (their reward stage calls trainKitReward with the spec's arch):
 *   "linear"      hashed n-gram linear model (trained.ts, train.ts), the default;
 *   "transformer" small BERT (transformer.ts, train-transformer.ts), saved with an ONNX export
 *                 and scored through onnx.ts by loadRewardModel.
 * Both train on the same rows with the same held-out rule and calibration; both save a folder
 * that loadRewardModel(dir) loads.
 */
import type { FitReport } from './fit';
import { trainImdbReward, trainToxicityReward, type TrainHyper, type TrainOptions } from './train';
import { KitRewardModel } from './trained';
import { QUICK_TRANSFORMER, trainImdbTransformer, trainToxicityTransformer, type TransformerHyper, type TransformerTrainOptions } from './train-transformer';
import { TransformerRewardModel } from './transformer';

export type RewardArch = 'linear' | 'transformer';
export const REWARD_ARCHS: readonly RewardArch[] = ['linear', 'transformer'];

export function parseRewardArch(v: unknown, where = '--arch'): RewardArch {
  if (v === undefined) return 'linear';
  if (v !== 'linear' && v !== 'transformer') throw new Error(`${where} must be "linear" or "transformer", got ${JSON.stringify(v)}`);
  return v;
}

export type KitReward = KitRewardModel | TransformerRewardModel;

export interface KitTrainOptions extends Omit<TrainOptions, 'hyper'> {
  /** Architecture-specific hyperparameters (TrainHyper for linear, TransformerHyper for transformer). */
  hyper?: Partial<TrainHyper> | Partial<TransformerHyper>;
  /** Test-sized run: tiny model and a few hundred rows (seconds). */
  quick?: boolean;
}

/** Rows and size for `quick` per architecture (the linear values are the repro's quick reward). */
export function quickDefaults(arch: RewardArch): { limit: number; evalLimit: number; hyper: Record<string, number> } {
  return arch === 'linear' ? { limit: 2000, evalLimit: 2000, hyper: { hashBits: 16 } } : { ...QUICK_TRANSFORMER, hyper: QUICK_TRANSFORMER.hyper as Record<string, number> };
}

export async function trainKitReward(task: 'imdb' | 'toxicity', arch: RewardArch, o: KitTrainOptions = {}): Promise<{ model: KitReward; fit: FitReport }> {
  const q = o.quick ? quickDefaults(arch) : undefined;
  const opts = { ...o, limit: o.limit ?? q?.limit, hyper: { ...q?.hyper, ...o.hyper } };
  if (arch === 'linear') return task === 'imdb' ? trainImdbReward(opts as TrainOptions) : trainToxicityReward(opts as TrainOptions);
  return task === 'imdb' ? trainImdbTransformer(opts as TransformerTrainOptions) : trainToxicityTransformer(opts as TransformerTrainOptions);
}

/** Store evaluation results in the model's config before save. */
export function recordMetrics(model: KitReward, metrics: object): void {
  if (model instanceof KitRewardModel) model.config.metrics = metrics as Record<string, unknown>;
  else model.meta.metrics = metrics as Record<string, unknown>;
}
