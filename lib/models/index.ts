/** Public face of lib/models: GPT-2 (+ value head), generation, checkpoints, safetensors, Hub. */
export * from './gpt2';
export { generate, sequenceLogprobs, lmLoss, leftPad, processLogits, sampleFromLogits, logprobsFromLogits, REMOVED } from './generate';
export type { CausalLM, GenerateOptions, GenerateOutput, LogitsProcessing } from './generate';
export { saveModelCheckpoint, loadGPT2, loadGPT2WithValueHead, loadCheckpoint, saveCheckpoint, loadTrainerState, saveTrainerState, hfConfigJson, parseHfConfig } from './checkpoint';
export { readSafetensors, writeSafetensors, loadSafetensorsTf, saveSafetensorsTf } from './safetensors';
export { hubDownload, defaultCacheDir, hubOffline, classifyModelRef } from './hub';
export { DExpertsLM, dexpertsLogits } from './dexperts';
export { withControlTokens, RestrictedVocabLM } from './control-tokens';
export { AutoTokenizer, AutoModelForCausalLM, AutoModelForCausalLMWithValueHead, resolvePretrained } from './pretrained';
