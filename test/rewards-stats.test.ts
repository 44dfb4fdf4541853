import assert from 'node:assert/strict';
import { test } from 'node:test';
import { accuracy, linearFit, pearson, rankAverage, rmse, rocAuc, spearman, std } from '../lib/rewards/stats';

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`);

test('rankAverage gives tied values the mean of their ranks', () => {
  assert.deepEqual(rankAverage([10, 20, 20, 30]), [1, 2.5, 2.5, 4]);
  assert.deepEqual(rankAverage([3, 1, 3, 3]), [3, 1, 3, 3]); // ranks 2,3,4 -> 3
  assert.deepEqual(rankAverage([-1, -5]), [2, 1]);
});

test('spearman with ties equals the hand-computed Pearson of average ranks', () => {
  // b ranks [1, 2, 3.5, 5, 3.5]; Σ da·db = 8, Σ da² = 10, Σ db² = 9.5  ->  8 / sqrt(95)
  close(spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]), 8 / Math.sqrt(95));
  close(spearman([1, 2, 3], [30, 20, 10]), -1);
  close(spearman([1, 2, 3, 4], [1, 4, 9, 16]), 1); // monotone, not linear
});

test('pearson, rmse, std and linearFit on hand values', () => {
  close(pearson([1, 2, 3], [2, 4, 7]), 5 / Math.sqrt(2 * 12.666666666666666), 1e-12);
  close(rmse([0, 0], [3, 4]), Math.sqrt(12.5));
  close(std([1, 3]), 1);
  const f = linearFit([0, 1, 2], [1, 3, 5]);
  close(f.slope, 2);
  close(f.intercept, 1);
});

test('rocAuc: probability a positive outranks a negative, ties count 1/2', () => {
  close(rocAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.75);
  // pairs (pos 1 vs neg 1) = 1/2, (1 vs 2) = 0, (3 vs 1) = 1, (3 vs 2) = 1  -> 2.5 / 4
  close(rocAuc([1, 1, 2, 3], [0, 1, 0, 1]), 0.625);
  close(rocAuc([5, 5, 5, 5], [0, 1, 0, 1]), 0.5);
  close(rocAuc([3, 2, 1], [0, 1, 1]), 0);
});

test('accuracy thresholds at 0 by default', () => {
  close(accuracy([0.5, -0.2, 0, 2], [1, 0, 1, 0]), 0.5); // 0 is not > 0, so predicted negative
  close(accuracy([0.5, -0.2], [1, 1], -1), 1);
});

test('metric helpers reject bad input with clear errors', () => {
  assert.throws(() => spearman([1, 2], [1]), /length mismatch/);
  assert.throws(() => rocAuc([1, 2], [1, 1]), /need both classes/);
  assert.throws(() => rocAuc([1, 2], [0, 2]), /label 1 is 2/);
  assert.throws(() => pearson([1, NaN], [1, 2]), /element 1 is not a finite number/);
});
