/**
 * Thin orchestration: a generations table + column spec -> every metric of spec section 6 for
 * every model. The math lives in metrics.ts; this file only picks columns and groups samples.
 */
import {
  cvar, DEFAULT_CVAR_ALPHA, distinctN, groupMeans, histogram, histogramEdges, mean, meanResponseLength, quantileCurve,
  seedStats, tailReward, type DistinctDenominator, type DistinctResult, type SeedStats,
} from './metrics';
import { hasColumn, numberColumn, promptGroups, stringColumn, type GenerationsTable } from './generations';

export interface ModelSpec { name: string; responseCol: string; rewardCol: string }

export interface EvalSpec {
  promptCol: string;
  /** reward of the prompt alone; omit when the table has none (no tail metrics, no quantile curve) */
  promptScoreCol?: string;
  classCol?: string;
  /** sample index column: present when k > 1 samples per prompt */
  sampleCol?: string;
  /** groups samples by this column instead of the prompt text */
  promptIdCol?: string;
  models: ModelSpec[];
  /** tail threshold on the prompt score (-2.5 IMDB, +5 Jigsaw/RTP); omit (or NaN) for no tail metrics */
  tail?: number;
  /** CVaR level (default DEFAULT_CVAR_ALPHA) */
  cvarAlpha?: number;
  /** histogram bins (default 30, as the paper) */
  bins?: number;
  distinctDenominator?: DistinctDenominator;
}

export interface ModelResult {
  name: string;
  meanReward: number;
  /** NaN (null in JSON) when no tail was asked */
  tailReward: number;
  tailN: number;
  tailEmpty: boolean;
  cvar: number;
  cvarN: number;
  lengthWords: number;
  lengthChars: number;
  distinct: DistinctResult;
  /** mean reward of the first floor(q% N) prompts by prompt score, q = 1..100 (NaN without prompt scores) */
  quantileReward: number[];
  /** reward histogram counts per class (all samples), on the shared edges */
  histograms: Record<string, number[]>;
}

export interface EvalResult {
  file: string;
  rows: number;
  prompts: number;
  samplesPerPrompt: { min: number; max: number };
  /** tail threshold; NaN (null in JSON) when no tail was asked */
  tail: number;
  cvarAlpha: number;
  hasPromptScores: boolean;
  classes: string[];
  promptsPerClass: Record<string, number>;
  meanPromptScore: number;
  /** shared 30-bin edges over prompt scores and every model's rewards */
  edges: number[];
  promptScoreHistograms: Record<string, number[]>;
  quantiles: { q: number[]; n: number[] };
  models: ModelResult[];
}

/** Per-prompt view of a table: what every metric, --compare and --per-prompt are computed from. */
export interface PromptView {
  file: string;
  /** prompt index of every row */
  groups: number[];
  /** per prompt: text (null without a prompt column) and 1-based line of its first row */
  prompts: string[] | null;
  firstLine: number[];
  /** per prompt; null without a prompt-score column */
  promptScore: number[] | null;
  promptClass: string[];
  /** samples per prompt */
  k: number[];
  classRow: string[];
  /** [model][row] */
  rewardsByModel: number[][];
  responsesByModel: string[][];
  /** [model][prompt]: mean reward of the prompt's samples */
  perPrompt: number[][];
}

const ALL = 'all';

function checkModels(spec: EvalSpec): void {
  if (spec.models.length === 0) throw new Error('eval: no models given (use --model NAME=<response col>:<reward col>)');
  const names = spec.models.map((m) => m.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new Error(`eval: model name '${dup}' given twice`);
}

export const hasTail = (spec: { tail?: number }): boolean => spec.tail !== undefined && !Number.isNaN(spec.tail);

export function promptView(t: GenerationsTable, spec: EvalSpec): PromptView {
  checkModels(spec);
  if (t.rows.length === 0) throw new Error(`${t.file}: no rows`);
  if (hasTail(spec) && !spec.promptScoreCol) {
    throw new Error(`${t.file}: tail metrics (tail ${spec.tail}) need a prompt-score column (--prompt-score-col, or --score-prompts <reward model>)`);
  }
  const groups = promptGroups(t, spec);
  const P = Math.max(...groups) + 1;
  const scoresRow = spec.promptScoreCol ? numberColumn(t, spec.promptScoreCol) : null;
  const classRow = spec.classCol ? stringColumn(t, spec.classCol) : t.rows.map(() => ALL);
  // The prompt text is only needed for grouping samples (promptGroups) and for --per-prompt.
  const promptRow = hasColumn(t, spec.promptCol) ? stringColumn(t, spec.promptCol) : null;

  // Per-prompt prompt score and class come from the prompt's first row; samples must agree.
  const promptScore = scoresRow ? new Array<number>(P) : null;
  const promptClass = new Array<string>(P);
  const prompts = promptRow ? new Array<string>(P) : null;
  const firstLine = new Array<number>(P);
  const k = new Array<number>(P).fill(0);
  groups.forEach((g, i) => {
    if (k[g] === 0) {
      if (promptScore) promptScore[g] = scoresRow![i];
      promptClass[g] = classRow[i];
      if (prompts) prompts[g] = promptRow![i];
      firstLine[g] = t.lines[i];
    } else if ((promptScore && promptScore[g] !== scoresRow![i]) || promptClass[g] !== classRow[i]) {
      const what = promptScore && promptScore[g] !== scoresRow![i] ? `'${spec.promptScoreCol}'` : `'${spec.classCol}'`;
      throw new Error(`${t.file}:${t.lines[i]}: sample of an earlier prompt (line ${firstLine[g]}) has a different ${what} than its first row`);
    }
    k[g]++;
  });
  const rewardsByModel = spec.models.map((m) => numberColumn(t, m.rewardCol));
  const responsesByModel = spec.models.map((m) => stringColumn(t, m.responseCol));
  const perPrompt = rewardsByModel.map((r) => groupMeans(r, groups));
  return { file: t.file, groups, prompts, firstLine, promptScore, promptClass, k, classRow, rewardsByModel, responsesByModel, perPrompt };
}

export function evaluateTable(t: GenerationsTable, spec: EvalSpec): EvalResult {
  const v = promptView(t, spec);
  const alpha = spec.cvarAlpha ?? DEFAULT_CVAR_ALPHA;
  const tail = hasTail(spec) ? spec.tail! : NaN;
  const P = v.k.length;
  const classes = [...new Set(v.promptClass)].sort();
  const promptsPerClass = Object.fromEntries(classes.map((c) => [c, v.promptClass.filter((x) => x === c).length]));
  const edges = histogramEdges([v.promptScore ?? [], ...v.rewardsByModel], spec.bins ?? 30);
  const byClass = (xs: number[], cls: string[]) =>
    Object.fromEntries(classes.map((c) => [c, histogram(xs.filter((_, i) => cls[i] === c), edges).counts]));

  const qs = Array.from({ length: 100 }, (_, i) => i + 1);
  const qc0 = v.promptScore ? quantileCurve(v.promptScore, v.promptScore) : { q: qs, n: qs.map((q) => Math.floor((q * P) / 100)) };
  const models: ModelResult[] = spec.models.map((m, j) => {
    const rewards = v.rewardsByModel[j];
    const perPrompt = v.perPrompt[j];
    const tr = v.promptScore && !Number.isNaN(tail) ? tailReward(perPrompt, v.promptScore, tail) : { value: NaN, n: 0, empty: true };
    const cv = cvar(rewards, alpha);
    const len = meanResponseLength(v.responsesByModel[j]);
    return {
      name: m.name,
      meanReward: mean(perPrompt),
      tailReward: tr.value,
      tailN: tr.n,
      tailEmpty: tr.empty,
      cvar: cv.value,
      cvarN: cv.n,
      lengthWords: len.words,
      lengthChars: len.chars,
      distinct: distinctN(v.responsesByModel[j], v.groups, { denominator: spec.distinctDenominator }),
      quantileReward: v.promptScore ? quantileCurve(v.promptScore, perPrompt).reward : qs.map(() => NaN),
      histograms: byClass(rewards, v.classRow),
    };
  });

  return {
    file: t.file,
    rows: t.rows.length,
    prompts: P,
    samplesPerPrompt: { min: Math.min(...v.k), max: Math.max(...v.k) },
    tail,
    cvarAlpha: alpha,
    hasPromptScores: v.promptScore !== null,
    classes,
    promptsPerClass,
    meanPromptScore: v.promptScore ? mean(v.promptScore) : NaN,
    edges,
    promptScoreHistograms: v.promptScore ? byClass(v.promptScore, v.promptClass) : {},
    quantiles: { q: qc0.q, n: qc0.n },
    models,
  };
}

/** Scalar metrics of one model, the columns of the results table. */
export const METRICS = ['meanReward', 'tailReward', 'cvar', 'lengthWords', 'distinct1', 'distinct2', 'distinct3', 'perplexity'] as const;
export type MetricName = (typeof METRICS)[number];

/** Without a tail threshold (`withTail` false) the tail column is left out, not shown as n/a. */
export function scalarMetrics(m: ModelResult, withTail = true): Partial<Record<Exclude<MetricName, 'perplexity'>, number>> {
  return {
    meanReward: m.meanReward,
    ...(withTail ? { tailReward: m.tailReward } : {}),
    cvar: m.cvar,
    lengthWords: m.lengthWords,
    distinct1: m.distinct.corpus[1],
    distinct2: m.distinct.corpus[2],
    distinct3: m.distinct.corpus[3],
  };
}

export interface AggregateRow {
  name: string;
  seeds: number;
  metrics: Partial<Record<MetricName, SeedStats>>;
  /** prompts in the tail, smallest and largest over seeds (absent without a tail) */
  tailN?: { min: number; max: number };
}

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
    const withTail = results.every((r) => !Number.isNaN(r.tail));
    const perSeed = results.map((r) => scalarMetrics(r.models[j], withTail));
    const metrics: AggregateRow['metrics'] = {};
    for (const key of Object.keys(perSeed[0]) as (keyof (typeof perSeed)[0])[]) {
      metrics[key] = seedStats(perSeed.map((s) => s[key]!));
    }
    if (perplexity[name]) metrics.perplexity = seedStats(perplexity[name]);
    const ns = results.map((r) => r.models[j].tailN);
    return { name, seeds: results.length, metrics, ...(withTail ? { tailN: { min: Math.min(...ns), max: Math.max(...ns) } } : {}) };
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
