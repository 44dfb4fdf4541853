/**
 * Evaluation metrics of the RA-RLHF paper (spec section 6), as pure functions on plain arrays.
 *
 * Conventions (chosen once, used everywhere):
 * - A "prompt" may have k >= 1 sampled responses. Reward metrics that are defined per prompt
 *   (mean, tail, quantile curve) first average the k rewards of a prompt (`groupMeans`), then
 *   apply the definition to the per-prompt means. With k = 1 this is the paper's definition; with
 *   equal k the mean reward is identical to the mean over all samples.
 * - CVaR and histograms describe the distribution of single generations, so they use every
 *   sample (see lib/eval/evaluate.ts).
 * - Empty selections give NaN plus a flag or a count, never an exception.
 */

/**
 * The CVaR level every evaluation uses unless told otherwise (`rarlhf eval --cvar-alpha`, EvalSpec).
 * Callers with a reason for another level pass their own: the repro pipeline reports CVaR at the
 * task's risk level alpha (the level RA-RLHF trains for), the demo at its configured level.
 */
export const DEFAULT_CVAR_ALPHA = 0.2;

export function mean(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Mean reward over all prompts (both classes), spec "Average reward". */
export function meanReward(rewards: readonly number[]): number {
  return mean(rewards);
}

/**
 * Collapse per-sample values to per-prompt means. `groups[i]` is the prompt index of sample i
 * (0..P-1). Returns one mean per prompt, in prompt-index order.
 */
export function groupMeans(values: readonly number[], groups: readonly number[]): number[] {
  if (values.length !== groups.length) throw new Error(`groupMeans: ${values.length} values but ${groups.length} group ids`);
  let P = 0;
  for (const g of groups) P = Math.max(P, g + 1);
  const sum = new Array<number>(P).fill(0);
  const cnt = new Array<number>(P).fill(0);
  for (let i = 0; i < values.length; i++) {
    sum[groups[i]] += values[i];
    cnt[groups[i]] += 1;
  }
  return sum.map((s, p) => (cnt[p] > 0 ? s / cnt[p] : NaN));
}

export interface TailResult {
  /** mean reward over prompts with prompt score <= threshold; NaN when none qualify */
  value: number;
  /** number of prompts in the tail */
  n: number;
  /** true when no prompt has prompt score <= threshold */
  empty: boolean;
}

/**
 * Tail reward: mean reward over prompts whose prompt score is <= threshold
 * (spec: -2.5 for IMDB, +5 for Jigsaw/RTP; the ICML tables use <=, one plotting script uses <).
 */
export function tailReward(rewards: readonly number[], promptScores: readonly number[], threshold: number): TailResult {
  checkSameLength('tailReward', rewards, promptScores);
  let s = 0;
  let n = 0;
  for (let i = 0; i < rewards.length; i++) {
    if (promptScores[i] <= threshold) {
      s += rewards[i];
      n++;
    }
  }
  return n === 0 ? { value: NaN, n: 0, empty: true } : { value: s / n, n, empty: false };
}

/** Indices that sort `xs` ascending; stable (ties keep input order), like pandas' mergesort. */
export function stableArgsort(xs: readonly number[]): number[] {
  const idx = xs.map((_, i) => i);
  // Array.prototype.sort is stable since ES2019; the index tiebreak makes that explicit.
  idx.sort((a, b) => xs[a] - xs[b] || a - b);
  return idx;
}

export interface QuantileCurve {
  /** quantiles in percent (default 1..100) */
  q: number[];
  /** number of prompts in the cumulative slice for each q: floor(q * N / 100) */
  n: number[];
  /** mean reward of the slice; NaN where the slice is empty */
  reward: number[];
}

/**
 * Reward-vs-quantile curve (spec section 6): sort prompts by prompt score ascending (stable), and
 * for each q take the FIRST floor(q% * N) rows (cumulative, not bins) and average their reward.
 * floor(q*N/100) is computed in exact integer arithmetic; Python's int(q/100*N) can be one lower
 * at a few q because q/100 is not exact in binary (e.g. 0.29*100 = 28.999...).
 */
export function quantileCurve(
  promptScores: readonly number[],
  rewards: readonly number[],
  qs: readonly number[] = Array.from({ length: 100 }, (_, i) => i + 1),
): QuantileCurve {
  checkSameLength('quantileCurve', rewards, promptScores);
  const N = rewards.length;
  const order = stableArgsort(promptScores);
  const prefix = new Float64Array(N + 1);
  for (let i = 0; i < N; i++) prefix[i + 1] = prefix[i] + rewards[order[i]];
  const n = qs.map((q) => Math.floor((q * N) / 100));
  return { q: [...qs], n, reward: n.map((k) => (k === 0 ? NaN : prefix[k] / k)) };
}

export interface CvarResult {
  value: number;
  /** number of worst rewards averaged: ceil(alpha * N) */
  n: number;
}

/**
 * CVaR_alpha of the reward (lower tail, i.e. the risk the paper cares about): the mean of the
 * worst ceil(alpha * N) rewards. This "discrete, no fractional atom" convention always averages at
 * least one value and equals the exact CVaR whenever alpha*N is an integer. alpha*N is rounded to
 * 1e-9 first so 0.2*5000 is 1000, not 1001. Empty input -> NaN.
 */
export function cvar(rewards: readonly number[], alpha: number): CvarResult {
  if (!(alpha > 0 && alpha <= 1)) throw new Error(`cvar: alpha must be in (0, 1], got ${alpha}`);
  const N = rewards.length;
  if (N === 0) return { value: NaN, n: 0 };
  const k = Math.min(N, Math.max(1, Math.ceil(Math.round(alpha * N * 1e9) / 1e9)));
  const sorted = Float64Array.from(rewards).sort();
  let s = 0;
  for (let i = 0; i < k; i++) s += sorted[i];
  return { value: s / k, n: k };
}

export interface Histogram {
  /** bins + 1 edges */
  edges: number[];
  counts: number[];
}

/**
 * Bin edges as numpy/matplotlib `bins=30`: `bins` equal-width bins over [min, max] of ALL the
 * given arrays (pass every model's values to share edges across panels). A constant range is
 * widened by +-0.5 as numpy does. Non-finite values are ignored.
 */
export function histogramEdges(arrays: readonly (readonly number[])[], bins = 30): number[] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const xs of arrays) for (const x of xs) if (Number.isFinite(x)) { if (x < lo) lo = x; if (x > hi) hi = x; }
  if (lo === Infinity) { lo = 0; hi = 1; }
  if (lo === hi) { lo -= 0.5; hi += 0.5; }
  return Array.from({ length: bins + 1 }, (_, i) => (i === bins ? hi : lo + ((hi - lo) * i) / bins));
}

/**
 * Counts per bin as np.histogram: bins are [e_i, e_{i+1}) except the last, which is closed.
 * Values outside [e_0, e_last] are not counted.
 */
export function histogram(xs: readonly number[], edges: readonly number[]): Histogram {
  const bins = edges.length - 1;
  const counts = new Array<number>(bins).fill(0);
  const lo = edges[0];
  const hi = edges[bins];
  for (const x of xs) {
    if (!(x >= lo && x <= hi)) continue;
    // Direct index for equal-width bins, then fix up against the actual edges (float rounding).
    let b = Math.min(bins - 1, Math.floor(((x - lo) / (hi - lo)) * bins));
    while (b > 0 && x < edges[b]) b--;
    while (b < bins - 1 && x >= edges[b + 1]) b++;
    counts[b]++;
  }
  return { edges: [...edges], counts };
}

/** Whitespace tokens: split on ' ' like DExperts' distinctness(), dropping empty strings. */
export function whitespaceTokens(text: string): string[] {
  return text.split(' ').filter((t) => t.length > 0);
}

export interface LengthResult { words: number; chars: number }

/** Mean response length in whitespace tokens and in characters. */
export function meanResponseLength(responses: readonly string[]): LengthResult {
  let w = 0;
  let c = 0;
  for (const r of responses) { w += whitespaceTokens(r).length; c += r.length; }
  return responses.length === 0 ? { words: NaN, chars: NaN } : { words: w / responses.length, chars: c / responses.length };
}

export interface SeedStats { mean: number; std: number; n: number; note?: string }

/**
 * Mean and SAMPLE standard deviation over seeds (Python statistics.stdev, divisor n-1), as the
 * paper's table helper. One seed: std = 0 with a note (statistics.stdev would raise).
 */
export function seedStats(values: readonly number[]): SeedStats {
  const n = values.length;
  if (n === 0) return { mean: NaN, std: NaN, n: 0, note: 'no seeds' };
  const m = mean(values);
  if (n === 1) return { mean: m, std: 0, n: 1, note: 'single seed: std reported as 0' };
  let ss = 0;
  for (const v of values) ss += (v - m) ** 2;
  return { mean: m, std: Math.sqrt(ss / (n - 1)), n };
}

export type DistinctDenominator = 'ngrams' | 'words';

export interface DistinctOptions {
  /** n-gram orders (default [1, 2, 3]) */
  ns?: readonly number[];
  /**
   * 'ngrams' (default): unique n-grams / all n-grams. 'words': unique n-grams / all words, the
   * DExperts/Quark `distinctness()` denominator (same for every n).
   */
  denominator?: DistinctDenominator;
}

export interface DistinctResult {
  /** corpus level: unique n-grams over all generations / all n-grams (or words) */
  corpus: Record<number, number>;
  /** mean over prompts of the same ratio within each prompt's k samples */
  perPrompt: Record<number, number>;
  /** prompts that had no n-gram of that order (excluded from perPrompt) */
  skippedPrompts: Record<number, number>;
}

/**
 * Calls `out` with a key per n-gram of `ids` (token ids < V). Keys are exact numbers
 * (base-V digits) while V^n < 2^53, strings beyond; numbers make the Sets several times faster.
 */
function ngramKeys(ids: Int32Array, n: number, V: number, out: (key: number | string) => void): number {
  let count = 0;
  const numeric = n * Math.log2(Math.max(V, 2)) < 53;
  for (let i = 0; i + n <= ids.length; i++) {
    if (numeric) {
      let k = 0;
      for (let j = 0; j < n; j++) k = k * V + ids[i + j];
      out(k);
    } else {
      out(Array.from(ids.subarray(i, i + n)).join(','));
    }
    count++;
  }
  return count;
}

/**
 * Distinct-n (Li et al. 2016) on whitespace tokens. n-grams never span two generations.
 * `groups[i]` is the prompt index of response i (omit for one response per prompt).
 */
export function distinctN(responses: readonly string[], groups?: readonly number[], opts: DistinctOptions = {}): DistinctResult {
  const ns = opts.ns ?? [1, 2, 3];
  const denom = opts.denominator ?? 'ngrams';
  const g = groups ?? responses.map((_, i) => i);
  if (g.length !== responses.length) throw new Error(`distinctN: ${responses.length} responses but ${g.length} group ids`);
  // Intern tokens once: n-grams become numbers instead of joined strings.
  const vocab = new Map<string, number>();
  const tokens = responses.map((r) => Int32Array.from(whitespaceTokens(r), (w) => {
    let id = vocab.get(w);
    if (id === undefined) { id = vocab.size; vocab.set(w, id); }
    return id;
  }));
  const V = vocab.size;
  const byPrompt = new Map<number, number[]>();
  g.forEach((p, i) => { const a = byPrompt.get(p); if (a) a.push(i); else byPrompt.set(p, [i]); });
  const result: DistinctResult = { corpus: {}, perPrompt: {}, skippedPrompts: {} };
  for (const n of ns) {
    const all = new Set<number | string>();
    let total = 0;
    let words = 0;
    let ratioSum = 0;
    let prompts = 0;
    let skipped = 0;
    for (const idx of byPrompt.values()) {
      const local = new Set<number | string>();
      let localTotal = 0;
      let localWords = 0;
      for (const i of idx) {
        localTotal += ngramKeys(tokens[i], n, V, (k) => { local.add(k); all.add(k); });
        localWords += tokens[i].length;
      }
      total += localTotal;
      words += localWords;
      const d = denom === 'ngrams' ? localTotal : localWords;
      if (localTotal === 0 || d === 0) { skipped++; continue; }
      ratioSum += local.size / d;
      prompts++;
    }
    const d = denom === 'ngrams' ? total : words;
    result.corpus[n] = total === 0 || d === 0 ? NaN : all.size / d;
    result.perPrompt[n] = prompts === 0 ? NaN : ratioSum / prompts;
    result.skippedPrompts[n] = skipped;
  }
  return result;
}

/**
 * Exponential moving average as the paper's plotting script (the common `smooth(scalars, weight)`
 * recipe: start at the first value, s_t = w*s_{t-1} + (1-w)*x_t; factor 0.97 in the paper).
 * Non-finite points pass through and do not update the average.
 */
export function emaSmooth(xs: readonly number[], weight = 0.97): number[] {
  const out: number[] = [];
  let last = NaN;
  for (const x of xs) {
    if (!Number.isFinite(x)) { out.push(x); continue; }
    last = Number.isNaN(last) ? x : last * weight + (1 - weight) * x;
    out.push(last);
  }
  return out;
}

function checkSameLength(fn: string, a: readonly unknown[], b: readonly unknown[]): void {
  if (a.length !== b.length) throw new Error(`${fn}: rewards has ${a.length} entries but prompt scores has ${b.length}`);
}
