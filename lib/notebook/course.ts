/**
 * The notebooks' course: one object per scale with the data, the hyperparameters and the run
 * folder, so notebooks 02-05 call the library the same way at every scale.
 *
 *   teach  the offline demo's generated reviews (lib/demo): readable text, a hostile tail that
 *          RLHF leaves behind, each notebook a few minutes on 2 cores. The CI default.
 *   real   real IMDB through the `imdb-mini` task (16-token prompts, 24 new tokens). At this size
 *          the models write broken English and RA-RLHF does not lift the tail: the fidelity study
 *          (docs/results/study/) measures why.
 *   full   real IMDB with a larger model and budget (an hour or more).
 *
 * One object so the notebooks' cells read the same at every scale (`course.hyper.ppo.steps`, ...).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { projectRoot, resolveDataDir } from '../data/paths';
import { loadImdb } from '../data/imdb';
import { TASKS, loadTask } from '../data/tasks';
import { minNewTokens } from '../data/prompts';
import { Rng } from '../engine/rng';
import { generateCorpus, hostileTailThreshold, splitCorpus, type DemoReview } from '../demo/corpus';
import { demoConfig } from '../demo/config';
import { trainSentimentReward, type LabelledText } from '../pipeline/reward-adapter';
import { trainImdbReward } from '../rewards/train';
import { evaluateImdb } from '../rewards/evaluate';
import type { KitRewardModel } from '../rewards/trained';
import type { RewardModel } from '../rewards/types';
import { runPPOStage } from '../pipeline/ppo-adapter';
import { AutoModelForCausalLM } from '../models/pretrained';
import type { GPT2LMHeadModel } from '../models/gpt2';
import { Progress } from '../pipeline/run-dir';
import { GPT2Tokenizer } from '../text/gpt2-tokenizer';

export const COURSE_SCALES = ['teach', 'real', 'full'] as const;
export type CourseScale = (typeof COURSE_SCALES)[number];

/** The scale from RARLHF_NB_SCALE (default teach); any other value is an error naming the choices. */
export function courseScale(value: string | undefined = process.env.RARLHF_NB_SCALE): CourseScale {
  const v = value === undefined || value === '' ? 'teach' : value;
  if (!(COURSE_SCALES as readonly string[]).includes(v)) {
    throw new Error(`RARLHF_NB_SCALE must be one of ${COURSE_SCALES.join(', ')}, got "${v}"${v === 'quick' ? ' (quick was renamed real)' : ''}`);
  }
  return v as CourseScale;
}

export interface CourseHyper {
  vocabSize: number;
  model: { n_layer: number; n_embd: number; n_head: number; n_positions: number };
  pretrain: { lr: number; batchSize: number; epochs: number; maxLength: number };
  sft: { lr: number; batchSize: number; epochs: number; maxLength: number };
  /** PPO budget, the same for RLHF and RA-RLHF */
  ppo: { steps: number; batchSize: number; miniBatchSize: number; ppoEpochs: number; lr: number; initKlCoef: number; maxNewTokens: number; minNewTokens: number };
  /** soft-risk schedule: alpha, warm start n (scaled to the same share of M as the paper's 30/194), rho */
  risk: { alpha: number; warmStart: number; rho: number };
  /** EMA weight for the training-curve figures; the paper's TensorBoard uses 0.97 over 194+ steps */
  smoothing: number;
  eval: { prompts: number; maxNewTokens: number; pplTexts: number };
}

export interface CoursePrompt { prompt: string; ids: number[]; label: 0 | 1; hostile: boolean }

export interface Course {
  scale: CourseScale;
  dataDir: string;
  /** runs/notebooks/<scale>: checkpoints and tables that notebooks 03-05 read back */
  runDir: string;
  /** what the data is, for captions */
  dataName: string;
  classNames: [string, string];
  hyper: CourseHyper;
  bpeTexts: string[];
  pretrainTexts: string[];
  /** positive texts only, as the paper's SFT */
  sftTexts: string[];
  rewardTrain: LabelledText[];
  rewardTest: LabelledText[];
  /** held-out texts per class for perplexity */
  heldOut: { positive: string[]; negative: string[] };
  /** teach scale: the demo corpus split (prompts come from it); real/full read prompts from imdb-mini */
  reviews: { train: DemoReview[]; test: DemoReview[] } | null;
}

const TEACH = demoConfig(false);

function hyperOf(scale: CourseScale): CourseHyper {
  if (scale === 'teach') {
    const c = TEACH;
    return {
      vocabSize: c.tokenizer.vocabSize,
      model: { n_layer: c.model.n_layer, n_embd: c.model.n_embd, n_head: c.model.n_head, n_positions: c.model.n_positions },
      pretrain: { lr: c.pretrain.lr, batchSize: c.pretrain.batchSize, epochs: c.pretrain.epochs, maxLength: c.pretrain.maxLength },
      sft: { lr: c.sft.lr, batchSize: c.sft.batchSize, epochs: c.sft.epochs, maxLength: c.sft.maxLength },
      ppo: { ...c.ppo },
      risk: { ...c.risk },
      smoothing: 0.6,
      eval: { prompts: c.eval.nPrompts, maxNewTokens: c.eval.maxNewTokens, pplTexts: 200 },
    };
  }
  const full = scale === 'full';
  // imdb-mini's PPO settings (B 32, 16-token prompts, 24 new tokens, lr 1.41e-4); 30 steps so the schedule reaches ceil(alpha*B)
  const mini = TASKS['imdb-mini'];
  const steps = full ? 60 : 30;
  return {
    vocabSize: full ? 8192 : 2048,
    model: full ? { n_layer: 4, n_embd: 256, n_head: 8, n_positions: 128 } : { n_layer: 2, n_embd: 128, n_head: 4, n_positions: 128 },
    pretrain: { lr: 2e-3, batchSize: 32, epochs: full ? 2 : 1, maxLength: full ? 64 : 48 },
    // 10x imdb-mini's SFT rate: the miniature runs a few dozen SFT steps
    sft: { lr: mini.sft.learningRate * 10, batchSize: mini.sft.batchSize, epochs: mini.sft.epochs, maxLength: mini.sft.maxSeqLength },
    ppo: {
      steps, batchSize: mini.batchSize, miniBatchSize: mini.miniBatchSize, ppoEpochs: 4, lr: mini.learningRate, initKlCoef: 0.2,
      maxNewTokens: mini.maxNewTokens, minNewTokens: minNewTokens(mini.minLength, mini.promptTokens),
    },
    // warm start scaled with M as imdb-mini does (paper: n = 30 of M = 194)
    risk: { alpha: mini.risk.alpha, warmStart: Math.max(1, Math.round((mini.risk.n * steps) / mini.M)), rho: mini.risk.rho },
    smoothing: 0.6,
    eval: { prompts: 256, maxNewTokens: mini.maxNewTokens, pplTexts: full ? 256 : 64 },
  };
}

/** Load the course data for a scale. Deterministic; real/full read IMDB from dataDir. */
export async function loadCourse(scale: CourseScale, o: { dataDir?: string; runDir?: string } = {}): Promise<Course> {
  const dataDir = resolveDataDir(o.dataDir ?? process.env.RARLHF_DATA_DIR);
  const runDir = o.runDir ?? path.join(projectRoot(), 'runs', 'notebooks', scale);
  fs.mkdirSync(runDir, { recursive: true });
  const hyper = hyperOf(scale);
  if (scale === 'teach') {
    const all = generateCorpus({ seed: TEACH.seed, ...TEACH.corpus });
    const { train, test } = splitCorpus(all, TEACH.corpus.testFraction, TEACH.seed);
    const texts = train.map((r) => r.text);
    return {
      scale, dataDir, runDir, hyper,
      dataName: `generated reviews (${TEACH.corpus.nReviews}, ${Math.round(TEACH.corpus.tailFraction * 100)}% with a hostile opening)`,
      classNames: ['negative', 'positive'],
      bpeTexts: texts, pretrainTexts: texts, sftTexts: train.filter((r) => r.label === 1).map((r) => r.text),
      rewardTrain: train.map((r) => ({ text: r.text, label: r.label })), rewardTest: test.map((r) => ({ text: r.text, label: r.label })),
      heldOut: { positive: test.filter((r) => r.label === 1).map((r) => r.text), negative: test.filter((r) => r.label === 0).map((r) => r.text) },
      reviews: { train, test },
    };
  }
  const imdbTrain = new Rng(0).shuffle((await loadImdb('train', { dataDir })).rows);
  const imdbTest = (await loadImdb('test', { dataDir })).rows;
  const n = scale === 'full' ? { bpe: imdbTrain.length, pretrain: imdbTrain.length, sft: 2000 } : { bpe: 3000, pretrain: 1600, sft: 640 };
  return {
    scale, dataDir, runDir, hyper,
    dataName: 'IMDB (imdb-mini task)',
    classNames: ['negative', 'positive'],
    bpeTexts: imdbTrain.slice(0, n.bpe).map((r) => r.text),
    pretrainTexts: imdbTrain.slice(0, n.pretrain).map((r) => r.text),
    sftTexts: imdbTrain.filter((r) => r.label === 1).slice(0, n.sft).map((r) => r.text),
    rewardTrain: [], rewardTest: [], // the IMDB reward trainer reads its own split (trainCourseReward)
    reviews: null,
    heldOut: { positive: imdbTest.filter((r) => r.label === 1).map((r) => r.text), negative: imdbTest.filter((r) => r.label === 0).map((r) => r.text) },
  };
}

/** Train and test prompts as token ids under the course's tokenizer. */
export async function coursePrompts(c: Course, tokenizer: GPT2Tokenizer): Promise<{ train: number[][]; test: CoursePrompt[] }> {
  if (c.reviews) {
    const { train, test } = c.reviews;
    return {
      train: train.map((r) => tokenizer.encode(r.prompt)),
      test: test.slice(0, c.hyper.eval.prompts).map((r) => ({ prompt: r.prompt, ids: tokenizer.encode(r.prompt), label: r.label, hostile: r.hostile })),
    };
  }
  const task = await loadTask('imdb-mini', { dataDir: c.dataDir, tokenizer });
  return {
    train: task.train.map((p) => p.queryIds),
    test: task.test.slice(0, c.hyper.eval.prompts).map((p) => ({ prompt: p.query, ids: p.queryIds, label: p.label, hostile: false })),
  };
}

/** The paper's four models, in its tables' order. */
export type CourseModel = 'gpt2' | 'sft' | 'rlhf' | 'ra_rlhf';

/** Checkpoint folders the notebooks write (02: pretrain, sft; 03: reward, rlhf, ra_rlhf), in the paper's model order. */
export function courseCheckpoints(c: Course): { gpt2: string; sft: string; rlhf: string; ra_rlhf: string; reward: string } {
  const d = (...p: string[]) => path.join(c.runDir, ...p);
  return { gpt2: d('pretrain', 'checkpoints', 'final'), sft: d('sft', 'checkpoints', 'final'), rlhf: d('rlhf', 'checkpoints', 'final'), ra_rlhf: d('ra_rlhf', 'checkpoints', 'final'), reward: d('reward') };
}

/** A folder an earlier notebook writes; a missing one names the notebook to run first. */
export function requireCourseDir(c: Course, dir: string, notebook: string): string {
  if (!fs.existsSync(path.join(dir, 'config.json'))) {
    throw new Error(`${dir} not found: run notebooks/${notebook} first with the same RARLHF_NB_SCALE (${c.scale})`);
  }
  return dir;
}

/** The tokenizer notebook 02 trained, saved with its SFT checkpoint. */
export function loadCourseTokenizer(c: Course): GPT2Tokenizer {
  return GPT2Tokenizer.fromDir(requireCourseDir(c, courseCheckpoints(c).sft, '02-policy-and-sft.ipynb'));
}

/** Train the course's reward model: the kit's linear sentiment reward (corpus labels, or IMDB calibrated to distilbert's logits). */
export async function trainCourseReward(c: Course): Promise<{ model: KitRewardModel; report: Record<string, number | string> }> {
  const t0 = performance.now();
  if (c.scale === 'teach') {
    const r = await trainSentimentReward(c.rewardTrain, c.rewardTest, { epochs: TEACH.reward.epochs, seed: TEACH.seed });
    return { model: r.model, report: { 'train texts': c.rewardTrain.length, 'test texts': c.rewardTest.length, 'test accuracy': r.testAccuracy, scale: 'log-odds of positive', seconds: (performance.now() - t0) / 1000 } };
  }
  const full = c.scale === 'full';
  const rm = await trainImdbReward({ dataDir: c.dataDir, limit: full ? undefined : 5000, hyper: { hashBits: full ? 20 : 18 } });
  const ev = await evaluateImdb(rm.model, { dataDir: c.dataDir, limit: full ? undefined : 2000 });
  return {
    model: rm.model,
    report: {
      'train reviews': full ? 'all' : 5000, 'test reviews': ev.test.n, 'test accuracy': ev.test.accuracy, 'test AUC': ev.test.auc,
      'Spearman vs distilbert (reference rows)': ev.reference.spearman, scale: 'distilbert-imdb positive logit', seconds: (performance.now() - t0) / 1000,
    },
  };
}

/** Tail threshold on prompt scores: IMDB the paper's -2.5; generated reviews the demo's rule (hostileTailThreshold). */
export function courseTail(c: Course, rows: readonly { promptScore: number; hostile: boolean }[]): number {
  if (c.scale !== 'teach') return -2.5;
  const t = hostileTailThreshold(rows.filter((r) => r.hostile).map((r) => r.promptScore));
  if (t === null) throw new Error('courseTail: no hostile prompts among the rows');
  return t;
}

/**
 * One RLHF or RA-RLHF run from the SFT checkpoint into `<runDir>/<algo>`: the offline demo's PPO
 * stage (lib/pipeline/ppo-adapter.ts) with the course's settings, or an ablation's `o.risk` and
 * `o.outDir`. Positional arguments on purpose: tslab cannot pass a variable from another cell in
 * `{ name }` shorthand (see notebooks/README.md).
 */
export async function trainCoursePPO(
  c: Course, algo: 'rlhf' | 'ra_rlhf', reward: RewardModel, tokenizer: GPT2Tokenizer, prompts: number[][],
  o: { risk?: CourseHyper['risk']; outDir?: string } = {},
): Promise<Record<string, unknown>> {
  return runPPOStage({
    algo, task: courseTask(c), initDir: courseCheckpoints(c).sft, outDir: o.outDir ?? path.join(c.runDir, algo), prompts, reward, tokenizer,
    ppo: c.hyper.ppo, risk: o.risk ?? c.hyper.risk, seed: 0, progress: new Progress(true),
  });
}

/** The task name PPO configs record: the demo's generated reviews, or imdb-mini. */
export function courseTask(c: Course): string {
  return c.scale === 'teach' ? 'demo' : 'imdb-mini';
}

/** The named checkpoints (gpt2, sft, rlhf, ra_rlhf) as generation models; dispose them after use. */
export async function loadCourseModels(c: Course, tokenizer: GPT2Tokenizer, names: readonly CourseModel[]): Promise<{ name: string; model: GPT2LMHeadModel; tokenizer: GPT2Tokenizer }[]> {
  const dirs = courseCheckpoints(c);
  return Promise.all(names.map((name) => loadGenerationModel(name, requireCourseDir(c, dirs[name], name === 'gpt2' || name === 'sft' ? '02-policy-and-sft.ipynb' : '03-rlhf-vs-ra-rlhf.ipynb'), tokenizer)));
}

/** One checkpoint folder as a generation model named `name` (positional: see trainCoursePPO). */
export async function loadGenerationModel(name: string, dir: string, tokenizer: GPT2Tokenizer): Promise<{ name: string; model: GPT2LMHeadModel; tokenizer: GPT2Tokenizer }> {
  return { name, model: (await AutoModelForCausalLM.fromPretrained(dir)).model, tokenizer };
}
