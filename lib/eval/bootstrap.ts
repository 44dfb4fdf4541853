/**
 * Paired two-level bootstrap for "arm A minus arm B" on the paper's reward metrics (fidelity
 * study, issue 13). Pure functions on plain arrays.
 *
 * Data: for each seed s, per-prompt rewards of both arms on the SAME test prompts (same order) and
 * the prompts' scores. One resample: draw S seeds with replacement, then for each drawn seed draw
 * P_s prompt indices with replacement; both arms use the same seeds and the same prompts (paired).
 * Statistic of a resample = mean over the drawn seeds of metric(A) - metric(B) on the drawn
 * prompts; the point estimate is the same on the original data (the mean over seeds of the per-seed
 * difference, matching the "mean over seeds" table). Interval: the 2.5% and 97.5% percentiles of
 * the resample statistics, linear interpolation between order statistics (numpy's default).
 * A drawn seed whose metric is undefined (no tail prompt among the drawn prompts) is left out of
 * that resample's mean; a resample with no defined seed is dropped and counted.
 */
import { Rng } from '../engine/rng';
import { cvar, mean } from './metrics';

export type BootstrapMetric =
  | { kind: 'meanReward' }
  | { kind: 'tailReward'; threshold: number }
  | { kind: 'cvar'; alpha: number };

export interface PairedSeeds {
  /** [seed][prompt] rewards of arm A and of arm B (one sample per prompt) */
  a: readonly (readonly number[])[];
  b: readonly (readonly number[])[];
  /** [seed][prompt] prompt scores (the tail variable) */
  promptScores: readonly (readonly number[])[];
}

/** One resample: drawn seed indices and, per drawn seed, its drawn prompt indices. */
export interface Draw {
  seeds: number[];
  prompts: number[][];
}

export interface BootstrapResult {
  metric: BootstrapMetric['kind'];
  diff: number;
  ci95: [number, number];
  resamples: number;
  /** resamples left out because no drawn seed had a defined metric */
  undefinedResamples: number;
}

/** The metric on the prompts `idx` of one seed's rewards; NaN when undefined (empty tail). */
export function metricOn(m: BootstrapMetric, rewards: readonly number[], promptScores: readonly number[], idx: readonly number[]): number {
  if (m.kind === 'meanReward') return mean(idx.map((i) => rewards[i]));
  if (m.kind === 'tailReward') {
    const tail = idx.filter((i) => promptScores[i] <= m.threshold).map((i) => rewards[i]);
    return tail.length ? mean(tail) : NaN;
  }
  if (m.kind === 'cvar') return cvar(idx.map((i) => rewards[i]), m.alpha).value;
  throw new Error(`bootstrap: unknown metric ${JSON.stringify(m)}`);
}

/** Statistic of one resample (see the file comment). */
export function drawStatistic(d: PairedSeeds, m: BootstrapMetric, draw: Draw): number {
  const diffs: number[] = [];
  draw.seeds.forEach((s, k) => {
    const x = metricOn(m, d.a[s], d.promptScores[s], draw.prompts[k]) - metricOn(m, d.b[s], d.promptScores[s], draw.prompts[k]);
    if (Number.isFinite(x)) diffs.push(x);
  });
  return diffs.length ? mean(diffs) : NaN;
}

/** The identity resample (every seed once, every prompt once): the point estimate. */
export function identityDraw(d: PairedSeeds): Draw {
  return { seeds: d.a.map((_, s) => s), prompts: d.a.map((r) => r.map((_, i) => i)) };
}

export function randomDraw(d: PairedSeeds, rng: Rng): Draw {
  const S = d.a.length;
  const seeds = Array.from({ length: S }, () => rng.int(S));
  return { seeds, prompts: seeds.map((s) => Array.from({ length: d.a[s].length }, () => rng.int(d.a[s].length))) };
}

/**
 * Every resample of a tiny case, each with its probability: S^S seed tuples, then for each drawn
 * seed P_s^P_s prompt tuples. For brute-force checks only (the count explodes fast).
 */
export function* enumerateDraws(d: PairedSeeds): Generator<{ draw: Draw; p: number }> {
  const S = d.a.length;
  for (const seeds of tuples(S, S)) {
    const perSlot = seeds.map((s) => [...tuples(d.a[s].length, d.a[s].length)]);
    const pSeeds = S ** -S;
    for (const combo of product(perSlot)) {
      const p = seeds.reduce((acc, s) => acc * d.a[s].length ** -d.a[s].length, pSeeds);
      yield { draw: { seeds, prompts: combo }, p };
    }
  }
}

/** Percentile with linear interpolation between order statistics (numpy 'linear'); q in [0, 1]. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/** Check shapes: same seeds, and per seed the same number of prompts for A, B and the scores. */
export function checkPaired(d: PairedSeeds): void {
  const S = d.a.length;
  if (S === 0) throw new Error('bootstrap: no seeds');
  if (d.b.length !== S || d.promptScores.length !== S) throw new Error(`bootstrap: ${S} seeds for arm A but ${d.b.length} for arm B and ${d.promptScores.length} of prompt scores`);
  for (let s = 0; s < S; s++) {
    const P = d.a[s].length;
    if (P === 0) throw new Error(`bootstrap: seed ${s} has no prompts`);
    if (d.b[s].length !== P || d.promptScores[s].length !== P) throw new Error(`bootstrap: seed ${s}: ${P} prompts for arm A, ${d.b[s].length} for arm B, ${d.promptScores[s].length} prompt scores (arms must share the prompts)`);
    for (const [what, xs] of [['A', d.a[s]], ['B', d.b[s]], ['prompt score', d.promptScores[s]]] as const) {
      const bad = xs.findIndex((x) => !Number.isFinite(x));
      if (bad >= 0) throw new Error(`bootstrap: seed ${s}, prompt ${bad}: ${what} is ${xs[bad]}`);
    }
  }
}

/**
 * Paired two-level bootstrap of A - B for each metric. All metrics share the same resamples.
 * `resamples` (default 2,000) draws from Rng(seed) (default 0), so the interval is reproducible.
 */
export function pairedBootstrap(d: PairedSeeds, metrics: readonly BootstrapMetric[], o: { resamples?: number; seed?: number } = {}): BootstrapResult[] {
  checkPaired(d);
  const R = o.resamples ?? 2000;
  if (!Number.isInteger(R) || R < 1) throw new Error(`bootstrap: resamples must be a positive integer, got ${R}`);
  const rng = new Rng(o.seed ?? 0);
  const stats = metrics.map(() => [] as number[]);
  for (let r = 0; r < R; r++) {
    const draw = randomDraw(d, rng);
    metrics.forEach((m, j) => stats[j].push(drawStatistic(d, m, draw)));
  }
  const id = identityDraw(d);
  return metrics.map((m, j) => {
    const ok = stats[j].filter(Number.isFinite).sort((x, y) => x - y);
    return { metric: m.kind, diff: drawStatistic(d, m, id), ci95: [percentile(ok, 0.025), percentile(ok, 0.975)], resamples: R, undefinedResamples: R - ok.length };
  });
}

function* tuples(n: number, len: number): Generator<number[]> {
  const t = new Array<number>(len).fill(0);
  while (true) {
    yield t.slice();
    let i = len - 1;
    while (i >= 0 && ++t[i] === n) t[i--] = 0;
    if (i < 0) return;
  }
}

function* product<T>(lists: T[][]): Generator<T[]> {
  if (lists.length === 0) {
    yield [];
    return;
  }
  for (const head of lists[0]) for (const rest of product(lists.slice(1))) yield [head, ...rest];
}
