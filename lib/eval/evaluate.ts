/**
 * Thin orchestration: a generations table + column spec -> every metric of spec section 6 for
 * every model. The math lives in metrics.ts; this file only picks columns and groups samples.
 */
import {
  cvar, distinctN, groupMeans, histogram, histogramEdges, mean, meanResponseLength, quantileCurve,
  seedStats, tailReward, type DistinctDenominator, type DistinctResult, type SeedStats,
} from './metrics';
import { numberColumn, promptGroups, stringColumn, type GenerationsTable } from './generations';

export interface ModelSpec { name: string; responseCol: string; rewardCol: string }

export interface EvalSpec {
  promptCol: string;
  promptScoreCol: string;
  classCol?: string;
  /** sample index column: present when k > 1 samples per prompt */
  sampleCol?: string;
  /** groups samples by this column instead of the prompt text */
  promptIdCol?: string;
  models: ModelSpec[];
  /** tail threshold on the prompt score (-2.5 IMDB, +5 Jigsaw/RTP) */
  tail: number;
  /** CVaR level (default 0.2) */
  cvarAlpha?: number;
  /** histogram bins (default 30, as the paper) */
  bins?: number;
  distinctDenominator?: DistinctDenominator;
}

export interface ModelResult {
  name: string;
  meanReward: number;
  tailReward: number;
  tailN: number;
  tailEmpty: boolean;
  cvar: number;
  cvarN: number;
  lengthWords: number;
  lengthChars: number;
  distinct: DistinctResult;
  /** mean reward of the first floor(q% N) prompts by prompt score, q = 1..100 */
  quantileReward: number[];
  /** reward histogram counts per class (all samples), on the shared edges */
  histograms: Record<string, number[]>;
}

export interface EvalResult {
  file: string;
  rows: number;
  prompts: number;
  samplesPerPrompt: { min: number; max: number };
  tail: number;
  cvarAlpha: number;
  classes: string[];
  promptsPerClass: Record<string, number>;
  meanPromptScore: number;
  /** shared 30-bin edges over prompt scores and every model's rewards */
  edges: number[];
  promptScoreHistograms: Record<string, number[]>;
  quantiles: { q: number[]; n: number[] };
  models: ModelResult[];
}

const ALL = 'all';

export function evaluateTable(t: GenerationsTable, spec: EvalSpec): EvalResult {
  if (spec.models.length === 0) throw new Error('eval: no models given (use --model NAME=<response col>:<reward col>)');
  const names = spec.models.map((m) => m.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new Error(`eval: model name '${dup}' given twice`);
  if (t.rows.length === 0) throw new Error(`${t.file}: no rows`);

  const alpha = spec.cvarAlpha ?? 0.2;
  const groups = promptGroups(t, spec);
  const P = Math.max(...groups) + 1;
  const scoresRow = numberColumn(t, spec.promptScoreCol);
  const classRow = spec.classCol ? stringColumn(t, spec.classCol) : t.rows.map(() => ALL);

  // Per-prompt prompt score and class come from the prompt's first row; samples must agree.
  const promptScore = new Array<number>(P);
  const promptClass = new Array<string>(P);
  const k = new Array<number>(P).fill(0);
  groups.forEach((g, i) => {
    if (k[g] === 0) { promptScore[g] = scoresRow[i]; promptClass[g] = classRow[i]; }
    else if (promptScore[g] !== scoresRow[i] || promptClass[g] !== classRow[i]) {
      throw new Error(`${t.file}:${t.lines[i]}: sample of an earlier prompt has a different '${spec.promptScoreCol}'/class than its first row`);
    }
    k[g]++;
  });
  const classes = [...new Set(promptClass)].sort();
  const promptsPerClass = Object.fromEntries(classes.map((c) => [c, promptClass.filter((x) => x === c).length]));

  const rewardsByModel = spec.models.map((m) => numberColumn(t, m.rewardCol));
  const responsesByModel = spec.models.map((m) => stringColumn(t, m.responseCol));
  const edges = histogramEdges([promptScore, ...rewardsByModel], spec.bins ?? 30);
  const byClass = (xs: number[], cls: string[]) =>
    Object.fromEntries(classes.map((c) => [c, histogram(xs.filter((_, i) => cls[i] === c), edges).counts]));

  const qc0 = quantileCurve(promptScore, promptScore);
  const models: ModelResult[] = spec.models.map((m, j) => {
    const rewards = rewardsByModel[j];
    const perPrompt = groupMeans(rewards, groups);
    const tail = tailReward(perPrompt, promptScore, spec.tail);
    const cv = cvar(rewards, alpha);
    const len = meanResponseLength(responsesByModel[j]);
    return {
      name: m.name,
      meanReward: mean(perPrompt),
      tailReward: tail.value,
      tailN: tail.n,
      tailEmpty: tail.empty,
      cvar: cv.value,
      cvarN: cv.n,
      lengthWords: len.words,
      lengthChars: len.chars,
      distinct: distinctN(responsesByModel[j], groups, { denominator: spec.distinctDenominator }),
      quantileReward: quantileCurve(promptScore, perPrompt).reward,
      histograms: byClass(rewards, classRow),
    };
  });

  return {
    file: t.file,
    rows: t.rows.length,
    prompts: P,
    samplesPerPrompt: { min: Math.min(...k), max: Math.max(...k) },
    tail: spec.tail,
    cvarAlpha: alpha,
    classes,
    promptsPerClass,
    meanPromptScore: mean(promptScore),
    edges,
    promptScoreHistograms: byClass(promptScore, promptClass),
    quantiles: { q: qc0.q, n: qc0.n },
    models,
  };
}

/** Scalar metrics of one model, the columns of the results table. */
export const METRICS = ['meanReward', 'tailReward', 'cvar', 'lengthWords', 'distinct1', 'distinct2', 'distinct3', 'perplexity'] as const;
export type MetricName = (typeof METRICS)[number];

export function scalarMetrics(m: ModelResult): Record<Exclude<MetricName, 'perplexity'>, number> {
  return {
    meanReward: m.meanReward,
    tailReward: m.tailReward,
    cvar: m.cvar,
    lengthWords: m.lengthWords,
    distinct1: m.distinct.corpus[1],
    distinct2: m.distinct.corpus[2],
    distinct3: m.distinct.corpus[3],
  };
}

export interface AggregateRow { name: string; seeds: number; metrics: Partial<Record<MetricName, SeedStats>> }

/**
 * Mean and sample std over seeds (one EvalResult per seed file). `perplexity` maps a model name to
 * one value per seed (computed elsewhere, e.g. with perplexity.ts). Models are matched by name.
 */
export function aggregateSeeds(results: readonly EvalResult[], perplexity: Record<string, number[]> = {}): AggregateRow[] {
  const names = results[0].models.map((m) => m.name);
  for (const r of results) {
    const rn = r.models.map((m) => m.name);
    if (rn.join('\u0000') !== names.join('\u0000')) throw new Error(`${r.file}: models ${rn.join(',')} differ from ${results[0].file}: ${names.join(',')}`);
  }
  return names.map((name, j) => {
    const perSeed = results.map((r) => scalarMetrics(r.models[j]));
    const metrics: AggregateRow['metrics'] = {};
    for (const key of Object.keys(perSeed[0]) as (keyof (typeof perSeed)[0])[]) {
      metrics[key] = seedStats(perSeed.map((s) => s[key]));
    }
    if (perplexity[name]) metrics.perplexity = seedStats(perplexity[name]);
    return { name, seeds: results.length, metrics };
  });
}

/** Pointwise mean (over seeds) of each model's quantile curve, for the figure. */
export function meanQuantileCurves(results: readonly EvalResult[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  results[0].models.forEach((m, j) => {
    out[m.name] = m.quantileReward.map((_, qi) => mean(results.map((r) => r.models[j].quantileReward[qi])));
  });
  return out;
}
