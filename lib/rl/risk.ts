/**
 * RA-RLHF risk machinery (paper-spec §1): the soft-risk schedule (how many episodes of a batch are
 * kept at iteration m) and CVaR batch selection (which ones). Pure functions on numbers.
 */

export type RiskScheduler = 'new' | 'old';
/** Ranking statistics (lib/rl/README.md says why each exists; the last three are fidelity-study controls). */
export const RANK_BY = ['lambda_return_first_response_token', 'sum_rbar', 'env_score', 'random', 'prompt_value', 'prompt_score'] as const;
export type RankBy = (typeof RANK_BY)[number];
export type KLInput = 'sum_selected_over_B' | 'mean_selected';

export interface SoftRiskOptions {
  B: number; // batch size
  alpha: number; // final risk level (fraction of the batch kept)
  n: number; // warm start: iterations m = 0..n use the whole batch
  rho: number; // fraction of the M iterations after which alpha is reached
  M: number; // iterations in one pass over the prompts (hard-coded per task in the authors' code)
  scheduler?: RiskScheduler;
}

/**
 * Number of episodes kept at 0-based iteration m (authors' `risk_scheduler="new"`, spec §1.1):
 *   m <= n: B;   m >= ceil(rho M): ceil(alpha B);   else ceil(B max(alpha, 1 - K (m - n))),
 *   K = (1 - alpha) / (ceil(rho M) - n).
 * 'old' (legacy, unused by the paper): m > n -> ceil(B max(alpha, 1 - (1-alpha)(m-n)/(rho M))).
 * Plain IEEE doubles, as Python floats, so ceil lands on the same integers.
 */
export function softRiskCount(m: number, o: SoftRiskOptions): number {
  const { B, alpha, n, rho, M } = o;
  const scheduler = o.scheduler ?? 'new';
  if (!Number.isInteger(m) || m < 0) throw new Error(`softRiskCount: m must be a non-negative integer, got ${m}`);
  if (!Number.isInteger(B) || B < 1) throw new Error(`softRiskCount: B must be a positive integer, got ${B}`);
  if (!(alpha > 0 && alpha <= 1)) throw new Error(`softRiskCount: alpha must be in (0, 1], got ${alpha}`);
  if (m <= n) return B;
  if (scheduler === 'old') return Math.ceil(B * Math.max(alpha, 1 - ((1 - alpha) * (m - n)) / (rho * M)));
  if (scheduler !== 'new') throw new Error(`softRiskCount: unknown scheduler "${scheduler as string}" (new, old)`);
  const end = Math.ceil(rho * M);
  if (m >= end) return Math.ceil(alpha * B);
  const K = (1 - alpha) / (end - n);
  return Math.ceil(B * Math.max(alpha, 1 - K * (m - n)));
}

/**
 * CVaR selection (authors' `find_alpha_return`): q = the alphaN-th smallest statistic; keep every
 * row with stat <= q. Ties at q are all kept, so more than alphaN rows can survive.
 */
export function selectRiskMask(stat: ArrayLike<number>, alphaN: number): boolean[] {
  const B = stat.length;
  if (!Number.isInteger(alphaN) || alphaN < 1 || alphaN > B) {
    throw new Error(`selectRiskMask: alphaN must be an integer in [1, ${B}], got ${alphaN}`);
  }
  const values = Array.from(stat);
  const bad = values.findIndex((x) => !Number.isFinite(x));
  if (bad >= 0) throw new Error(`selectRiskMask: ranking statistic of row ${bad} is ${values[bad]}`);
  const q = values.slice().sort((a, b) => a - b)[alphaN - 1];
  return values.map((x) => x <= q);
}

/**
 * Per-episode ranking statistic (spec §9.1). Inputs are row-major [B][T] arrays in logprob
 * coordinates, computed with the FULL response mask:
 *  - 'lambda_return_first_response_token': returns[b, first masked index] (the code's returns[:, 63]
 *    for 64-token prompts; here the index follows each row's prompt length)
 *  - 'sum_rbar': sum of KL-penalised rewards r̄ over the response
 *  - 'env_score': the reward model's score
 *  - 'random': `random[b]` (the caller's seeded draw: ranks of a random permutation)
 *  - 'prompt_value': values[b, first masked index], the value head at the last prompt token (that
 *    position sees only the prompt: prompt difficulty without the outcome)
 *  - 'prompt_score': `promptScores[b]`, the reward model's score of the prompt text alone
 */
export function rankingStatistic(
  kind: RankBy,
  d: { returns: number[][]; rewards: number[][]; masks: number[][]; scores: number[]; values?: number[][]; promptScores?: number[]; random?: number[] },
): number[] {
  const atFirst = (x: number[][] | undefined, what: string) => {
    if (!x) throw new Error(`rankingStatistic: '${kind}' needs ${what}`);
    return d.masks.map((row, b) => {
      const first = row.findIndex((v) => v > 0);
      if (first < 0) throw new Error(`rankingStatistic: row ${b} has an empty response mask`);
      return x[b][first];
    });
  };
  const perRow = (x: number[] | undefined, what: string) => {
    if (!x || x.length !== d.scores.length) throw new Error(`rankingStatistic: '${kind}' needs ${what} for each of the ${d.scores.length} rows, got ${x?.length ?? 'none'}`);
    return x.slice();
  };
  switch (kind) {
    case 'lambda_return_first_response_token':
      return atFirst(d.returns, 'returns');
    case 'sum_rbar':
      return d.rewards.map((row, b) => row.reduce((s, r, t) => s + r * d.masks[b][t], 0));
    case 'env_score':
      return d.scores.slice();
    case 'random':
      return perRow(d.random, 'random draws');
    case 'prompt_value':
      return atFirst(d.values, 'values');
    case 'prompt_score':
      return perRow(d.promptScores, 'prompt scores');
    default:
      throw new Error(`rankingStatistic: unknown kind "${kind as string}" (${RANK_BY.join(', ')})`);
  }
}

/**
 * The KL number fed to the adaptive controller. klPerRow[b] = sum_t (logp - ref_logp) * reducedMask;
 * `weights` are the episodes' weights (a boolean keep mask = 0/1 weights).
 *  - 'sum_selected_over_B' (authors' code: unselected rows count as 0 in a mean over all B rows)
 *  - 'mean_selected' (paper Eq. 12: mean over the selected rows only; weighted: sum w kl / sum w)
 */
export function klControllerInput(kind: KLInput, klPerRow: number[], weights: readonly (boolean | number)[]): number {
  const B = klPerRow.length;
  let sum = 0;
  let count = 0;
  for (let b = 0; b < B; b++) {
    const w = Number(weights[b]);
    if (!(w > 0)) continue; // skipped, not multiplied: 0 * Inf would be NaN
    sum += w * klPerRow[b];
    count += w;
  }
  if (kind === 'sum_selected_over_B') return sum / B;
  if (kind === 'mean_selected') return count > 0 ? sum / count : 0;
  throw new Error(`klControllerInput: unknown kind "${kind as string}"`);
}
