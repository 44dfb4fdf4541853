/**
 * Risk measures as per-episode weights w_b >= 0 for the PPO step (lib/rl/README.md has each
 * measure's formula, paper and switches). A weight multiplies the episode's response mask, so
 * masked means, whitening and the KL-controller input become weighted means; 0/1 weights are
 * today's keep mask, bit for bit. Every measure is driven by the soft-risk schedule through
 * keptCount = softRiskCount(m) of B episodes, whose share falls from 1 (warm start) to alpha.
 * Pure functions.
 */
import { selectRiskMask } from './risk';

export const RISK_MEASURES = ['cvar_batch', 'cvar_per_prompt', 'entropic', 'mean_variance'] as const;
export type RiskMeasure = (typeof RISK_MEASURES)[number];

export interface MeasureOptions {
  measure: RiskMeasure;
  /** the schedule's kept count at this step (softRiskCount), in [1, B] */
  keptCount: number;
  /** the final risk level alpha (the entropic temperature schedule ends at `lambda` when keptShare reaches it) */
  alpha: number;
  /** episodes per prompt group (cvar_per_prompt): group[b] = the prompt group of episode b */
  groups?: readonly number[];
  /** entropic target temperature lambda > 0 */
  lambda?: number;
  /**
   * importance weights of a prompt sampler (prompt-sampler.ts): cvar_batch then cuts at the
   * weighted quantile, the alpha-quantile under the original prompt distribution (CeSoR)
   */
  sampleWeights?: readonly number[];
}

/**
 * Weights of the B episodes from their ranking statistic (low = risky):
 *  - cvar_batch: 1 for the keptCount lowest (ties at the cut kept, as selectRiskMask), else 0
 *  - cvar_per_prompt: the same inside each prompt's group: ceil(share k_g) of its k_g episodes
 *    (share = keptCount / B; at least one per group, so alpha k < 1 still keeps each group's worst)
 *  - entropic: exp(-(s - min s) / lambda_m), normalised to mean 1, lambda_m = lambda (1 - alpha) / (1 - share)
 *    (uniform while share = 1, lambda once share = alpha); the EVaR-style exponential tilt
 *  - mean_variance: all 1 (it reshapes the scores instead: meanVarianceScores)
 */
export function measureWeights(stat: readonly number[], o: MeasureOptions): number[] {
  const B = stat.length;
  if (B === 0) throw new Error('measureWeights: no episodes');
  if (!Number.isInteger(o.keptCount) || o.keptCount < 1 || o.keptCount > B) throw new Error(`measureWeights: keptCount must be an integer in [1, ${B}], got ${o.keptCount}`);
  const share = o.keptCount / B;
  const bad = stat.findIndex((x) => !Number.isFinite(x));
  if (bad >= 0) throw new Error(`measureWeights: ranking statistic of row ${bad} is ${stat[bad]}`);
  switch (o.measure) {
    case 'cvar_batch':
      return toWeights(o.sampleWeights ? weightedSelect(stat, share, o.sampleWeights) : selectRiskMask(stat, o.keptCount));
    case 'cvar_per_prompt': {
      if (!o.groups || o.groups.length !== B) throw new Error(`measureWeights: cvar_per_prompt needs a prompt group for each of the ${B} episodes, got ${o.groups?.length ?? 'none'}`);
      const w = new Array<number>(B).fill(0);
      const members = new Map<number, number[]>();
      o.groups.forEach((g, b) => {
        const m = members.get(g);
        if (m) m.push(b);
        else members.set(g, [b]);
      });
      for (const idx of members.values()) {
        const keep = selectRiskMask(idx.map((b) => stat[b]), Math.max(1, Math.ceil((o.keptCount * idx.length) / B - 1e-9)));
        idx.forEach((b, j) => (w[b] = keep[j] ? 1 : 0));
      }
      return w;
    }
    case 'entropic': {
      const lambda = o.lambda;
      if (lambda === undefined || !(lambda > 0)) throw new Error(`measureWeights: entropic needs lambda > 0, got ${lambda}`);
      if (share >= 1) return new Array<number>(B).fill(1);
      const lam = (lambda * (1 - o.alpha)) / Math.max(1e-12, 1 - share);
      const min = Math.min(...stat);
      const raw = stat.map((s) => Math.exp(-(s - min) / lam)); // in (0, 1]: no overflow
      const mean = raw.reduce((a, x) => a + x, 0) / B;
      return raw.map((x) => x / mean);
    }
    case 'mean_variance':
      return new Array<number>(B).fill(1);
    default:
      throw new Error(`measureWeights: unknown measure "${o.measure as string}" (${RISK_MEASURES.join(', ')})`);
  }
}

/** mean_variance: R - c (R - mean R)^2 over the batch (c = 0: the scores unchanged). */
export function meanVarianceScores(scores: readonly number[], c: number): number[] {
  if (!(c >= 0)) throw new Error(`meanVarianceScores: c must be >= 0, got ${c}`);
  if (c === 0) return scores.slice();
  const mean = scores.reduce((a, x) => a + x, 0) / scores.length;
  return scores.map((r) => r - c * (r - mean) ** 2);
}

/** Effective sample size (sum w)^2 / sum w^2 of a weight vector (B for equal weights). */
export function effectiveSampleSize(w: readonly number[]): number {
  const s = w.reduce((a, x) => a + x, 0);
  const s2 = w.reduce((a, x) => a + x * x, 0);
  return s2 > 0 ? (s * s) / s2 : 0;
}

/**
 * Keep the lowest statistics until their share of the total weight reaches `share` (the row that
 * crosses it is kept; ties at the cut kept): the weighted alpha-quantile cut. Equal weights keep
 * ceil(share B) rows, as selectRiskMask.
 */
export function weightedSelect(stat: readonly number[], share: number, w: readonly number[]): boolean[] {
  const B = stat.length;
  if (w.length !== B) throw new Error(`weightedSelect: ${w.length} weights for ${B} rows`);
  const total = w.reduce((a, x) => a + x, 0);
  if (!(total > 0)) throw new Error('weightedSelect: the weights sum to 0');
  const order = stat.map((_, i) => i).sort((a, b) => stat[a] - stat[b] || a - b);
  let acc = 0;
  let q = stat[order[B - 1]];
  for (const i of order) {
    if (acc / total >= share - 1e-12) break;
    acc += w[i];
    q = stat[i];
  }
  return stat.map((x) => x <= q);
}

function toWeights(keep: readonly boolean[]): number[] {
  return keep.map((k) => (k ? 1 : 0));
}
