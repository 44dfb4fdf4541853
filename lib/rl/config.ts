/**
 * Config schemas for `rarlhf train` (PPO / RA-RLHF) and `rarlhf sft`. Field names follow trl's
 * PPOConfig and HF TrainingArguments where one exists. Defaults are the paper's IMDB setting.
 */
import { TASKS } from '../data/task-specs';
import { DEFAULT_PPO_CONFIG, type PPOConfig } from './ppo-trainer';
import { RANK_BY, type RankBy } from './risk';
import { RISK_MEASURES, type RiskMeasure } from './risk-measures';
import type { SFTOptions } from './sft';
import { Json, Schema, resolveConfig } from '../config/index';

// 'demo': the offline demo's generated task (lib/demo); it has no loader, so its train config names
// the corpus file in train.prompts_file
const TASK_NAMES = [...Object.keys(TASKS), 'demo'];

export interface TrainConfig {
  task: string;
  seed: number;
  data_dir: string | null;
  model: { policy: string; ref: string | null; value_head_seed: number };
  reward: { model: string; batch_size: number };
  generation: {
    max_new_tokens: number;
    min_length: number;
    min_new_tokens: number;
    top_k: number;
    top_p: number;
    temperature: number;
    chunk_size: number | null;
  };
  ppo: PPOConfig;
  risk: {
    alpha: number;
    n: number;
    rho: number;
    M: number | null;
    scheduler: 'new' | 'old';
    rank_by: RankBy;
    kl_input: 'sum_selected_over_B' | 'mean_selected';
    /** how ranked episodes become weights (lib/rl/risk-measures.ts); cvar_batch = the paper's */
    measure: RiskMeasure;
    /** responses per prompt in a batch (cvar_per_prompt groups them); must divide ppo.batch_size */
    samples_per_prompt: number;
    /** entropic: target temperature lambda (in reward units) */
    entropic_lambda: number;
    /** mean_variance: c in R - c (R - mean R)^2 */
    mv_coef: number;
    /** prompt sampling: the shuffled pass (uniform) or CeSoR's cross-entropy tilt (prompt-sampler.ts) */
    sampler: 'uniform' | 'cross_entropy';
    sampler_bins: number;
    sampler_eta: number;
    sampler_min_prob: number;
  };
  train: {
    steps: number | null; epochs: number; save_every: number; rollout_dropout: boolean; max_prompts: number | null;
    /** train prompts from a file of {"prompt": text} rows instead of the task's loader (lib/data/prompts.ts readPromptFile) */
    prompts_file: string | null;
  };
}

export const TRAIN_DEFAULTS: TrainConfig = {
  task: 'imdb-gen',
  seed: 42,
  data_dir: null,
  model: { policy: '', ref: null, value_head_seed: 0 },
  reward: { model: '', batch_size: 16 },
  generation: { max_new_tokens: 48, min_length: 48, min_new_tokens: 0, top_k: 0, top_p: 1.0, temperature: 1.0, chunk_size: 4 },
  ppo: { ...DEFAULT_PPO_CONFIG },
  risk: {
    alpha: 0.4, n: 30, rho: 0.95, M: 194, scheduler: 'new', rank_by: 'lambda_return_first_response_token', kl_input: 'sum_selected_over_B',
    measure: 'cvar_batch', samples_per_prompt: 1, entropic_lambda: 1, mv_coef: 0.5, sampler: 'uniform', sampler_bins: 5, sampler_eta: 0.3, sampler_min_prob: 0.2,
  },
  train: { steps: null, epochs: 1, save_every: 10, rollout_dropout: false, max_prompts: null, prompts_file: null },
};

const pos = { type: 'number', gt: 0 } as const;
const posInt = { type: 'integer', min: 1 } as const;
const nonNeg = { type: 'number', min: 0 } as const;

export const TRAIN_SCHEMA: Schema = {
  task: { type: 'string', enum: TASK_NAMES },
  seed: { type: 'integer', min: 0 },
  data_dir: { type: 'string', nullable: true },
  'model.policy': { type: 'string' },
  'model.ref': { type: 'string', nullable: true },
  'model.value_head_seed': { type: 'integer', min: 0 },
  'reward.model': { type: 'string' },
  'reward.batch_size': posInt,
  'generation.max_new_tokens': posInt,
  'generation.min_length': { type: 'integer', min: 0 },
  'generation.min_new_tokens': { type: 'integer', min: 0 },
  'generation.top_k': { type: 'integer', min: 0 },
  'generation.top_p': { type: 'number', gt: 0, max: 1 },
  'generation.temperature': pos,
  'generation.chunk_size': { ...posInt, nullable: true },
  'ppo.learning_rate': pos,
  'ppo.batch_size': posInt,
  'ppo.mini_batch_size': posInt,
  'ppo.ppo_epochs': posInt,
  'ppo.gamma': { type: 'number', min: 0, max: 1 },
  'ppo.lam': { type: 'number', min: 0, max: 1 },
  'ppo.cliprange': pos,
  'ppo.cliprange_value': pos,
  'ppo.vf_coef': nonNeg,
  'ppo.kl_penalty': { type: 'string', enum: ['kl', 'abs', 'mse', 'full'] },
  'ppo.adap_kl_ctrl': { type: 'boolean' },
  'ppo.init_kl_coef': nonNeg,
  'ppo.target': pos,
  'ppo.horizon': pos,
  'ppo.horizon_scale': { ...pos, nullable: true, alsoStrings: ['paper'] },
  'ppo.ratio_threshold': pos,
  'ppo.max_grad_norm': { ...pos, nullable: true },
  'ppo.forward_batch_size': { ...posInt, nullable: true },
  'risk.alpha': { type: 'number', gt: 0, max: 1 },
  'risk.n': { type: 'integer', min: 0 },
  'risk.rho': { type: 'number', gt: 0, max: 1 },
  'risk.M': { ...posInt, nullable: true },
  'risk.scheduler': { type: 'string', enum: ['new', 'old'] },
  'risk.rank_by': { type: 'string', enum: RANK_BY },
  'risk.kl_input': { type: 'string', enum: ['sum_selected_over_B', 'mean_selected'] },
  'risk.measure': { type: 'string', enum: RISK_MEASURES },
  'risk.samples_per_prompt': posInt,
  'risk.entropic_lambda': pos,
  'risk.mv_coef': nonNeg,
  'risk.sampler': { type: 'string', enum: ['uniform', 'cross_entropy'] },
  'risk.sampler_bins': posInt,
  'risk.sampler_eta': { type: 'number', min: 0, max: 1 },
  'risk.sampler_min_prob': { type: 'number', min: 0, max: 1 },
  'train.steps': { ...posInt, nullable: true },
  'train.epochs': posInt,
  'train.save_every': posInt,
  'train.rollout_dropout': { type: 'boolean' },
  'train.max_prompts': { ...posInt, nullable: true },
  'train.prompts_file': { type: 'string', nullable: true },
};

export interface SFTConfig {
  task: string;
  seed: number;
  data_dir: string | null;
  model: {
    init: string | null; // checkpoint dir; null = fresh model of `scratch` size
    tokenizer: string | null; // default: the init checkpoint's (an init without tokenizer files is an error); no init: <data_dir>/tokenizers/gpt2
    scratch: { n_layer: number; n_embd: number; n_head: number; n_positions: number; dropout: number };
  };
  /** trainSFT's options (the run's top-level seed is used) plus a cap on the number of texts */
  sft: Omit<SFTOptions, 'seed'> & { max_texts: number | null };
}

export const SFT_DEFAULTS: SFTConfig = {
  task: 'imdb-gen',
  seed: 0,
  data_dir: null,
  model: { init: null, tokenizer: null, scratch: { n_layer: 2, n_embd: 64, n_head: 4, n_positions: 128, dropout: 0.1 } },
  sft: {
    learning_rate: 1e-5,
    batch_size: 64,
    grad_accum: 16,
    epochs: 10,
    max_seq_length: 64,
    weight_decay: 0,
    max_grad_norm: 1.0,
    eval_fraction: 0.02,
    max_texts: null,
    save_every: null,
    keep_last: 2,
  },
};

export const SFT_SCHEMA: Schema = {
  task: { type: 'string', enum: TASK_NAMES },
  seed: { type: 'integer', min: 0 },
  data_dir: { type: 'string', nullable: true },
  'model.init': { type: 'string', nullable: true },
  'model.tokenizer': { type: 'string', nullable: true },
  'model.scratch.n_layer': posInt,
  'model.scratch.n_embd': posInt,
  'model.scratch.n_head': posInt,
  'model.scratch.n_positions': posInt,
  'model.scratch.dropout': { type: 'number', min: 0, max: 1 },
  'sft.learning_rate': pos,
  'sft.batch_size': posInt,
  'sft.grad_accum': posInt,
  'sft.epochs': posInt,
  'sft.max_seq_length': { type: 'integer', min: 2 },
  'sft.weight_decay': nonNeg,
  'sft.max_grad_norm': { ...pos, nullable: true },
  'sft.eval_fraction': { type: 'number', min: 0, max: 0.5 },
  'sft.max_texts': { ...posInt, nullable: true },
  'sft.save_every': { ...posInt, nullable: true },
  'sft.keep_last': { ...posInt, nullable: true },
};

/** defaults <- file (or an already-parsed object, named `file` in errors) <- --set overrides. */
export function loadTrainConfig(file: string | undefined, sets: string[] = [], fileObject?: Record<string, Json>): TrainConfig {
  const cfg = resolveConfig<TrainConfig>({ schema: TRAIN_SCHEMA, defaults: TRAIN_DEFAULTS as unknown as Record<string, Json>, file, sets, fileObject });
  const where = file ?? '<config>';
  if (cfg.ppo.batch_size % cfg.ppo.mini_batch_size !== 0) {
    throw new Error(`${where}: field "ppo.mini_batch_size" (${cfg.ppo.mini_batch_size}) must divide ppo.batch_size (${cfg.ppo.batch_size})`);
  }
  if (cfg.ppo.batch_size % cfg.risk.samples_per_prompt !== 0) {
    throw new Error(`${where}: field "risk.samples_per_prompt" (${cfg.risk.samples_per_prompt}) must divide ppo.batch_size (${cfg.ppo.batch_size})`);
  }
  return cfg;
}

export function loadSFTConfig(file: string | undefined, sets: string[] = []): SFTConfig {
  return resolveConfig<SFTConfig>({ schema: SFT_SCHEMA, defaults: SFT_DEFAULTS as unknown as Record<string, Json>, file, sets });
}
