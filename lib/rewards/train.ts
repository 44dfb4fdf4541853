/**
 * Training recipes for the two kit reward models (sentiment and toxicity). Data selection,
 * held-out rules and calibration live here; the optimisation loop is fit.ts, metrics evaluate.ts.
 */
import { createHash } from 'node:crypto';
import { Rng } from '../engine/rng';
import { featurize, type FeatureConfig } from './features';
import { fitKitModel, type Example, type FitOptions, type FitReport } from './fit';
import {
  loadImdbLabelled, loadImdbReference, loadToxicityLabelled, rowIsRewardEval, rowIsRewardTrain,
  type ReferenceRow, type SentimentRow, type ToxicityRow,
} from './data';
import { accuracy, linearFit, mean, spearman, std } from './stats';
import { KIT_FORMAT, KitRewardModel, type KitRewardConfig } from './trained';

/** Feature settings of the kit model plus the fitting loop's hyperparameters. */
export type TrainHyper = { hashBits: number; ngrams: 1 | 2 | 3 } & Pick<FitOptions, 'epochs' | 'batchSize' | 'lr' | 'l2' | 'regWeight' | 'seed'>;

export const DEFAULT_HYPER: Record<'imdb' | 'toxicity', TrainHyper> = {
  imdb: { hashBits: 20, ngrams: 2, epochs: 2, batchSize: 64, lr: 0.02, l2: 1e-6, regWeight: 0, seed: 0 },
  toxicity: { hashBits: 20, ngrams: 2, epochs: 6, batchSize: 64, lr: 0.05, l2: 1e-6, regWeight: 0.1, seed: 0 },
};

export interface TrainOptions {
  dataDir?: string;
  hyper?: Partial<TrainHyper>;
  /** Use only the first n training rows after shuffling (tests, quick runs). */
  limit?: number;
  log?: (msg: string) => void;
  /** How z is mapped onto the reference model's scale (see fitCalibration). */
  calibration?: 'moments' | 'lsq';
}

/** Python-style prefix of n code points (the authors stored `text[:1000]`). */
function prefixCodePoints(s: string, n: number): string {
  return s.length <= n ? s : Array.from(s).slice(0, n).join('');
}

/** Deterministic 10% validation slice of a training set (independent of the held-out rule's bit). */
export function isValidationRow(text: string): boolean {
  return splitBucket('val', text) % 10 === 0;
}

/** A well-mixed deterministic bucket in [0, 2^32) for internal splits (MD5 of tag + text). */
function splitBucket(tag: string, text: string): number {
  return createHash('md5').update(`${tag}:${text}`, 'utf8').digest().readUInt32LE(0);
}

function newConfig(task: 'imdb' | 'toxicity', h: TrainHyper, rewardScale: string): KitRewardConfig {
  const features: FeatureConfig = { hashBits: h.hashBits, ngrams: h.ngrams };
  return { format: KIT_FORMAT, version: 1, name: `kit-${task}`, task, features, calibration: { scale: 1, shift: 0, method: 'identity' }, rewardScale };
}

export interface ImdbData {
  train: SentimentRow[];
  val: SentimentRow[];
  reference: ReferenceRow[];
  excluded: { reference: number; testDuplicates: number };
}

/**
 * IMDB train reviews for the sentiment model. Removed before training: reviews whose text (or
 * 1,000-code-point prefix) is one of the 1,550 distilbert-imdb reference texts, so calibration
 * and the reference correlation are measured on unseen text; and exact duplicates of IMDB test
 * reviews, so the test accuracy is clean.
 */
export async function prepareImdb(dataDir?: string): Promise<ImdbData> {
  const reference = loadImdbReference(dataDir);
  const refTexts = new Set(reference.map((r) => r.text));
  const testTexts = new Set((await loadImdbLabelled('test', dataDir)).map((r) => r.text));
  const train: SentimentRow[] = [];
  const val: SentimentRow[] = [];
  const excluded = { reference: 0, testDuplicates: 0 };
  for (const r of await loadImdbLabelled('train', dataDir)) {
    if (refTexts.has(r.text) || refTexts.has(prefixCodePoints(r.text, 1000))) excluded.reference++;
    else if (testTexts.has(r.text)) excluded.testDuplicates++;
    else (isValidationRow(r.text) ? val : train).push(r);
  }
  return { train, val, reference, excluded };
}

/**
 * Split of the reference rows for the affine calibration z -> distilbert-imdb POSITIVE logit:
 * `fit` (even MD5 bucket) sets it; the odd rows stay out of the fit to measure it (see evaluate.ts).
 */
export function calibrationRows(reference: readonly ReferenceRow[]): { fit: ReferenceRow[]; check: ReferenceRow[] } {
  const fit: ReferenceRow[] = [];
  const check: ReferenceRow[] = [];
  for (const r of reference) (splitBucket('cal', r.text) % 2 === 0 ? fit : check).push(r);
  return { fit, check };
}

/**
 * reward = scale * z + shift fitted on rows the model was not trained on. 'moments' (default)
 * matches mean and std, so the reward has the reference model's spread; 'lsq' minimises squared error but
 * shrinks the spread by the correlation (regression dilution), which would weaken the PPO reward.
 */
export function fitCalibration(z: number[], ref: number[], method: 'moments' | 'lsq', where = `${z.length} rows`): KitRewardConfig['calibration'] {
  if (method === 'lsq') {
    const { slope, intercept } = linearFit(z, ref);
    return { scale: slope, shift: intercept, method: `least squares of the reference logit on z over ${where}` };
  }
  const scale = std(ref) / std(z);
  return { scale, shift: mean(ref) - scale * mean(z), method: `mean/std matching of z to the reference logits over ${where}` };
}

/** Raw model output z for texts (any kit architecture). */
export type RawScorer = (texts: string[]) => Promise<number[]>;

/** The IMDB calibration z -> distilbert-imdb POSITIVE logit, fitted on calibrationRows(reference).fit. */
export async function calibrateImdb(raw: RawScorer, reference: readonly ReferenceRow[], method: 'moments' | 'lsq' = 'moments'): Promise<{ calibration: KitRewardConfig['calibration']; z: number[] }> {
  const { fit: calRows } = calibrationRows(reference);
  const z = await raw(calRows.map((r) => r.text));
  return { calibration: fitCalibration(z, calRows.map((r) => r.logit), method, `${z.length} distilbert-imdb reference rows (MD5-even half; all excluded from training)`), z };
}

/**
 * The toxicity calibration: z is on the toxic-bert scale already, but the BCE rows compress its
 * spread; match mean/std on the validation Jigsaw rows (reward-train side of the held-out rule,
 * not used by the fit). toxic-bert's logit saturates, a linear model does not (short texts with
 * strong n-grams go far past it), so the reward is clipped to the range of the toxic-bert rewards seen in training.
 */
export async function calibrateToxicity(raw: RawScorer, val: readonly ToxicityRow[], train: readonly ToxicityRow[], method: 'moments' | 'lsq' = 'moments'): Promise<KitRewardConfig['calibration']> {
  const valRef = val.filter((r) => r.reward !== undefined);
  const zVal = await raw(valRef.map((r) => r.text));
  const cal = fitCalibration(zVal, valRef.map((r) => r.reward!), method, `${valRef.length} validation Jigsaw rows with toxic-bert rewards (reward-train side, not used by the fit)`);
  const seen = train.filter((r) => r.reward !== undefined).map((r) => r.reward!);
  return { ...cal, clip: [Math.min(...seen), Math.max(...seen)] };
}

export async function trainImdbReward(opts: TrainOptions = {}): Promise<{ model: KitRewardModel; fit: FitReport }> {
  const h = { ...DEFAULT_HYPER.imdb, ...opts.hyper };
  const log = opts.log ?? (() => {});
  const data = await prepareImdb(opts.dataDir);
  const train = opts.limit ? new Rng(h.seed).shuffle(data.train).slice(0, opts.limit) : data.train;
  log(`imdb: ${train.length} train / ${data.val.length} validation reviews (excluded: ${data.excluded.reference} reference texts, ${data.excluded.testDuplicates} test duplicates)`);
  const model = await KitRewardModel.create(newConfig('imdb', h, 'lvwerra/distilbert-imdb raw POSITIVE logit (affine-calibrated log-odds)'));
  const feats = { hashBits: h.hashBits, ngrams: h.ngrams };
  const examples: Example[] = train.map((r) => ({ row: featurize(r.text, feats), y: r.label }));
  const valTexts = data.val.map((r) => r.text);
  const valLabels = data.val.map((r) => r.label);
  const fit = await fitKitModel(model, examples, {
    ...h,
    log,
    afterEpoch: async () => `val acc ${accuracy(await model.rawScores(valTexts), valLabels).toFixed(4)}`,
  });
  const { calibration, z } = await calibrateImdb((t) => model.rawScores(t), data.reference, opts.calibration);
  model.config.calibration = calibration;
  model.config.training = { ...h, trainRows: train.length, valRows: data.val.length, excluded: data.excluded, seconds: fit.seconds, steps: fit.steps, epochLoss: fit.epochLoss, zOnCalibrationRows: { mean: mean(z), std: std(z) } };
  return { model, fit };
}

export interface ToxicityData {
  train: ToxicityRow[];
  val: ToxicityRow[];
  /** Rows on neither side of the held-out rule (merged variants that disagree). */
  ambiguous: number;
  heldOut: number;
}

/**
 * Toxicity training rows: every labelled source (data.ts) restricted to the reward-train side of
 * the held-out rule (heldout.ts). 10% of those (hash) are kept for validation.
 */
export async function prepareToxicity(dataDir?: string): Promise<ToxicityData> {
  const train: ToxicityRow[] = [];
  const val: ToxicityRow[] = [];
  let heldOut = 0;
  let ambiguous = 0;
  for (const r of await loadToxicityLabelled(dataDir)) {
    if (rowIsRewardTrain(r)) (isValidationRow(r.text) ? val : train).push(r);
    else if (rowIsRewardEval(r)) heldOut++;
    else ambiguous++;
  }
  return { train, val, heldOut, ambiguous };
}

function toxicityExample(r: ToxicityRow, feats: FeatureConfig): Example {
  const row = featurize(r.text, feats);
  // toxic-bert reward where the authors computed it; else P(toxic) = sigmoid(-z), i.e. y = non-toxic
  return r.reward !== undefined ? { row, target: r.reward } : { row, y: r.toxic === 1 ? 0 : 1 };
}

export async function trainToxicityReward(opts: TrainOptions = {}): Promise<{ model: KitRewardModel; fit: FitReport }> {
  const h = { ...DEFAULT_HYPER.toxicity, ...opts.hyper };
  const log = opts.log ?? (() => {});
  const data = await prepareToxicity(opts.dataDir);
  const train = opts.limit ? new Rng(h.seed).shuffle(data.train).slice(0, opts.limit) : data.train;
  const bySource: Record<string, number> = {};
  for (const r of train) bySource[r.source] = (bySource[r.source] ?? 0) + 1;
  log(`toxicity: ${train.length} train / ${data.val.length} validation rows; ${data.heldOut} held out for evaluation, ${data.ambiguous} ambiguous dropped; by source ${JSON.stringify(bySource)}`);
  const model = await KitRewardModel.create(newConfig('toxicity', h, 'unitary/toxic-bert reward = -logit(toxic)'));
  const feats = { hashBits: h.hashBits, ngrams: h.ngrams };
  const examples = train.map((r) => toxicityExample(r, feats));
  const valTexts = data.val.map((r) => r.text);
  const valNonToxic = data.val.map((r) => 1 - r.toxic);
  const fit = await fitKitModel(model, examples, {
    ...h,
    log,
    afterEpoch: async () => {
      const z = await model.rawScores(valTexts);
      const zr = z.filter((_, i) => data.val[i].reward !== undefined);
      const ref = data.val.filter((r) => r.reward !== undefined).map((r) => r.reward!);
      return `val acc ${accuracy(z, valNonToxic).toFixed(4)} val Spearman vs toxic-bert ${spearman(zr, ref).toFixed(4)} (n=${ref.length})`;
    },
  });
  model.config.calibration = await calibrateToxicity((t) => model.rawScores(t), data.val, train, opts.calibration);
  model.config.training = { ...h, trainRows: train.length, valRows: data.val.length, heldOutRows: data.heldOut, ambiguousRows: data.ambiguous, bySource, seconds: fit.seconds, steps: fit.steps, epochLoss: fit.epochLoss, heldOutRule: 'isRewardTrainRow(text): FNV-1a(text) even (lib/rewards/heldout.ts)' };
  return { model, fit };
}
