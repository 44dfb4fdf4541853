/**
 * Pure helpers behind the training-curve figure: the bias-corrected EMA (TensorBoard's smoothing)
 * and the seed mean ± std of per-step metrics.
 */

/**
 * Bias-corrected exponential moving average: m_t = w·m_{t-1} + (1-w)·x_t from m_0 = 0, shown as
 * m_t / (1 - w^t). Plain EMA started at x_1 over-weights the first step for a long time when w
 * is 0.9+; the debiased one is an exact weighted mean of the points so far. Non-finite points are
 * passed through and do not advance t.
 */
export function debiasedEma(xs: readonly number[], weight: number): number[] {
  if (!(weight >= 0 && weight < 1)) throw new Error(`debiasedEma: weight must be in [0, 1), got ${weight}`);
  let m = 0;
  let t = 0;
  return xs.map((x) => {
    if (!Number.isFinite(x)) return x;
    m = weight * m + (1 - weight) * x;
    t++;
    return m / (1 - weight ** t);
  });
}

export interface SeedBand { x: number[]; mean: number[]; std: number[]; n: number[] }

/**
 * Pointwise mean and sample std (n-1; 0 for a single seed) over seeds, aligned on x: every x
 * that any seed logged, averaged over the seeds that logged it (a seed that stopped early
 * simply drops out of the later points, and `n` says how many seeds each point has).
 */
export function seedBand(series: readonly { x: readonly number[]; y: readonly number[] }[]): SeedBand {
  const byX = new Map<number, number[]>();
  for (const s of series) {
    s.x.forEach((x, i) => {
      const y = s.y[i];
      if (!Number.isFinite(y)) return;
      const list = byX.get(x) ?? [];
      list.push(y);
      byX.set(x, list);
    });
  }
  const x = [...byX.keys()].sort((a, b) => a - b);
  const mean: number[] = [];
  const std: number[] = [];
  const n: number[] = [];
  for (const k of x) {
    const ys = byX.get(k)!;
    const m = ys.reduce((a, b) => a + b, 0) / ys.length;
    mean.push(m);
    std.push(ys.length > 1 ? Math.sqrt(ys.reduce((a, b) => a + (b - m) ** 2, 0) / (ys.length - 1)) : 0);
    n.push(ys.length);
  }
  return { x, mean, std, n };
}

/** "rlhf seed 3", "ra_rlhf/seed-2", "RLHF_seed1" -> the algorithm/arm name the seeds share. */
export function curveGroup(name: string): string {
  return name.replace(/[\s/_-]*seed[\s_-]*\d+$/i, '').trim() || name;
}
