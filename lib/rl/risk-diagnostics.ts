/**
 * Per-step diagnostics of RA-RLHF's batch selection (fidelity study, issue 13): does the ranking
 * statistic pick the episodes that scored worst, and does it pick the hard (tail) prompts?
 * Pure functions on numbers; a field that cannot be computed is left out, never NaN.
 */
import { spearman } from '../rewards/stats';

export interface RiskDiagnosticsInput {
  /** ranking statistic per episode (what the CVaR selection sorted) */
  stat: readonly number[];
  /** environment score (reward model on query + response) per episode */
  scores: readonly number[];
  /** kept episodes */
  keep: readonly boolean[];
  /** reward model's score of each episode's prompt alone (optional) */
  promptScores?: readonly number[];
  /** a prompt is in the tail when its prompt score <= this (the task's tail rule; optional) */
  tailThreshold?: number;
}

/**
 *  - risk/spearman_rank_score: Spearman(stat, scores) over the batch (omitted when one side is constant)
 *  - risk/kept_score_mean, risk/dropped_score_mean: mean env score of kept / dropped episodes
 *  - risk/kept_tail_share: share of kept episodes whose prompt is in the tail
 *  - risk/batch_tail_share: the same share over the whole batch (what selection would get by chance)
 */
export function riskDiagnostics(d: RiskDiagnosticsInput): Record<string, number> {
  const B = d.scores.length;
  if (d.stat.length !== B || d.keep.length !== B) throw new Error(`riskDiagnostics: ${d.stat.length} statistics and ${d.keep.length} keep flags for ${B} scores`);
  const out: Record<string, number> = {};
  if (B >= 2) {
    const rho = spearman(d.stat, d.scores);
    if (Number.isFinite(rho)) out['risk/spearman_rank_score'] = rho;
  }
  const meanWhere = (xs: readonly number[], pick: (b: number) => boolean): number | null => {
    let s = 0;
    let n = 0;
    for (let b = 0; b < B; b++) if (pick(b)) { s += xs[b]; n++; }
    return n > 0 ? s / n : null;
  };
  const kept = meanWhere(d.scores, (b) => d.keep[b]);
  const dropped = meanWhere(d.scores, (b) => !d.keep[b]);
  if (kept !== null) out['risk/kept_score_mean'] = kept;
  if (dropped !== null) out['risk/dropped_score_mean'] = dropped;
  const ps = d.promptScores;
  if (ps && d.tailThreshold !== undefined && Number.isFinite(d.tailThreshold)) {
    if (ps.length !== B) throw new Error(`riskDiagnostics: ${ps.length} prompt scores for ${B} episodes`);
    const inTail = ps.map((s) => (s <= d.tailThreshold! ? 1 : 0));
    const keptShare = meanWhere(inTail, (b) => d.keep[b]);
    if (keptShare !== null) out['risk/kept_tail_share'] = keptShare;
    out['risk/batch_tail_share'] = meanWhere(inTail, () => true)!;
  }
  return out;
}
