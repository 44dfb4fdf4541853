/**
 * lib/rl public API: PPO math (core), soft-risk schedule and CVaR selection (risk), rollouts,
 * the trl-0.7 PPOTrainer with RA-RLHF masking, the PPO/RA-RLHF train loop, and SFT.
 */
export * from './core';
export * from './risk';
export * from './rollout';
export { PPOTrainer, PPONumericError, DEFAULT_PPO_CONFIG, DEFAULT_RISK_SELECTION } from './ppo-trainer';
export type { PPOConfig, RiskSelectionOptions, StepStats } from './ppo-trainer';
export { trainPPO } from './train-loop';
export type { Algo, TrainPPODeps, TrainPPOResult, StepRecord } from './train-loop';
export { trainSFT, heldOutLoss, trainSFT as sft } from './sft';
export type { SFTOptions, SFTDeps, SFTResult, SFTStepRecord } from './sft';
export { NamedAdam } from './adam';
export { setupPPO, setupSFT, defaultTokenizer } from './setup';
export { trainQuark, quarkLoss, quarkBatch, quantileTokens, refResponseLogits } from './quark';
export type { QuarkOptions, QuarkDeps, QuarkResult } from './quark';
export { loadTrainConfig, loadSFTConfig, TRAIN_DEFAULTS } from './config';
export type { TrainConfig, SFTConfig } from './config';
