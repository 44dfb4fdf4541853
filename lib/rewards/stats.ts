/**
 * Metrics for reward-model fidelity: ranks with ties, Spearman, ROC AUC, accuracy, Pearson.
 * Pure functions over plain arrays. (Kept here, not in lib/eval, because lib/eval is owned by
 * the evaluation module; the evaluation module may re-export them.)
 */

function checkFinite(xs: readonly number[], what: string): void {
  for (let i = 0; i < xs.length; i++) {
    if (!Number.isFinite(xs[i])) throw new Error(`${what}: element ${i} is not a finite number (${xs[i]})`);
  }
}

function checkPair(a: readonly number[], b: readonly number[], what: string): void {
  if (a.length !== b.length) throw new Error(`${what}: length mismatch (${a.length} vs ${b.length})`);
  if (a.length < 2) throw new Error(`${what}: need at least 2 values, got ${a.length}`);
  checkFinite(a, what);
  checkFinite(b, what);
}

/** 1-based ranks; tied values share the average of the ranks they span (scipy "average"). */
export function rankAverage(xs: readonly number[]): number[] {
  const order = xs.map((_, i) => i).sort((i, j) => xs[i] - xs[j]);
  const ranks = new Array<number>(xs.length);
  let start = 0;
  while (start < order.length) {
    let end = start;
    while (end + 1 < order.length && xs[order[end + 1]] === xs[order[start]]) end++;
    const avg = (start + end) / 2 + 1; // mean of ranks start+1 .. end+1
    for (let k = start; k <= end; k++) ranks[order[k]] = avg;
    start = end + 1;
  }
  return ranks;
}

/** Pearson correlation; NaN when one side is constant. */
export function pearson(a: readonly number[], b: readonly number[]): number {
  checkPair(a, b, 'pearson');
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma;
    const db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** Spearman rank correlation = Pearson of average ranks (handles ties like scipy.stats.spearmanr). */
export function spearman(a: readonly number[], b: readonly number[]): number {
  checkPair(a, b, 'spearman');
  return pearson(rankAverage(a), rankAverage(b));
}

/**
 * ROC AUC of `scores` for binary `labels` (1 = positive class): the probability that a random
 * positive scores above a random negative, ties counting 1/2 (Mann-Whitney U / (n1 n0)).
 */
export function rocAuc(scores: readonly number[], labels: readonly number[]): number {
  checkPair(scores, labels, 'rocAuc');
  let nPos = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] !== 0 && labels[i] !== 1) throw new Error(`rocAuc: label ${i} is ${labels[i]}, expected 0 or 1`);
    nPos += labels[i];
  }
  const nNeg = labels.length - nPos;
  if (nPos === 0 || nNeg === 0) throw new Error(`rocAuc: need both classes (positives ${nPos}, negatives ${nNeg})`);
  const ranks = rankAverage(scores);
  let rankSumPos = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] === 1) rankSumPos += ranks[i];
  const u = rankSumPos - (nPos * (nPos + 1)) / 2;
  return u / (nPos * nNeg);
}

/** Fraction of rows where (score > threshold) equals (label === 1). */
export function accuracy(scores: readonly number[], labels: readonly number[], threshold = 0): number {
  checkPair(scores, labels, 'accuracy');
  let ok = 0;
  for (let i = 0; i < scores.length; i++) if ((scores[i] > threshold ? 1 : 0) === labels[i]) ok++;
  return ok / scores.length;
}

export function mean(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('mean: empty array');
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Population standard deviation (ddof = 0). */
export function std(xs: readonly number[]): number {
  const m = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) * (x - m);
  return Math.sqrt(s / xs.length);
}

/** Root mean squared error. */
export function rmse(a: readonly number[], b: readonly number[]): number {
  checkPair(a, b, 'rmse');
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s / a.length);
}

/** Least-squares y ≈ slope * x + intercept. */
export function linearFit(x: readonly number[], y: readonly number[]): { slope: number; intercept: number } {
  checkPair(x, y, 'linearFit');
  const mx = mean(x);
  const my = mean(y);
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
  }
  if (sxx === 0) throw new Error('linearFit: x is constant');
  const slope = sxy / sxx;
  return { slope, intercept: my - slope * mx };
}
