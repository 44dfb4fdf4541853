/**
 * Miniature reproduction config: the paper's protocol (spec sections 2-6) on the real IMDB /
 * Jigsaw data at a size one seed of imdb-mini finishes within an hour on 2 CPU cores, with the
 * expensive shared stages (tokenizer, pretraining, SFT, reward model) cached by config hash.
 *
 * What is scaled, and why (the task-side scaling, prompt/response lengths, batch 32, M 30, lr x10,
 * n scaled with M, lives in lib/data/task-specs.ts and is used unchanged):
 * - Policy: GPT-2 architecture, 2 layers, d 128, 4 heads, context 128, BPE vocabulary 4,096 trained
 *   on the task's text, instead of pretrained GPT-2 small (124M, 50,257 tokens): no pretrained
 *   weights exist offline, and a 50k-token softmax would dominate CPU time.
 * - "GPT-2 pretraining" = causal-LM training on the task's own text (IMDB: train reviews of both
 *   classes, all 25k: 766 steps, ~10.5 min on one idle core, held-out loss 5.20; Jigsaw-mini: its
 *   train-half comments), first 64 tokens each, 1 epoch. `--pretrain-texts N` caps it (6,000 texts:
 *   ~190 steps, loss 6.09, a much weaker GPT2 column). This model is the paper's GPT2 column.
 * - SFT: task-specs' MINI_SFT (lr 1e-4, batch 32, 1 epoch, 40 tokens, 2,000 texts) instead of
 *   lr 1e-5 x effective batch 1024 x 10 epochs.
 * - Reward: the kit's reward models (lib/rewards, hashed n-gram linear models calibrated to the
 *   paper's classifier scales), standing in for distilbert-imdb / toxic-bert, whose weights are not
 *   available offline. So the tail threshold (-2.5 IMDB, +5 Jigsaw) keeps its meaning.
 * - PPO budget: one pass over the task's 960 train prompts (M 30, n 5). `--train-prompts N` scales it
 *   the paper's way (ppoBudget): M = floor(N / 32), n = round(30/194 * M); 6208 gives the paper's
 *   M 194, n 30 (seed 0: ~8 min per algorithm on one core; RLHF mean 1.12 / tail -0.72, RA-RLHF
 *   0.80 / -1.30, vs 0.07 / -1.71 and 0.03 / -1.96 at M 30: more budget did not close the gap).
 * - Perplexity: held-out class-0/1 human text per the paper (IMDB: positive test reviews, first
 *   1,000 chars; Jigsaw: non-toxic test comments, first 500 chars), 256 texts, cut to the policy's
 *   127-token context.
 */
import { getTaskSpec, type TaskSpec } from '../data/task-specs';

export interface ReproConfig {
  task: string;
  /** PPO train prompts: one pass = ppo.steps = floor(trainPrompts / batch) batches (the soft-risk M) */
  trainPrompts: number;
  model: { n_layer: number; n_embd: number; n_head: number; n_positions: number; dropout: number };
  tokenizer: { vocabSize: number; maxTexts: number };
  pretrain: { epochs: number; batchSize: number; lr: number; maxLength: number; maxTexts: number | null; seed: number };
  sft: { epochs: number; batchSize: number; lr: number; maxLength: number; seed: number; maxTexts: number | null };
  /** kit reward trainer options (lib/rewards/train.ts): null = its defaults, all training rows */
  reward: { limit: number | null; hashBits: number | null };
  ppo: { steps: number; batchSize: number; miniBatchSize: number; ppoEpochs: number; lr: number; initKlCoef: number; maxNewTokens: number; minNewTokens: number };
  risk: { alpha: number; warmStart: number; rho: number };
  eval: { nPrompts: number; maxNewTokens: number; minNewTokens: number; perplexityTexts: number; perplexityChars: number; cvarAlpha: number; tail: number };
}

/**
 * PPO budget for `trainPrompts` train prompts, the paper's way: one pass over the prompts gives
 * M = floor(prompts / batch) steps, and the warm start n keeps the paper task's n/M (as task-specs
 * derives the mini's n: IMDB 30/194 -> 5 of 30). Default (the task's trainSize) = the spec's M and n.
 */
export function ppoBudget(spec: TaskSpec, trainPrompts: number | null | undefined): { trainPrompts: number; M: number; n: number } {
  const base = spec.trainSize ?? spec.M * spec.batchSize;
  if (trainPrompts === undefined || trainPrompts === null || trainPrompts === base) return { trainPrompts: base, M: spec.M, n: spec.risk.n };
  if (!Number.isInteger(trainPrompts) || trainPrompts < spec.batchSize) {
    throw new Error(`reproConfig: trainPrompts must be an integer >= the batch size ${spec.batchSize}, got ${trainPrompts}`);
  }
  const paper = getTaskSpec(spec.scaledFrom ?? spec.name);
  const M = Math.floor(trainPrompts / spec.batchSize);
  return { trainPrompts, M, n: Math.round((paper.risk.n / paper.M) * M) };
}

export function reproConfig(spec: TaskSpec, o: { quick?: boolean; pretrainTexts?: number | null; trainPrompts?: number | null } = {}): ReproConfig {
  const budget = ppoBudget(spec, o.trainPrompts);
  const cfg: ReproConfig = {
    task: spec.name,
    trainPrompts: budget.trainPrompts,
    model: { n_layer: 2, n_embd: 128, n_head: 4, n_positions: 128, dropout: 0.1 },
    tokenizer: { vocabSize: 4096, maxTexts: 20000 },
    // pretraining covers every position PPO uses (imdb-small: 64 + 48 = 112), at least 64 tokens
    pretrain: { epochs: 1, batchSize: 32, lr: 1e-3, maxLength: Math.max(64, spec.promptTokens + spec.maxNewTokens), maxTexts: o.pretrainTexts === undefined ? null : o.pretrainTexts, seed: 0 },
    sft: { epochs: spec.sft.epochs, batchSize: spec.sft.batchSize * spec.sft.gradAccum, lr: spec.sft.learningRate, maxLength: spec.sft.maxSeqLength, seed: spec.sft.seed, maxTexts: null },
    reward: { limit: null, hashBits: null },
    ppo: {
      steps: budget.M, batchSize: spec.batchSize, miniBatchSize: spec.miniBatchSize, ppoEpochs: spec.ppoEpochs, lr: spec.learningRate, initKlCoef: 0.2,
      maxNewTokens: spec.maxNewTokens, minNewTokens: Math.max(0, spec.minLength - spec.promptTokens),
    },
    risk: { alpha: spec.risk.alpha, warmStart: budget.n, rho: spec.risk.rho },
    eval: {
      nPrompts: spec.testSize ?? 256, maxNewTokens: spec.maxNewTokens, minNewTokens: Math.max(0, spec.evalMinLength - spec.promptTokens),
      perplexityTexts: 256, perplexityChars: spec.perplexityChars, cvarAlpha: spec.risk.alpha, tail: spec.tailThreshold,
    },
  };
  if (o.quick) {
    // Test-sized: exercises every stage in seconds; numbers are not meaningful.
    cfg.model = { n_layer: 1, n_embd: 32, n_head: 2, n_positions: 64, dropout: 0.1 };
    cfg.tokenizer = { vocabSize: 400, maxTexts: 500 };
    cfg.pretrain = { ...cfg.pretrain, maxTexts: 256, maxLength: 32 };
    cfg.sft = { ...cfg.sft, maxLength: 32, maxTexts: 128 };
    cfg.reward = { limit: 2000, hashBits: 16 };
    cfg.ppo = { ...cfg.ppo, steps: 2, batchSize: 8, miniBatchSize: 8, ppoEpochs: 1, maxNewTokens: 8, minNewTokens: Math.min(cfg.ppo.minNewTokens, 8) };
    cfg.risk = { ...cfg.risk, warmStart: 0 };
    cfg.eval = { ...cfg.eval, nPrompts: 16, maxNewTokens: 8, minNewTokens: Math.min(cfg.eval.minNewTokens, 8), perplexityTexts: 16 };
  }
  return cfg;
}
