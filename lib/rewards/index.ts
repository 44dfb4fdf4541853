/**
 * Reward models (docs/ARCHITECTURE.md): `RewardModel.score(texts) -> rewards`, one factory
 * `loadRewardModel(spec)` for kit folders (linear or transformer), ONNX folders and Hugging Face ids
 * in the local cache; `trainKitReward(task, arch)` trains either kit architecture.
 */
export { checkTexts, scoreInBatches, type RewardModel, type ScoreOptions } from './types';
export { loadRewardModel, AutoRewardModel, resolveHubModel, type RewardSpec } from './load';
export { OnnxRewardModel, KNOWN_HEADS, inferHead, type OnnxHead } from './onnx';
export { KitRewardModel, KIT_FORMAT, type KitRewardConfig } from './trained';
export { trainImdbReward, trainToxicityReward, fitCalibration, DEFAULT_HYPER, type TrainHyper, type TrainOptions } from './train';
export { evaluateImdb, evaluateToxicity, type ImdbEval, type ToxicityEval } from './evaluate';
export { isRewardTrainRow, isRewardEvalRow, evalRowsFor } from './heldout';
export { accuracy, pearson, rankAverage, rmse, rocAuc, spearman } from './stats';
export { writeTinyClassifier, bertTokenizerJson, readVocabTxt } from './tiny';
export { TransformerRewardModel, TRANSFORMER_FORMAT, type TransformerMeta } from './transformer';
export { BertClassifier, bertConfig, type BertConfig } from './encoder';
export { trainImdbTransformer, trainToxicityTransformer, DEFAULT_TRANSFORMER_HYPER, type TransformerHyper } from './train-transformer';
export { trainKitReward, parseRewardArch, REWARD_ARCHS, type RewardArch, type KitReward } from './arch';
