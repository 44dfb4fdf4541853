/**
 * Fidelity of a reward model against held-out labels and against the original reward models'
 * scores where the data has them. Works for any RewardModel (kit or ONNX) of the right task.
 */
import { loadImdbLabelled, loadToxicityLabelled, rowIsRewardEval } from './data';
import { accuracy, mean, pearson, rmse, rocAuc, spearman, std } from './stats';
import { calibrationRows, prepareImdb } from './train';
import type { RewardModel, ScoreOptions } from './types';
import { dataFile } from '../data/paths';
import { WordPieceTokenizer } from '../text/wordpiece';

const meanStd = (xs: number[]): [number, number] => [mean(xs), std(xs)];

export interface EvalOptions {
  dataDir?: string;
  /** Every k-th row only (quick runs); default all rows. */
  limit?: number;
  /**
   * Score each text cut to its first n bert-base-uncased WordPiece tokens (whitespace-bounded), so
   * models that read whole reviews and models that truncate are compared on the same text (the kit
   * transformer reads 126 tokens, about a PPO prompt + response).
   */
  prefixTokens?: number;
  score?: ScoreOptions;
}

/** `model` scoring prefixes of its inputs when opts.prefixTokens is set. */
function withPrefix(model: RewardModel, opts: EvalOptions): RewardModel {
  const n = opts.prefixTokens;
  if (!n) return model;
  const tok = WordPieceTokenizer.fromVocabFile(dataFile('tokenizers/bert-base-uncased/vocab.txt', opts.dataDir));
  return { name: model.name, score: (texts, o) => model.score(texts.map((t) => tok.prefix(t, n) || t), o) };
}

export interface ImdbEval {
  task: 'imdb';
  model: string;
  /** IMDB test split (25k, disjoint from training): positive iff reward > 0. */
  test: { n: number; accuracy: number; auc: number; meanStdPos: [number, number]; meanStdNeg: [number, number] };
  /** The authors' distilbert-imdb logits on 1,550 mis-scored train reviews (excluded from training). */
  reference: {
    n: number;
    spearman: number;
    pearson: number;
    /** RMSE on the half not used to fit the calibration. */
    rmseHeldOutHalf: number;
    nHeldOutHalf: number;
    meanStd: { model: [number, number]; reference: [number, number] };
    /** Fraction with the same sign as distilbert (all reference rows are distilbert errors vs gold). */
    signAgreement: number;
  };
  seconds: number;
}

export async function evaluateImdb(scored: RewardModel, opts: EvalOptions = {}): Promise<ImdbEval> {
  const t0 = Date.now();
  const model = withPrefix(scored, opts);
  let test = await loadImdbLabelled('test', opts.dataDir);
  if (opts.limit) test = test.filter((_, i) => i % Math.ceil(test.length / opts.limit!) === 0);
  const s = await model.score(test.map((r) => r.text), opts.score);
  const labels = test.map((r) => r.label);
  const { reference } = await prepareImdb(opts.dataDir);
  const r = await model.score(reference.map((x) => x.text), opts.score);
  const ref = reference.map((x) => x.logit);
  const checkSet = new Set(calibrationRows(reference).check.map((x) => x.text));
  const hold = reference.map((x, i) => [r[i], x.logit, checkSet.has(x.text)] as const).filter((t) => t[2]);
  let agree = 0;
  for (let i = 0; i < r.length; i++) if (Math.sign(r[i]) === Math.sign(ref[i])) agree++;
  return {
    task: 'imdb',
    model: model.name,
    test: {
      n: test.length,
      accuracy: accuracy(s, labels),
      auc: rocAuc(s, labels),
      meanStdPos: meanStd(s.filter((_, i) => labels[i] === 1)),
      meanStdNeg: meanStd(s.filter((_, i) => labels[i] === 0)),
    },
    reference: {
      n: reference.length,
      spearman: spearman(r, ref),
      pearson: pearson(r, ref),
      rmseHeldOutHalf: rmse(hold.map((t) => t[0]), hold.map((t) => t[1])),
      nHeldOutHalf: hold.length,
      meanStd: { model: [mean(r), std(r)], reference: [mean(ref), std(ref)] },
      signAgreement: agree / r.length,
    },
    seconds: (Date.now() - t0) / 1000,
  };
}

export interface ToxicityEval {
  task: 'toxicity';
  model: string;
  /** Paper's Jigsaw test rows on the evaluation side of the held-out rule; toxic iff reward < 0. */
  jigsawHeldOut: {
    n: number;
    accuracy: number;
    auc: number;
    spearmanToxicBert: number;
    pearsonToxicBert: number;
    rmseToxicBert: number;
    meanStd: { model: [number, number]; toxicBert: [number, number] };
  };
  /** Other held-out labelled sources: accuracy and AUC against their binary labels. */
  otherHeldOut: Record<string, { n: number; accuracy: number; auc: number }>;
  seconds: number;
}

export async function evaluateToxicity(scored: RewardModel, opts: EvalOptions = {}): Promise<ToxicityEval> {
  const t0 = Date.now();
  const model = withPrefix(scored, opts);
  let rows = (await loadToxicityLabelled(opts.dataDir)).filter(rowIsRewardEval);
  // limit: every k-th row (quick runs); the default is every held-out row
  if (opts.limit) rows = rows.filter((_, i) => i % Math.ceil(rows.length / opts.limit!) === 0);
  const scores = await model.score(rows.map((r) => r.text), opts.score);
  const bySource = new Map<string, { s: number[]; nonToxic: number[]; ref: number[] }>();
  rows.forEach((r, i) => {
    const b = bySource.get(r.source) ?? { s: [], nonToxic: [], ref: [] };
    b.s.push(scores[i]);
    b.nonToxic.push(1 - r.toxic);
    if (r.reward !== undefined) b.ref.push(r.reward);
    bySource.set(r.source, b);
  });
  const jig = bySource.get('jigsaw_test');
  if (!jig || jig.ref.length !== jig.s.length) throw new Error('evaluateToxicity: no held-out Jigsaw test rows with toxic-bert rewards');
  const otherHeldOut: ToxicityEval['otherHeldOut'] = {};
  for (const [src, b] of bySource) {
    if (src === 'jigsaw_test' || b.s.length < 2 || new Set(b.nonToxic).size < 2) continue;
    otherHeldOut[src] = { n: b.s.length, accuracy: accuracy(b.s, b.nonToxic), auc: rocAuc(b.s, b.nonToxic) };
  }
  return {
    task: 'toxicity',
    model: model.name,
    jigsawHeldOut: {
      n: jig.s.length,
      accuracy: accuracy(jig.s, jig.nonToxic),
      auc: rocAuc(jig.s, jig.nonToxic),
      spearmanToxicBert: spearman(jig.s, jig.ref),
      pearsonToxicBert: pearson(jig.s, jig.ref),
      rmseToxicBert: rmse(jig.s, jig.ref),
      meanStd: { model: [mean(jig.s), std(jig.s)], toxicBert: [mean(jig.ref), std(jig.ref)] },
    },
    otherHeldOut,
    seconds: (Date.now() - t0) / 1000,
  };
}
