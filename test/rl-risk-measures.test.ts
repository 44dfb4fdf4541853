import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initEngine } from '../lib/engine';
import { effectiveSampleSize, meanVarianceScores, measureWeights, weightedSelect } from '../lib/rl/risk-measures';
import { klControllerInput } from '../lib/rl/risk';
import { CrossEntropySampler, quantileBins } from '../lib/rl/prompt-sampler';
import { PPOTrainer } from '../lib/rl/ppo-trainer';
import { trainPPO } from '../lib/rl/train-loop';
import { ToyRewardModel, toyModels, toyPrompts, toyTokenizer, toyTrainConfig, toyReward } from './rl-fixtures';
import { generateResponses, rewardTexts } from '../lib/rl/rollout';
import { Rng } from '../lib/engine/rng';

const close = (a: readonly number[], b: readonly number[], tol = 1e-12) => {
  assert.equal(a.length, b.length);
  a.forEach((x, i) => assert.ok(Math.abs(x - b[i]) <= tol, `index ${i}: ${x} vs ${b[i]}`));
};

test('cvar_batch: the keptCount lowest, ties at the cut kept (today\'s selectRiskMask)', () => {
  const stat = [3, 1, 2, 2, 5];
  assert.deepEqual(measureWeights(stat, { measure: 'cvar_batch', keptCount: 2, alpha: 0.4 }), [0, 1, 1, 1, 0]);
  assert.deepEqual(measureWeights(stat, { measure: 'cvar_batch', keptCount: 5, alpha: 0.4 }), [1, 1, 1, 1, 1]);
  assert.throws(() => measureWeights(stat, { measure: 'cvar_batch', keptCount: 0, alpha: 0.4 }), /keptCount must be an integer in \[1, 5\]/);
});

test('cvar_per_prompt: worst ceil(share k) of each group; k not dividing, alpha k < 1, groups of one', () => {
  // two prompts x 3 responses; share = 2/6: ceil(1/3 * 3) = 1 per group
  const stat = [0.5, -1, 2, 3, 4, 1];
  const groups = [0, 0, 0, 1, 1, 1];
  assert.deepEqual(measureWeights(stat, { measure: 'cvar_per_prompt', keptCount: 2, alpha: 0.3, groups }), [0, 1, 0, 0, 0, 1]);
  // risk over responses, not prompt difficulty: group 1's worst (1) is kept although it beats all of group 0 but one
  // share 4/6 -> ceil(2/3 * 3) = 2 per group
  assert.deepEqual(measureWeights(stat, { measure: 'cvar_per_prompt', keptCount: 4, alpha: 0.3, groups }), [1, 1, 0, 1, 0, 1]);
  // unequal groups (5 episodes: 3 + 2), share 1/5: ceil(0.6) = 1 and ceil(0.4) = 1 (at least one each)
  assert.deepEqual(measureWeights([1, 0, 2, 7, 6], { measure: 'cvar_per_prompt', keptCount: 1, alpha: 0.2, groups: [0, 0, 0, 1, 1] }), [0, 1, 0, 0, 1]);
  // ties inside a group are kept
  assert.deepEqual(measureWeights([1, 1, 2, 0], { measure: 'cvar_per_prompt', keptCount: 2, alpha: 0.5, groups: [0, 0, 0, 1] }), [1, 1, 0, 1]);
  // share 1 = PPO
  assert.deepEqual(measureWeights(stat, { measure: 'cvar_per_prompt', keptCount: 6, alpha: 0.3, groups }), [1, 1, 1, 1, 1, 1]);
  assert.throws(() => measureWeights(stat, { measure: 'cvar_per_prompt', keptCount: 2, alpha: 0.3 }), /needs a prompt group/);
});

test('entropic: exp(-(s - min s)/lambda_m) at mean 1; uniform at the warm start; lambda at alpha', () => {
  const stat = [0, 1, 2, 3];
  // keptCount = B: uniform (neutral = PPO)
  assert.deepEqual(measureWeights(stat, { measure: 'entropic', keptCount: 4, alpha: 0.5, lambda: 1 }), [1, 1, 1, 1]);
  // keptCount 2 of 4 = alpha 0.5: lambda_m = 1 * (1 - 0.5) / (1 - 0.5) = 1
  const raw = stat.map((s) => Math.exp(-s));
  const mean = raw.reduce((a, x) => a + x, 0) / 4;
  const w = measureWeights(stat, { measure: 'entropic', keptCount: 2, alpha: 0.5, lambda: 1 });
  close(w, raw.map((x) => x / mean));
  assert.ok(Math.abs(w.reduce((a, x) => a + x, 0) - 4) < 1e-12);
  // halfway (share 0.75): lambda_m = 1 * 0.5 / 0.25 = 2, a softer tilt
  const raw2 = stat.map((s) => Math.exp(-s / 2));
  const mean2 = raw2.reduce((a, x) => a + x, 0) / 4;
  close(measureWeights(stat, { measure: 'entropic', keptCount: 3, alpha: 0.5, lambda: 1 }), raw2.map((x) => x / mean2));
  // ties get equal weights; a huge spread does not overflow
  const t = measureWeights([5, 5, 1e6], { measure: 'entropic', keptCount: 1, alpha: 0.3, lambda: 0.1 });
  assert.equal(t[0], t[1]);
  assert.ok(t.every(Number.isFinite) && t[2] === 0);
});

test('mean_variance: R - c (R - mean R)^2; c = 0 leaves the scores; weights stay 1', () => {
  close(meanVarianceScores([1, 2, 3], 0.5), [1 - 0.5, 2, 3 - 0.5]);
  assert.deepEqual(meanVarianceScores([1, 2, 3], 0), [1, 2, 3]);
  assert.deepEqual(measureWeights([1, 2], { measure: 'mean_variance', keptCount: 1, alpha: 0.4 }), [1, 1]);
  assert.equal(effectiveSampleSize([1, 1, 1, 1]), 4);
  assert.equal(effectiveSampleSize([1, 0, 0, 0]), 1);
});

test('weighted selection and KL input: equal weights = selectRiskMask; 0/1 weights = the keep mask', () => {
  assert.deepEqual(weightedSelect([3, 1, 2, 5], 0.5, [1, 1, 1, 1]), [false, true, true, false]);
  // a heavy low row reaches the share alone
  assert.deepEqual(weightedSelect([3, 1, 2, 5], 0.5, [1, 3, 1, 1]), [false, true, false, false]);
  const kl = [0.5, 2, Infinity, 1];
  assert.equal(klControllerInput('sum_selected_over_B', kl, [true, true, false, false]), klControllerInput('sum_selected_over_B', kl, [1, 1, 0, 0]));
  assert.equal(klControllerInput('mean_selected', kl, [1, 1, 0, 0]), 1.25);
  assert.equal(klControllerInput('mean_selected', [1, 3], [3, 1]), 1.5); // (3 * 1 + 1 * 3) / 4
});

test('CeSoR sampler: quantile bins, E_q[w] = 1, tilt toward the low-return bin, state round trip', () => {
  assert.deepEqual(quantileBins([5, 1, 3, 2, 4, 0], 3), [2, 0, 1, 1, 2, 0]);
  const bins = quantileBins(Array.from({ length: 30 }, (_, i) => i), 3); // 10 per bin
  const s = new CrossEntropySampler(bins, { bins: 3, eta: 0.5, minProb: 0.3, elite: 0.2 }, 1);
  close(s.q, [1 / 3, 1 / 3, 1 / 3]);
  // low returns come from bin 0 only
  for (let i = 0; i < 5; i++) {
    const d = s.sample(10);
    s.update(d.bins, d.bins.map((b) => (b === 0 ? -1 : 1)), d.weights);
    // importance weights sum as intended: sum_b q_b (p_b / q_b) = sum_b p_b = 1
    assert.ok(Math.abs(s.q.reduce((a, q, b) => a + q * s.weight(b), 0) - 1) < 1e-12);
    assert.ok(Math.abs(s.q.reduce((a, q) => a + q, 0) - 1) < 1e-12);
  }
  assert.ok(s.q[0] > 0.6 && s.q[1] >= 0.1 - 1e-12 && s.q[2] >= 0.1 - 1e-12, `q ${s.q}`);
  assert.ok(s.weight(0) < 1 && s.weight(2) > 1); // over-sampled bins weigh less
  const state = JSON.parse(JSON.stringify(s.getState()));
  const a = s.sample(8);
  const t = new CrossEntropySampler(bins, { bins: 3, eta: 0.5, minProb: 0.3, elite: 0.2 }, 99);
  t.setState(state);
  assert.deepEqual(t.sample(8), a);
  assert.throws(() => new CrossEntropySampler([0, 0, 2], { bins: 3, eta: 0.5, minProb: 0.1, elite: 0.2 }, 1), /bin 1 has no prompts/);
});

/** One PPO step of the toy policy on fixed episodes, with trainer options; returns stats and a weight digest. */
async function toyStep(risk: Record<string, unknown>, opts: Parameters<PPOTrainer['step']>[3]) {
  const { policy, ref } = toyModels(3);
  const trainer = new PPOTrainer({ config: { batch_size: 8, mini_batch_size: 4, ppo_epochs: 2, learning_rate: 1e-3 }, risk, policy, ref, seed: 5 });
  const tok = toyTokenizer();
  const queries = toyPrompts(8);
  const responses = generateResponses(policy, queries, { max_new_tokens: 4, min_length: 0, min_new_tokens: 4, top_k: 0, top_p: 1, temperature: 1 }, new Rng(2));
  const scores = rewardTexts(tok, queries, responses).texts.map((t) => toyReward(t));
  const stats = trainer.step(queries, responses, scores, opts);
  const w = [...policy.namedWeights().values()].map((v) => Array.from(v.dataSync() as Float32Array));
  trainer.dispose();
  policy.dispose();
  ref.dispose();
  return { stats, w };
}

test('neutral settings equal PPO bit for bit: alpha 1 for every measure, c = 0, all-ones sampler weights', async () => {
  await initEngine({ quiet: true });
  const ppo = await toyStep({}, {});
  const groups = [0, 0, 1, 1, 2, 2, 3, 3];
  for (const [risk, opts] of [
    [{ measure: 'cvar_batch' }, { riskCount: 8 }],
    [{ measure: 'cvar_per_prompt' }, { riskCount: 8, groups }],
    [{ measure: 'entropic', entropic_lambda: 0.5 }, { riskCount: 8 }],
    [{ measure: 'mean_variance', mv_coef: 0 }, { riskCount: 3 }],
    [{}, { sampleWeights: new Array(8).fill(1) }],
  ] as const) {
    const r = await toyStep(risk, opts as Parameters<PPOTrainer['step']>[3]);
    assert.deepEqual(r.w, ppo.w, JSON.stringify(risk));
    assert.equal(r.stats['ppo/loss/total'], ppo.stats['ppo/loss/total']);
  }
  // a real selection changes the update; its weights are reported
  const sel = await toyStep({ measure: 'cvar_batch' }, { riskCount: 3 });
  assert.notDeepEqual(sel.w, ppo.w);
  assert.equal(sel.stats['risk/kept'], 3);
  assert.equal(sel.stats['risk/ess'], 3);
  const ent = await toyStep({ measure: 'entropic', entropic_lambda: 0.1 }, { riskCount: 3 });
  assert.ok(ent.stats['risk/ess'] < 8 && ent.stats['risk/weight_max'] > 1);
});

test('trainPPO with the cross-entropy sampler and k responses per prompt resumes bit-exactly', async () => {
  await initEngine({ quiet: true });
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-sampler-'));
  const config = toyTrainConfig({ steps: 4, B: 8, mbs: 4, alpha: 0.5, n: 0 });
  config.risk = { ...config.risk, measure: 'cvar_per_prompt', samples_per_prompt: 2, sampler: 'cross_entropy', sampler_bins: 2, sampler_eta: 0.5, sampler_min_prob: 0.2 };
  config.train.save_every = 1;
  const prompts = toyPrompts(32);
  const run = async (out: string, stopAfter: number | null, resume = false) => {
    const { policy, ref } = toyModels(1);
    let n = 0;
    const r = await trainPPO(config, { algo: 'ra-rlhf', policy, ref, tokenizer: toyTokenizer(), rewardModel: new ToyRewardModel(), trainPrompts: prompts, outDir: out, resume, progress: false, shouldStop: () => stopAfter !== null && ++n >= stopAfter });
    const w = [...policy.namedWeights().values()].map((v) => Array.from(v.dataSync() as Float32Array));
    policy.dispose();
    ref.dispose();
    return { r, w };
  };
  const full = await run(path.join(root, 'full'), null);
  assert.equal(full.r.steps.length, 4);
  assert.ok(full.r.steps.every((s) => 'sampler/q_0' in s && s['risk/kept'] >= 4)); // >= one per prompt group
  await run(path.join(root, 'split'), 2);
  const resumed = await run(path.join(root, 'split'), null, true);
  assert.deepEqual(resumed.w, full.w);
  assert.deepEqual(resumed.r.steps.map((s) => s['sampler/q_0']), full.r.steps.map((s) => s['sampler/q_0']));
  fs.rmSync(root, { recursive: true, force: true });
});
