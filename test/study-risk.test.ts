/**
 * Fidelity-study switches (issue 13): rank_by random / prompt_value / prompt_score, the per-step
 * selection diagnostics, and the KL-controller horizon scaling, against hand-computed values.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine } from '../lib/engine';
import { Rng } from '../lib/engine/rng';
import { PPOTrainer } from '../lib/rl/ppo-trainer';
import { trainPPO } from '../lib/rl/train-loop';
import { rankingStatistic, type RankBy } from '../lib/rl/risk';
import { riskDiagnostics } from '../lib/rl/risk-diagnostics';
import { paperBatchSteps, scaledHorizon } from '../lib/rl/kl-scaling';
import { AdaptiveKLController } from '../lib/rl/core';
import { loadTrainConfig } from '../lib/rl/config';
import { ToyRewardModel, maxAbsDiff, toyModels, toyPrompts, toyTokenizer, toyTrainConfig, weightsOf } from './rl-fixtures';

before(async () => {
  await initEngine({ quiet: true });
});

test('rankingStatistic: random, prompt_value, prompt_score', () => {
  const masks = [
    [0, 1, 1, 0],
    [0, 0, 1, 1],
  ];
  const values = [
    [9, 0.5, 2, 7],
    [9, 8, -1.5, 3],
  ];
  const d = { returns: [[0, 4, 0, 0], [0, 0, 7, 0]], rewards: [[0, 1, 2, 0], [0, 0, -1, 4]], masks, scores: [0.5, -0.5], values, promptScores: [-3, 1], random: [1, 0] };
  // value at the first masked index = the last prompt token's position in logprob coordinates
  assert.deepEqual(rankingStatistic('prompt_value', d), [0.5, -1.5]);
  assert.deepEqual(rankingStatistic('prompt_score', d), [-3, 1]);
  assert.deepEqual(rankingStatistic('random', d), [1, 0]);
  assert.throws(() => rankingStatistic('prompt_score', { ...d, promptScores: undefined }), /'prompt_score' needs prompt scores for each of the 2 rows/);
  assert.throws(() => rankingStatistic('prompt_value', { ...d, values: undefined }), /'prompt_value' needs values/);
  assert.throws(() => rankingStatistic('random', { ...d, random: [0] }), /got 1/);
  assert.throws(() => rankingStatistic('nope' as RankBy, d), /unknown kind "nope".*prompt_score/);
});

test('riskDiagnostics: Spearman, kept vs dropped score, tail share (hand-computed)', () => {
  // stat ranks [3,1,2,4], score ranks [4,1,3,2]: d = [-1,0,-1,2], sum d^2 = 6, rho = 1 - 6*6/(4*15) = 0.4
  const stat = [3, 1, 2, 4];
  const scores = [0.5, 0.1, 0.4, 0.2];
  const keep = [false, true, true, false]; // alphaN 2 -> q = 2
  const r = riskDiagnostics({ stat, scores, keep, promptScores: [-3, -2.5, -4, 1], tailThreshold: -2.5 });
  assert.ok(Math.abs(r['risk/spearman_rank_score'] - 0.4) < 1e-12);
  assert.ok(Math.abs(r['risk/kept_score_mean'] - 0.25) < 1e-12); // (0.1 + 0.4) / 2
  assert.ok(Math.abs(r['risk/dropped_score_mean'] - 0.35) < 1e-12); // (0.5 + 0.2) / 2
  assert.equal(r['risk/kept_tail_share'], 1); // -2.5 <= -2.5 and -4: both kept prompts are tail prompts
  assert.equal(r['risk/batch_tail_share'], 0.75);
  // ties use average ranks: [1.5,1.5,3] vs [1,2,3] -> 1.5 / sqrt(1.5 * 2) = sqrt(3)/2
  const t = riskDiagnostics({ stat: [1, 1, 2], scores: [1, 2, 3], keep: [true, true, true] });
  assert.ok(Math.abs(t['risk/spearman_rank_score'] - Math.sqrt(3) / 2) < 1e-12);
  // omitted, never NaN: nothing dropped, constant statistic, no prompt scores or no threshold
  assert.deepEqual(Object.keys(t).sort(), ['risk/kept_score_mean', 'risk/spearman_rank_score']);
  const c = riskDiagnostics({ stat: [2, 2], scores: [1, 0], keep: [true, true], promptScores: [0, 0] });
  assert.deepEqual(Object.keys(c), ['risk/kept_score_mean']);
  assert.throws(() => riskDiagnostics({ stat: [1], scores: [1, 2], keep: [true, true] }), /1 statistics/);
});

/** 8 queries with 3-token responses; scores i/8. */
function batch(changeRow: number | null = null) {
  const queries = toyPrompts(8, 11);
  const responses = queries.map((_, i) => [i % 10, (i + 3) % 10, (i + 5) % 10]);
  if (changeRow !== null) responses[changeRow] = [9, 9, 9];
  return { queries, responses, scores: queries.map((_, i) => i / 8) };
}

function trainer(rank_by: RankBy, seed = 1) {
  const { policy, ref } = toyModels(5);
  return { policy, tr: new PPOTrainer({ config: { batch_size: 8, mini_batch_size: 8, learning_rate: 1e-2 }, risk: { rank_by }, policy, ref, seed }) };
}

test('rank_by random keeps the schedule count, drawn from the trainer Rng; the warm start draws nothing', () => {
  const b = batch();
  const { tr } = trainer('random', 3);
  const s = tr.step(b.queries, b.responses, b.scores, { riskCount: 3 });
  assert.equal(s['risk/kept'], 3); // distinct random ranks: no ties
  // the subset the trainer's Rng (seed 3) draws first: ranks of a shuffled 0..7, keep ranks < 3
  const perm = new Rng(3).shuffle([0, 1, 2, 3, 4, 5, 6, 7]);
  const kept = perm.slice(0, 3);
  assert.ok(Math.abs(s['risk/kept_score_mean'] - kept.reduce((a, i) => a + b.scores[i], 0) / 3) < 1e-12);
  // riskCount = B (warm start): no draw, so the step equals the default ranking's step bit for bit
  const a1 = trainer('random');
  const a2 = trainer('lambda_return_first_response_token');
  a1.tr.step(b.queries, b.responses, b.scores, { riskCount: 8 });
  a2.tr.step(b.queries, b.responses, b.scores, { riskCount: 8 });
  assert.equal(maxAbsDiff(weightsOf(a1.policy), weightsOf(a2.policy)), 0);
});

test('rank_by prompt_value ignores the outcome; prompt_score ranks by the given prompt scores', () => {
  // the value at the last prompt token cannot see the response: same quantile when a response and all scores change
  const q = (changeRow: number | null, scores?: number[]) => {
    const b = batch(changeRow);
    return trainer('prompt_value').tr.step(b.queries, b.responses, scores ?? b.scores, { riskCount: 3 })['risk/quantile'];
  };
  assert.equal(q(5, [1, 0, 3, 2, 5, 4, 7, 6]), q(null));
  assert.notEqual(trainer('lambda_return_first_response_token').tr.step(batch(5).queries, batch(5).responses, [1, 0, 3, 2, 5, 4, 7, 6], { riskCount: 3 })['risk/quantile'],
    trainer('lambda_return_first_response_token').tr.step(batch().queries, batch().responses, batch().scores, { riskCount: 3 })['risk/quantile']);
  const b = batch();
  const ps = [0, -2, 1, -3, 2, -1, 3, 4]; // lowest three: rows 3, 1, 5
  const s = trainer('prompt_score').tr.step(b.queries, b.responses, b.scores, { riskCount: 3, promptScores: ps, tailThreshold: -2 });
  assert.equal(s['risk/quantile'], -1);
  assert.ok(Math.abs(s['risk/kept_score_mean'] - (3 + 1 + 5) / 8 / 3) < 1e-12);
  assert.ok(Math.abs(s['risk/kept_tail_share'] - 2 / 3) < 1e-12); // -3 and -2 are <= -2, -1 is not
  assert.equal(s['risk/batch_tail_share'], 2 / 8);
  assert.throws(() => trainer('prompt_score').tr.step(b.queries, b.responses, b.scores, { riskCount: 3 }), /needs prompt scores/);
});

test('trainPPO: prompt_score ranking keeps the hard prompts; diagnostics in every RA-RLHF record', async () => {
  const cfg = toyTrainConfig({ steps: 3, B: 8, mbs: 8, alpha: 0.25, n: 0 });
  cfg.risk.rank_by = 'prompt_score';
  cfg.risk.rho = 0.5; // M = 2 batches per epoch: alphaN = ceil(0.25 * 8) = 2 from step ceil(0.5 * 2) = 1 on
  const { policy, ref } = toyModels(3);
  const rm = new ToyRewardModel();
  const res = await trainPPO(cfg, { algo: 'ra-rlhf', policy, ref, tokenizer: toyTokenizer(), rewardModel: rm, trainPrompts: toyPrompts(16), progress: false });
  // toy prompt alone scores -1 (hard, every 4th prompt) or 0: 2 hard prompts per batch of 8, alphaN 2
  for (const r of res.steps.slice(1)) {
    assert.equal(r['risk/kept'], 2);
    assert.equal(r['risk/quantile'], -1);
    assert.ok(r['risk/kept_score_mean'] < r['risk/dropped_score_mean']);
    assert.equal(r['risk/kept_tail_share'], 0); // imdb-mini's tail rule (<= -2.5): no toy prompt is that low
    assert.ok(Number.isFinite(r['risk/spearman_rank_score']));
  }
  assert.equal(rm.calls, 3 + 2); // 3 response batches + the 16 prompts scored once (2 batches), then cached
});

test('horizon scaling: horizon * B*M / (128*194) gives the paper run its possible change of beta', () => {
  assert.equal(paperBatchSteps('imdb-mini'), 128 * 194);
  assert.equal(paperBatchSteps('imdb-gen'), 128 * 194);
  assert.equal(paperBatchSteps('jigsaw-mini'), 128 * 288);
  assert.equal(paperBatchSteps('demo'), 128 * 194); // no paper counterpart: IMDB's
  const H = scaledHorizon(10000, 'paper', { B: 32, M: 30, paperBM: 24832 });
  assert.equal(H, 9600000 / 24832); // 386.598
  assert.equal(scaledHorizon(10000, 'paper', { B: 128, M: 194, paperBM: 24832 }), 10000);
  assert.equal(scaledHorizon(10000, 0.5, { B: 32, M: 30, paperBM: 24832 }), 5000);
  assert.equal(scaledHorizon(10000, null, { B: 32, M: 30, paperBM: 24832 }), 10000);
  assert.throws(() => scaledHorizon(10000, -1, { B: 32, M: 30, paperBM: 24832 }), /horizon_scale/);
  // largest growth of beta over the run (KL far above target every step: e = 0.2)
  const grow = (B: number, M: number, h: number) => {
    const c = new AdaptiveKLController(0.2, 6, h);
    for (let m = 0; m < M; m++) c.update(1e6, B);
    return c.value / 0.2;
  };
  const paper = grow(128, 194, 10000); // 1.0256^194 ~ 1.64
  assert.ok(Math.abs(grow(32, 30, H) / paper - 1) < 0.01, `${grow(32, 30, H)} vs ${paper}`);
  assert.ok(grow(32, 30, 10000) < 1.02); // unscaled imdb-mini: beta practically fixed
  // config: "paper", a number or null; other strings are named errors
  assert.equal(loadTrainConfig(undefined, ['ppo.horizon_scale=paper']).ppo.horizon_scale, 'paper');
  assert.equal(loadTrainConfig(undefined, ['ppo.horizon_scale=0.04']).ppo.horizon_scale, 0.04);
  assert.equal(loadTrainConfig(undefined, []).ppo.horizon_scale, null);
  assert.throws(() => loadTrainConfig(undefined, ['ppo.horizon_scale=fast']), /--set ppo.horizon_scale=fast: field "ppo.horizon_scale" must be a number or one of "paper"/);
  assert.throws(() => loadTrainConfig(undefined, ['ppo.horizon_scale=0']), /must be > 0/);
  assert.equal(loadTrainConfig(undefined, ['risk.rank_by=prompt_value']).risk.rank_by, 'prompt_value');
});

test('trainPPO applies ppo.horizon_scale (summary kl_horizon, kl_coef moves faster)', async () => {
  const run = async (scale: 'paper' | null) => {
    const cfg = toyTrainConfig({ steps: 2, B: 8, mbs: 8 });
    cfg.ppo.horizon_scale = scale;
    cfg.risk.M = 2;
    const { policy, ref } = toyModels(3);
    return trainPPO(cfg, { algo: 'rlhf', policy, ref, tokenizer: toyTokenizer(), rewardModel: new ToyRewardModel(), trainPrompts: toyPrompts(16), progress: false });
  };
  const a = await run(null);
  const b = await run('paper');
  assert.equal(a.summary.kl_horizon, 10000);
  assert.equal(b.summary.kl_horizon, (10000 * 16) / 24832);
  const moved = (r: typeof a) => Math.abs(r.steps[1]['objective/kl_coef'] / r.steps[0]['objective/kl_coef'] - 1);
  assert.ok(moved(b) > 100 * moved(a), `${moved(b)} vs ${moved(a)}`);
  const { policy, ref } = toyModels(3);
  assert.throws(() => new PPOTrainer({ config: { horizon_scale: 'paper' }, policy, ref }), /must be resolved/);
});
