/**
 * "A − B" reward-vs-quantile difference curve with a bootstrap band (RA-RLHF − RLHF in the
 * paper's terms). Same resampling as the study's paired bootstrap (bootstrap.ts: seeds with
 * replacement, then prompts within each drawn seed, the same draw for both arms), applied to the
 * whole cumulative-quantile curve; the band is the pointwise 2.5/97.5 percentiles.
 */
import { Rng } from '../engine/rng';
import { checkPaired, identityDraw, percentile, randomDraw, type Draw, type PairedSeeds } from './bootstrap';
import { stableArgsort } from './metrics';

export interface DiffBand {
  q: number[];
  diff: number[];
  lo: number[];
  hi: number[];
  resamples: number;
  seed: number;
  /** how the band was made, for the figure's title/legend */
  method: string;
}

/** Mean of finite values; NaN when none (a quantile slice that is empty in every drawn seed). */
function finiteMean(xs: readonly number[]): number {
  let s = 0;
  let n = 0;
  for (const x of xs) if (Number.isFinite(x)) { s += x; n++; }
  return n ? s / n : NaN;
}

/**
 * Per seed: the paired differences a−b in prompt-score order (stable, like quantileCurve), and each
 * prompt's rank in it, so a resample's sorted order is a counting pass instead of a sort.
 */
function prepare(d: PairedSeeds): { diffs: Float64Array; rank: Int32Array }[] {
  return d.a.map((a, s) => {
    const order = stableArgsort(d.promptScores[s]);
    const rank = new Int32Array(a.length);
    order.forEach((i, r) => { rank[i] = r; });
    return { diffs: Float64Array.from(order, (i) => a[i] - d.b[s][i]), rank };
  });
}

/** The resample's curve: per drawn seed the cumulative-slice mean of a−b at each q, then the seed mean. */
function drawCurve(prep: ReturnType<typeof prepare>, draw: Draw, qs: readonly number[]): number[] {
  const perSeed = draw.seeds.map((s, k) => {
    const { diffs, rank } = prep[s];
    const P = diffs.length;
    const count = new Int32Array(P);
    for (const i of draw.prompts[k]) count[rank[i]]++;
    // drawn prompts in score order: walk ranks, each repeated count[r] times
    const prefix = new Float64Array(P + 1);
    let pos = 0;
    for (let r = 0; r < P; r++) {
      for (let c = 0; c < count[r]; c++) { prefix[pos + 1] = prefix[pos] + diffs[r]; pos++; }
    }
    return qs.map((q) => { const n = Math.floor((q * P) / 100); return n === 0 ? NaN : prefix[n] / n; });
  });
  return qs.map((_, j) => finiteMean(perSeed.map((c) => c[j])));
}

/** Two-level paired bootstrap band of the A−B quantile curve (`resamples` draws from Rng(seed)). */
export function quantileDiffBootstrap(
  d: PairedSeeds, o: { qs?: readonly number[]; resamples?: number; seed?: number } = {},
): DiffBand {
  checkPaired(d);
  const qs = o.qs ?? Array.from({ length: 100 }, (_, i) => i + 1);
  const R = o.resamples ?? 1000;
  const seed = o.seed ?? 0;
  if (!Number.isInteger(R) || R < 1) throw new Error(`quantile diff: resamples must be a positive integer, got ${R}`);
  const prep = prepare(d);
  const rng = new Rng(seed);
  const stats = qs.map(() => [] as number[]);
  for (let r = 0; r < R; r++) drawCurve(prep, randomDraw(d, rng), qs).forEach((v, j) => { if (Number.isFinite(v)) stats[j].push(v); });
  stats.forEach((s) => s.sort((x, y) => x - y));
  return {
    q: [...qs], diff: drawCurve(prep, identityDraw(d), qs),
    lo: stats.map((s) => percentile(s, 0.025)), hi: stats.map((s) => percentile(s, 0.975)), resamples: R, seed,
    method: `paired bootstrap over ${d.a.length} seed(s) and their prompts, ${R} resamples, seed ${seed}`,
  };
}

/**
 * Band from per-seed difference curves only (when per-prompt rewards are not at hand, e.g. the
 * eval report's EvalResults): resample the seeds; needs two or more seeds for a band.
 */
export function seedDiffBootstrap(perSeed: readonly (readonly number[])[], q: readonly number[], o: { resamples?: number; seed?: number } = {}): DiffBand {
  if (perSeed.length === 0) throw new Error('quantile diff: no seeds');
  const R = o.resamples ?? 1000;
  const seed = o.seed ?? 0;
  const rng = new Rng(seed);
  const S = perSeed.length;
  const diff = q.map((_, j) => finiteMean(perSeed.map((c) => c[j])));
  if (S < 2) return { q: [...q], diff, lo: q.map(() => NaN), hi: q.map(() => NaN), resamples: 0, seed, method: 'one seed file: no band (resampling needs two or more seeds, or per-prompt rewards)' };
  const stats = q.map(() => [] as number[]);
  for (let r = 0; r < R; r++) {
    const draw = Array.from({ length: S }, () => rng.int(S));
    q.forEach((_, j) => { const v = finiteMean(draw.map((s) => perSeed[s][j])); if (Number.isFinite(v)) stats[j].push(v); });
  }
  stats.forEach((s) => s.sort((x, y) => x - y));
  return {
    q: [...q], diff,
    lo: stats.map((s) => percentile(s, 0.025)), hi: stats.map((s) => percentile(s, 0.975)), resamples: R, seed,
    method: `bootstrap over ${S} seed file(s) (prompts not resampled), ${R} resamples, seed ${seed}`,
  };
}
