/**
 * Soft-risk schedule (spec §1.1 test vectors) and CVaR selection.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { klControllerInput, rankingStatistic, selectRiskMask, softRiskCount } from '../lib/rl/risk';

test('soft-risk schedule, IMDB paper setting (B 128, alpha .4, n 30, rho .95, M 194)', () => {
  const o = { B: 128, alpha: 0.4, n: 30, rho: 0.95, M: 194 };
  // ceil(rho M) = ceil(184.3) = 185; K = 0.6 / 155
  for (let m = 0; m <= 31; m++) assert.equal(softRiskCount(m, o), 128, `m=${m}`); // m=31: ceil(128*(1-K)) = ceil(127.5) = 128
  assert.equal(softRiskCount(107, o), 90); // ceil(128 * (1 - 77K)) = ceil(89.85)
  assert.equal(softRiskCount(184, o), 52); // ceil(128 * (1 - 154K)) = ceil(51.70)
  for (const m of [185, 190, 193, 500]) assert.equal(softRiskCount(m, o), 52); // ceil(51.2)
  // monotone non-increasing
  let prev = 128;
  for (let m = 0; m < 194; m++) {
    const c = softRiskCount(m, o);
    assert.ok(c <= prev);
    prev = c;
  }
});

test('soft-risk schedule, Jigsaw (alpha .2, M 288), RTP (M 452), GPT-J (B 8, n 300, M 3601)', () => {
  const j = { B: 128, alpha: 0.2, n: 30, rho: 0.95, M: 288 };
  // ceil(0.95*288) = 274; K = 0.8/244
  assert.equal(softRiskCount(152, j), 77); // ceil(128 * (1 - 122K)) = ceil(76.8) = 77
  assert.equal(softRiskCount(273, j), 27); // ceil(128 * (1 - 243K)) = ceil(26.02)
  for (const m of [274, 287]) assert.equal(softRiskCount(m, j), 26); // ceil(25.6)
  assert.equal(softRiskCount(451, { ...j, M: 452 }), 26);
  assert.equal(softRiskCount(400, { ...j, M: 452 }), 34); // ceil(.95*452) = 430, K = .8/400: ceil(128 (1 - 370K)) = ceil(33.28)
  assert.equal(softRiskCount(430, { ...j, M: 452 }), 26);
  assert.equal(softRiskCount(3600, { B: 8, alpha: 0.2, n: 300, rho: 0.95, M: 3601 }), 2); // ceil(1.6)
});

test('legacy "old" scheduler and input validation', () => {
  const o = { B: 128, alpha: 0.4, n: 30, rho: 0.95, M: 194, scheduler: 'old' as const };
  // m=107: ceil(128 * max(.4, 1 - .6*77/184.3)) = ceil(128 * 0.749321) = ceil(95.91) = 96
  assert.equal(softRiskCount(107, o), 96);
  assert.equal(softRiskCount(30, o), 128);
  assert.throws(() => softRiskCount(-1, o), /non-negative/);
  assert.throws(() => softRiskCount(1, { ...o, alpha: 0 }), /alpha/);
});

test('CVaR selection keeps stat <= q, ties included', () => {
  // sorted [1, 2, 2, 3, 5]; alphaN 2 -> q = 2 -> rows with 1, 2, 2 kept (3 rows)
  assert.deepEqual(selectRiskMask([3, 1, 2, 2, 5], 2), [false, true, true, true, false]);
  assert.deepEqual(selectRiskMask([3, 1, 2, 2, 5], 1), [false, true, false, false, false]);
  assert.deepEqual(selectRiskMask([3, 1, 2, 2, 5], 5), [true, true, true, true, true]);
  assert.deepEqual(selectRiskMask([-1, -1, -1], 1), [true, true, true]);
  assert.throws(() => selectRiskMask([1, 2], 0), /alphaN/);
  assert.throws(() => selectRiskMask([1, 2], 3), /alphaN/);
  assert.throws(() => selectRiskMask([1, NaN], 1), /row 1/);
});

test('ranking statistics and KL controller input', () => {
  const masks = [
    [0, 1, 1, 0],
    [0, 0, 1, 1],
  ];
  const returns = [
    [9, 4, 3, 9],
    [9, 9, 7, 1],
  ];
  const rewards = [
    [5, 1, 2, 5],
    [5, 5, -1, 4],
  ];
  const scores = [0.5, -0.5];
  // first response index: row 0 -> 1, row 1 -> 2
  assert.deepEqual(rankingStatistic('lambda_return_first_response_token', { returns, rewards, masks, scores }), [4, 7]);
  assert.deepEqual(rankingStatistic('sum_rbar', { returns, rewards, masks, scores }), [3, 3]); // 1+2, -1+4
  assert.deepEqual(rankingStatistic('env_score', { returns, rewards, masks, scores }), [0.5, -0.5]);
  // KL per row [2, 4, 6, 8], keep rows 0 and 2: code -> (2+6)/4 = 2; paper Eq. 12 -> (2+6)/2 = 4
  const keep = [true, false, true, false];
  assert.equal(klControllerInput('sum_selected_over_B', [2, 4, 6, 8], keep), 2);
  assert.equal(klControllerInput('mean_selected', [2, 4, 6, 8], keep), 4);
  assert.equal(klControllerInput('sum_selected_over_B', [2, 4, 6, 8], [true, true, true, true]), 5);
});
