/**
 * RLHF / RA-RLHF stage: lib/rl's trainPPO (trl-0.7 PPO + soft-risk CVaR selection) with a config
 * built from TRAIN_DEFAULTS (the paper's values) plus the overrides a pipeline scales down. The
 * policy and the frozen reference both start from the SFT checkpoint (spec 2.1).
 */
import * as path from 'node:path';
import { TRAIN_DEFAULTS, loadTrainConfig, type TrainConfig } from '../rl/config';
import type { Json } from '../config/index';
import { trainPPO } from '../rl/train-loop';
import type { GPT2Tokenizer } from '../text/gpt2-tokenizer';
import type { RewardModel } from '../rewards/types';
import type { Progress } from './run-dir';
import { AutoModelForCausalLM, AutoModelForCausalLMWithValueHead } from '../models/pretrained';

export interface PPOScaled {
  steps: number; batchSize: number; miniBatchSize: number; ppoEpochs: number; lr: number; initKlCoef: number;
  maxNewTokens: number; minNewTokens: number;
}

export interface PPOStageOptions {
  algo: 'rlhf' | 'ra_rlhf';
  task: string;
  initDir: string;
  /** run folder of trainPPO: metrics.jsonl, config.json, checkpoints/final */
  outDir: string;
  /** query token ids */
  prompts: number[][];
  reward: RewardModel;
  tokenizer: GPT2Tokenizer;
  ppo: PPOScaled;
  risk: { alpha: number; warmStart: number; rho: number };
  seed: number;
  progress: Progress;
  /** `--set key=value` overrides on the resulting train config (a study arm's "set"), checked against the train schema */
  sets?: readonly string[];
  /**
   * where `reward` and the data come from, recorded in the run's config.json (model.policy is
   * initDir) so that `rarlhf train --algo <algo> --config <outDir>/config.json` replays the stage
   */
  rewardDir?: string;
  dataDir?: string;
  /** the file `prompts` were encoded from (rows with a "prompt" field, in order), for tasks without a loader (the demo) */
  promptsFile?: string;
}

/** The trainPPO config of a pipeline stage: paper defaults + the scaled fields (+ `sets`, validated). */
export function ppoTrainConfig(o: Pick<PPOStageOptions, 'task' | 'ppo' | 'risk' | 'seed' | 'sets'> & Partial<Pick<PPOStageOptions, 'initDir' | 'rewardDir' | 'dataDir' | 'promptsFile'>>): TrainConfig {
  const d = TRAIN_DEFAULTS;
  const config: TrainConfig = {
    ...d,
    task: o.task,
    seed: o.seed,
    data_dir: o.dataDir ? path.resolve(o.dataDir) : null,
    model: { ...d.model, policy: o.initDir ? path.resolve(o.initDir) : '' },
    generation: { ...d.generation, max_new_tokens: o.ppo.maxNewTokens, min_length: 0, min_new_tokens: o.ppo.minNewTokens, chunk_size: null },
    ppo: { ...d.ppo, learning_rate: o.ppo.lr, batch_size: o.ppo.batchSize, mini_batch_size: o.ppo.miniBatchSize, ppo_epochs: o.ppo.ppoEpochs, init_kl_coef: o.ppo.initKlCoef },
    // M = the number of PPO steps actually run, as the authors hard-code M = batches in one pass.
    risk: { ...d.risk, alpha: o.risk.alpha, n: o.risk.warmStart, rho: o.risk.rho, M: o.ppo.steps },
    reward: { ...d.reward, model: o.rewardDir ? path.resolve(o.rewardDir) : '', batch_size: 256 },
    train: { ...d.train, steps: o.ppo.steps, save_every: o.ppo.steps, prompts_file: o.promptsFile ? path.resolve(o.promptsFile) : null },
  };
  if (!o.sets?.length) return config;
  return loadTrainConfig(undefined, [...o.sets], config as unknown as Record<string, Json>);
}

export async function runPPOStage(o: PPOStageOptions): Promise<Record<string, unknown>> {
  const config = ppoTrainConfig(o);
  const policy = (await AutoModelForCausalLMWithValueHead.fromPretrained(o.initDir, { valueHeadSeed: o.seed })).model;
  const ref = (await AutoModelForCausalLM.fromPretrained(o.initDir)).model;
  o.progress.start(o.algo, o.ppo.steps);
  try {
    const r = await trainPPO(config, {
      algo: o.algo === 'ra_rlhf' ? 'ra-rlhf' : 'rlhf', policy, ref, tokenizer: o.tokenizer, rewardModel: o.reward,
      trainPrompts: o.prompts, outDir: o.outDir, progress: false,
      onStep: (rec) => o.progress.update(rec.step + 1, `reward ${rec['env/reward_mean'].toFixed(3)} kl ${rec['objective/kl'].toFixed(3)}`),
    });
    return { ...r.summary };
  } finally {
    o.progress.stop();
    policy.dispose();
    ref.dispose();
  }
}
