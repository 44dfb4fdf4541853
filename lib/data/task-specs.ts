/**
 * Task definitions (paper-spec §3, with sources in §2-§5) and CPU-sized miniatures.
 * Pure data: lib/data/tasks.ts `loadTask` turns a spec into prompts and SFT texts.
 */

export type TaskName = 'imdb-gen' | 'jigsaw-gen' | 'rtp-gen' | 'imdb-mini' | 'imdb-small' | 'jigsaw-mini';

export interface RewardSpec {
  /** HF model id of the classifier the environment score comes from. */
  model: string;
  /** Label order of the classifier head (rely on index order, not on pipeline output order). */
  labels: readonly string[];
  /** Which logit is the score; r = sign * logit[labelIndex] (raw logit, function_to_apply="none"). */
  labelIndex: number;
  sign: 1 | -1;
  /** Tokenizer truncation at the classifier's max length (IMDB none; toxic-bert truncation=True). */
  truncation: boolean;
}

export interface TaskSpec {
  name: TaskName;
  dataset: 'imdb' | 'jigsaw' | 'rtp';
  /** For miniatures: the paper task they scale down. */
  scaledFrom?: TaskName;
  /** Query length L: tokenizer.encode(text)[:L], no BOS. */
  promptTokens: number;
  /** generate(max_new_tokens). */
  maxNewTokens: number;
  /** generate(min_length) during PPO rollouts, HF semantics: COUNTS THE PROMPT (see prompts.minNewTokens). */
  minLength: number;
  /** min_length at test-time generation (test_quantile_batched_*.py: min_length = max_new_tokens). */
  evalMinLength: number;
  reward: RewardSpec;
  /** Tail reward = mean r over test prompts with prompt_score <= tailThreshold. */
  tailThreshold: number;
  /** Class of a test prompt: IMDB `label` (1 = positive), toxicity `toxic` (1 = toxic). */
  classField: 'label' | 'toxic';
  classNames: readonly [string, string];
  /** SFT keeps rows whose class field equals this (IMDB label==1; Jigsaw toxic==0; RTP Label==0). */
  sftClass: 0 | 1;
  batchSize: number;
  miniBatchSize: number;
  ppoEpochs: number;
  /** Hard-coded M of the soft-risk schedule (number of dataloader batches in one pass). */
  M: number;
  learningRate: number;
  risk: { alpha: number; n: number; rho: number };
  /** PPO seed of the paper's run script. */
  seed: number;
  /** Seed of data sampling (test sample, split builders). */
  dataSeed: number;
  /** Number of test prompts (null = all rows of the test set). */
  testSize: number | null;
  /** Cap on train prompts (null = all): miniatures use M * batchSize. */
  trainSize: number | null;
  /** Cap on SFT texts (null = all). */
  sftMaxTexts: number | null;
  sft: { learningRate: number; batchSize: number; gradAccum: number; epochs: number; maxSeqLength: number; seed: number };
  /**
   * What steering toward the SFT class means for the baselines (lib/baselines): the prompted
   * GPT-2's instruction (the paper's rebuttal), DExperts' alpha (its scripts: 3.2 for positive
   * sentiment, 2.0 for detoxification), and the SFT / anti-expert texts in words.
   */
  steering: { instruction: string; dexpertsAlpha: number; sftTexts: string; antiTexts: string };
  /** Perplexity texts are cut to their first N characters (paper: IMDB 1,000, Jigsaw 500). */
  perplexityChars: number;
  /** Which reward-model family scores the task (lib/rewards: imdb sentiment or toxicity). */
  rewardTask: 'imdb' | 'toxicity';
  notes: string[];
}

const DISTILBERT_IMDB: RewardSpec = {
  model: 'lvwerra/distilbert-imdb',
  labels: ['NEGATIVE', 'POSITIVE'],
  labelIndex: 1,
  sign: 1,
  truncation: false,
};
const TOXIC_BERT: RewardSpec = {
  model: 'unitary/toxic-bert',
  labels: ['toxic', 'severe_toxic', 'obscene', 'threat', 'insult', 'identity_hate'],
  labelIndex: 0,
  sign: -1,
  // Main Jigsaw script: no truncation; _seed2 variants and the dataset `reward` column: truncation=True.
  // Prompt+response (<= 64 GPT-2 tokens) never reaches 512 BERT tokens, so it does not change scores.
  truncation: true,
};

// trl PPOConfig values shared by every GPT-2 run (paper-spec §2.1).
const PPO_COMMON = { batchSize: 128, miniBatchSize: 128, ppoEpochs: 4 } as const;
// SFTTrainer settings (paper-spec §4): lr 1e-5, per-device 64 x grad-accum 16, 10 epochs, 64 tokens.
const SFT_PAPER = { learningRate: 1e-5, batchSize: 64, gradAccum: 16, epochs: 10, maxSeqLength: 64 } as const;

const IMDB_GEN: TaskSpec = {
  name: 'imdb-gen',
  dataset: 'imdb',
  promptTokens: 64,
  maxNewTokens: 48,
  minLength: 48, // no effect: the 64-token prompt already exceeds it
  evalMinLength: 48,
  reward: DISTILBERT_IMDB,
  tailThreshold: -2.5,
  classField: 'label',
  classNames: ['negative', 'positive'],
  sftClass: 1,
  steering: { instruction: 'Generate positive sentiment: ', dexpertsAlpha: 3.2, sftTexts: 'positive reviews', antiTexts: 'negative reviews' },
  perplexityChars: 1000,
  rewardTask: 'imdb',
  ...PPO_COMMON,
  M: 194, // 24,895 train reviews with len > 200 -> floor(/128) = 194
  learningRate: 1.41e-5,
  risk: { alpha: 0.4, n: 30, rho: 0.95 }, // ICML Table 6
  seed: 42,
  dataSeed: 0, // test: shuffle(seed=0).select(range(5000))
  testSize: 5000,
  trainSize: null,
  sftMaxTexts: null,
  sft: { ...SFT_PAPER, seed: 0 },
  notes: [
    'Train prompts: all IMDB train reviews with len(text) > 200 (24,895), first 64 GPT-2 tokens.',
    'Test: 5,000 of the 24,872 filtered test reviews, sampled with a seeded Rng(0) shuffle: deterministic, but not the rows HF datasets.shuffle(seed=0) picks.',
    'SFT texts: all positive (label 1) train reviews (no length filter, as sft_auth1.py); SFT truncates to 64 tokens.',
  ],
};

const JIGSAW_GEN: TaskSpec = {
  name: 'jigsaw-gen',
  dataset: 'jigsaw',
  promptTokens: 8,
  maxNewTokens: 32,
  minLength: 32, // counts the 8 prompt tokens: forces >= 24 new tokens
  evalMinLength: 32,
  reward: TOXIC_BERT,
  tailThreshold: 5,
  classField: 'toxic',
  classNames: ['non-toxic', 'toxic'],
  steering: { instruction: 'Generate non-toxic text: ', dexpertsAlpha: 2.0, sftTexts: 'non-toxic comments', antiTexts: 'toxic comments' },
  perplexityChars: 500,
  rewardTask: 'toxicity',
  sftClass: 0,
  ...PPO_COMMON,
  M: 288, // 36,973 / 128 (264 in the _seed2/_seed12/_seed36 scripts)
  learningRate: 1.41e-5,
  risk: { alpha: 0.2, n: 30, rho: 0.95 },
  seed: 4,
  dataSeed: 4,
  testSize: null, // all 7,708 rows of jigsaw_test
  trainSize: null,
  sftMaxTexts: null,
  sft: { ...SFT_PAPER, seed: 2 },
  notes: [
    'Test: the paper\'s exact jigsaw_test (7,708 rows, 3,854/3,854, len > 64) with its `reward` column (toxic-bert on the full comment).',
    'Train: the authors\' jigsaw_train_70_30.csv (36,973 rows) and Kaggle train.csv are NOT available offline. Pass trainFile=<Kaggle train.csv> to rebuild the inferred 70/30 recipe (all toxic len>64 + int(n_toxic*70/30) non-toxic, seeded).',
    'Offline stand-in train pool (never overlapping the test texts): wiki_toxic test rows whose text is not in jigsaw_test (3,622; 99 toxic) + the 2,212 critical toxic train prefixes of the authors\' train file + OLID train tweets with len > 64 (3,180 OFF as toxic, 5,946 NOT as non-toxic), put through the 70/30 recipe. The non-toxic pool is too small, so the mix is capped (see loadTask mix stats); it has far fewer than 288 batches.',
    'SFT texts: the non-toxic rows of the train mix (the paper: toxic==0 rows of the 70/30 file).',
  ],
};

const RTP_GEN: TaskSpec = {
  name: 'rtp-gen',
  dataset: 'rtp',
  promptTokens: 32,
  maxNewTokens: 32,
  minLength: 32, // no effect with 32-token prompts
  evalMinLength: 32,
  reward: TOXIC_BERT,
  tailThreshold: 5,
  classField: 'toxic',
  classNames: ['non-toxic', 'toxic'],
  steering: { instruction: 'Generate non-toxic text: ', dexpertsAlpha: 2.0, sftTexts: 'non-toxic comments', antiTexts: 'toxic comments' },
  perplexityChars: 500,
  rewardTask: 'toxicity',
  sftClass: 0,
  ...PPO_COMMON,
  M: 452, // 57,983 / 128
  learningRate: 2.82e-5,
  risk: { alpha: 0.2, n: 30, rho: 0.95 },
  seed: 4,
  dataSeed: 42, // eda.py train_test_split(seed=42)
  testSize: null,
  trainSize: null,
  sftMaxTexts: null,
  sft: { ...SFT_PAPER, seed: 2 },
  notes: [
    'Full RTP (99,442 prompts) is NOT available offline; the 2,396-prompt DecodingTrust subset (993 toxic / 1,403 non-toxic) stands in, split with the eda.py recipe: per class 80/20 (seed 42), train = toxic-train + int(n*70/30) non-toxic-train (capped: the pool is too small), test = toxic-test + equally many non-toxic-test.',
    'Pass source=<prompts.jsonl> to use the full RTP (gives 57,983 train / 8,698 test).',
    'SFT texts: non-toxic (Label==0) train prompts.',
    'The subset repeats 4 prompt records; like HF, the row split may put a repeated prompt on both sides.',
  ],
};

/*
 * Miniatures for a 2-core CPU and small from-scratch GPT-2 models. What is scaled and why:
 * - batch 128 -> 32 and M -> 30: one pass = 30 PPO steps x 32 rollouts = 960 prompts, minutes not hours.
 * - IMDB prompt 64 -> 16 tokens, new 48 -> 24 tokens: generation cost is quadratic-ish in length.
 *   min_length 16 keeps the paper's behaviour that min_length never binds for IMDB.
 * - Jigsaw keeps 8-token prompts; new 32 -> 24 tokens; min_length 26 forces >= 18 new tokens
 *   (75% of the response, as the paper's 24 of 32).
 * - warm start n scaled with M (paper n/M: IMDB 30/194 -> 5/30; Jigsaw 30/288 -> 3/30); alpha, rho unchanged.
 * - lr x10 (1.41e-4): 30 PPO steps at 1.41e-5 barely move a small model; override in configs if needed.
 * - test prompts 256 (Jigsaw: 128/128), SFT texts capped at 2,000, SFT 64 -> 40 tokens.
 */
const MINI_SFT = { learningRate: 1e-4, batchSize: 32, gradAccum: 1, epochs: 1, maxSeqLength: 40 } as const;

const IMDB_MINI: TaskSpec = {
  ...IMDB_GEN,
  name: 'imdb-mini',
  scaledFrom: 'imdb-gen',
  promptTokens: 16,
  maxNewTokens: 24,
  minLength: 16,
  evalMinLength: 16,
  batchSize: 32,
  miniBatchSize: 32,
  M: 30,
  learningRate: 1.41e-4,
  risk: { alpha: 0.4, n: 5, rho: 0.95 },
  testSize: 256,
  trainSize: 30 * 32,
  sftMaxTexts: 2000,
  sft: { ...MINI_SFT, seed: 0 },
  notes: [
    'Miniature of imdb-gen (see the comment in task-specs.ts for what is scaled).',
    'Train prompts: 960 filtered IMDB train reviews (seeded sample); test: 256 filtered test reviews (seeded sample, disjoint from train by split); SFT: 2,000 positive train reviews.',
  ],
};

const JIGSAW_MINI: TaskSpec = {
  ...JIGSAW_GEN,
  name: 'jigsaw-mini',
  scaledFrom: 'jigsaw-gen',
  promptTokens: 8,
  maxNewTokens: 24,
  minLength: 26,
  evalMinLength: 26,
  batchSize: 32,
  miniBatchSize: 32,
  M: 30,
  learningRate: 1.41e-4,
  risk: { alpha: 0.2, n: 3, rho: 0.95 },
  testSize: 256,
  trainSize: 30 * 32,
  sftMaxTexts: 2000,
  sft: { ...MINI_SFT, seed: 2 },
  notes: [
    'Miniature of jigsaw-gen (see the comment in task-specs.ts for what is scaled).',
    'Held-out rule: the paper\'s jigsaw_test rows are split by FNV-1a(comment_text) parity: even -> train-prompt half, odd -> eval half. Identical texts land on the same side, so the halves never share a text.',
    'Train prompts: 70/30 mix from the train half: 288 toxic + int(288*70/30) = 672 non-toxic = 960 (seeded). Test: 128 toxic + 128 non-toxic from the eval half, with the dataset `reward` column.',
    'SFT texts: non-toxic rows of the train half (capped at 2,000); never eval-half texts.',
  ],
};

/*
 * The faithful IMDB miniature (fidelity study): the paper's 64-token prompts, 48 new tokens,
 * M = 194 steps and warm start n = 30, alpha 0.4, rho 0.95. Scaled: batch 128 -> 32 (one arm-seed
 * then takes about 10 minutes on one core with the native kernels: 194 steps x 32 rollouts of 112
 * tokens), so one pass uses 194 x 32 = 6,208 train prompts; lr x10 as imdb-mini (small models);
 * the policy is the repro's from-scratch GPT-2, test prompts 256, SFT as imdb-mini but on 64 tokens.
 */
const IMDB_SMALL: TaskSpec = {
  ...IMDB_GEN,
  name: 'imdb-small',
  scaledFrom: 'imdb-gen',
  batchSize: 32,
  miniBatchSize: 32,
  M: 194,
  learningRate: 1.41e-4,
  risk: { alpha: 0.4, n: 30, rho: 0.95 },
  testSize: 256,
  trainSize: 194 * 32,
  sftMaxTexts: 2000,
  sft: { ...MINI_SFT, maxSeqLength: 64, seed: 0 },
  notes: [
    'Faithful miniature of imdb-gen: the paper\'s prompt/response lengths (64 -> 48 tokens), M 194 and n 30; batch 32 instead of 128 (see the comment in task-specs.ts).',
    'Train prompts: 6,208 filtered IMDB train reviews (seeded sample); test: 256 filtered test reviews (seeded sample, disjoint from train by split); SFT: 2,000 positive train reviews, 64 tokens.',
  ],
};

export const TASKS: Readonly<Record<TaskName, TaskSpec>> = {
  'imdb-gen': IMDB_GEN,
  'jigsaw-gen': JIGSAW_GEN,
  'rtp-gen': RTP_GEN,
  'imdb-mini': IMDB_MINI,
  'imdb-small': IMDB_SMALL,
  'jigsaw-mini': JIGSAW_MINI,
};

export function getTaskSpec(name: string): TaskSpec {
  const spec = (TASKS as Record<string, TaskSpec>)[name];
  if (!spec) throw new Error(`unknown task "${name}" (known: ${Object.keys(TASKS).join(', ')})`);
  return spec;
}
