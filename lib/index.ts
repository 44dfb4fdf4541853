/**
 * rarlhf's public API (package.json "main"): what notebooks and users import. Each layer is a
 * namespace (`import { rl, models } from 'rarlhf'`), and the main verbs are also at the top level.
 * Layers, bottom to top: engine -> text -> models -> data -> rewards / rl / eval -> recipes -> cli.
 */
export * as engine from './engine';
export * as text from './text';
export * as models from './models';
export * as data from './data';
export * as rewards from './rewards';
export * as rl from './rl';
export * as evaluation from './eval';
export * as config from './config';

export { initEngine, tf, Rng } from './engine';
export { GPT2Tokenizer, trainByteLevelBPE } from './text';
export { GPT2LMHeadModel, GPT2WithValueHead, generate, sequenceLogprobs, loadGPT2, loadGPT2WithValueHead, saveModelCheckpoint, DExpertsLM, AutoTokenizer, AutoModelForCausalLM, AutoModelForCausalLMWithValueHead } from './models';
export { loadTask, TASKS } from './data';
export { loadRewardModel, AutoRewardModel, type RewardModel } from './rewards';
export { PPOTrainer, trainPPO, trainSFT, softRiskCount, trainQuark } from './rl';
export { evaluateTable } from './eval';
export { loadTrainConfig, loadSFTConfig } from './rl/config';
