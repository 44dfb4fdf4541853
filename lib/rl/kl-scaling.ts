/**
 * KL-controller scaling for miniatures (fidelity study, issue 13, hypothesis 3).
 *
 * trl's adaptive controller multiplies beta by 1 + e * B / horizon per step, e = clip(KL/target - 1,
 * +-0.2). Over M steps log(beta) can move by at most about 0.2 * B * M / horizon: 0.50 for the
 * paper's IMDB run (B 128, M 194, horizon 10,000) but 0.019 for imdb-mini (B 32, M 30), where beta
 * is practically fixed. Scaling
 *     horizon' = horizon * (B * M) / (B_paper * M_paper)
 * gives the miniature the paper's possible change of beta over the run.
 */
import { TASKS, type TaskSpec } from '../data/task-specs';

export type HorizonScale = number | 'paper' | null;

/** B * M of the paper run a task stands for (its own for paper tasks; IMDB's 128 * 194 for tasks outside TASKS). */
export function paperBatchSteps(task: string): number {
  const spec = (TASKS as Record<string, TaskSpec>)[task];
  const paper = spec ? (TASKS as Record<string, TaskSpec>)[spec.scaledFrom ?? spec.name] : undefined;
  return paper ? paper.batchSize * paper.M : 128 * 194;
}

/**
 * The horizon the controller uses. scale null: `horizon` unchanged; a number: horizon * scale;
 * 'paper': horizon * (B * M) / paperBatchSteps, with M the soft-risk M (one pass, fixed for a run).
 */
export function scaledHorizon(horizon: number, scale: HorizonScale, o: { B: number; M: number; paperBM: number }): number {
  if (scale === null || scale === undefined) return horizon;
  if (scale === 'paper') {
    if (!(o.B > 0 && o.M > 0 && o.paperBM > 0)) throw new Error(`scaledHorizon: B (${o.B}), M (${o.M}) and the paper's B*M (${o.paperBM}) must be positive`);
    return (horizon * (o.B * o.M)) / o.paperBM;
  }
  if (typeof scale !== 'number' || !(scale > 0) || !Number.isFinite(scale)) throw new Error(`ppo.horizon_scale must be "paper", a positive number or null, got ${JSON.stringify(scale)}`);
  return horizon * scale;
}
