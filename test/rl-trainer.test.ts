/**
 * PPOTrainer / train loop behaviour on the toy task (test/rl-fixtures.ts): RA-RLHF with alpha = 1
 * is RLHF, unselected episodes give zero gradient, empty minibatches are skipped, resume equals an
 * uninterrupted run, NaN stops with the last good checkpoint intact.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initEngine, tf } from '../lib/engine';
import { PPONumericError, PPOTrainer } from '../lib/rl/ppo-trainer';
import { trainPPO } from '../lib/rl/train-loop';
import { loadCheckpoint, loadTrainerState } from '../lib/models/checkpoint';
import { ToyRewardModel, maxAbsDiff, toyModels, toyPrompts, toyTokenizer, toyTrainConfig, weightsOf } from './rl-fixtures';

before(async () => {
  await initEngine({ quiet: true });
});

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-rl-'));

test('RA-RLHF with alpha = 1 is RLHF, step for step', async () => {
  const runs: Map<string, Float32Array>[] = [];
  const stats: number[][] = [];
  for (const algo of ['rlhf', 'ra-rlhf'] as const) {
    const { policy, ref } = toyModels(3);
    const cfg = toyTrainConfig({ steps: 3, B: 8, mbs: 4, alpha: 1, n: 0 });
    const res = await trainPPO(cfg, { algo, policy, ref, tokenizer: toyTokenizer(), rewardModel: new ToyRewardModel(), trainPrompts: toyPrompts(24), progress: false });
    runs.push(weightsOf(policy));
    stats.push(res.steps.map((s) => s['objective/kl_coef'] + s['ppo/loss/total'] + s['env/reward_mean']));
    assert.ok(res.steps.every((s) => s['risk/kept'] === 8));
  }
  assert.equal(maxAbsDiff(runs[0], runs[1]), 0);
  assert.deepEqual(stats[0], stats[1]);
});

/** A fixed batch: 8 queries with 3-token responses; scores rank rows 0..7 ascending. */
function fixedBatch(changeRow: number | null) {
  const queries = toyPrompts(8, 11);
  const responses = queries.map((_, i) => [i % 10, (i + 3) % 10, (i + 5) % 10]);
  if (changeRow !== null) responses[changeRow] = [9, 9, 9];
  const scores = queries.map((_, i) => i / 8);
  return { queries, responses, scores };
}

function oneStep(changeRow: number | null, riskCount: number, mbs = 8) {
  const { policy, ref } = toyModels(5);
  const tr = new PPOTrainer({ config: { batch_size: 8, mini_batch_size: mbs, learning_rate: 1e-2 }, risk: { rank_by: 'env_score' }, policy, ref, seed: 1 });
  const b = fixedBatch(changeRow);
  const stats = tr.step(b.queries, b.responses, b.scores, { riskCount });
  return { w: weightsOf(policy), stats };
}

test('unselected episodes contribute exactly zero gradient', () => {
  // riskCount 3 with env_score ranking keeps rows 0, 1, 2 (the lowest scores)
  const base = oneStep(null, 3);
  assert.equal(base.stats['risk/kept'], 3);
  const changedUnselected = oneStep(6, 3);
  assert.equal(maxAbsDiff(base.w, changedUnselected.w), 0, 'changing an unselected response must not change the update');
  const changedSelected = oneStep(1, 3);
  assert.ok(maxAbsDiff(base.w, changedSelected.w) > 1e-6, 'changing a selected response must change the update');
  // and RLHF (all rows) does see row 6
  assert.ok(maxAbsDiff(oneStep(null, 8).w, oneStep(6, 8).w) > 1e-6);
});

test('ties at the quantile are kept; minibatches without kept tokens are skipped', () => {
  const { policy, ref } = toyModels(5);
  const tr = new PPOTrainer({ config: { batch_size: 8, mini_batch_size: 2, learning_rate: 1e-2 }, risk: { rank_by: 'env_score' }, policy, ref, seed: 1 });
  const b = fixedBatch(null);
  const tied = [0, 0, 0, 1, 1, 1, 1, 1];
  const s1 = tr.step(b.queries, b.responses, tied, { riskCount: 2 });
  assert.equal(s1['risk/kept'], 3); // q = 0, rows 0-2 all <= q
  // one kept row, 4 minibatches of 2 per epoch: 3 empty each epoch x 4 epochs
  const s2 = tr.step(b.queries, b.responses, b.scores, { riskCount: 1 });
  assert.equal(s2['risk/kept'], 1);
  assert.equal(s2['ppo/skipped_minibatches'], 12);
  assert.equal(s2['ppo/optimizer_steps'], 4);
  for (const [k, v] of Object.entries(s2)) if (k !== 'risk/quantile') assert.ok(Number.isFinite(v), `${k} = ${v}`);
  for (const x of weightsOf(policy).values()) assert.ok(x.every(Number.isFinite));
});

test('PPOTrainer.step leaks no tensors', () => {
  const { policy, ref } = toyModels(5);
  const tr = new PPOTrainer({ config: { batch_size: 8, mini_batch_size: 4 }, policy, ref, seed: 1 });
  const b = fixedBatch(null);
  tr.step(b.queries, b.responses, b.scores, { riskCount: 3 }); // creates the Adam moments
  const n0 = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) tr.step(b.queries, b.responses, b.scores, { riskCount: 3 });
  assert.equal(tf.memory().numTensors, n0);
});

test('a NaN loss stops before the optimizer step', () => {
  const { policy, ref } = toyModels(5);
  const tr = new PPOTrainer({ config: { batch_size: 8, mini_batch_size: 8 }, policy, ref, seed: 1 });
  policy.namedWeights().get('v_head.summary.bias')!.assign(tf.tensor1d([NaN]));
  const w0 = weightsOf(policy);
  const b = fixedBatch(null);
  assert.throws(() => tr.step(b.queries, b.responses, b.scores), (e: unknown) => e instanceof PPONumericError && /loss is NaN/.test(e.message));
  const w1 = weightsOf(policy);
  w0.delete('v_head.summary.bias');
  w1.delete('v_head.summary.bias');
  assert.equal(maxAbsDiff(w0, w1), 0);
  assert.throws(() => tr.step(b.queries, b.responses, [NaN, 0, 0, 0, 0, 0, 0, 0]), /score of episode 0 is NaN/);
});

test('resume after an interruption equals an uninterrupted run; NaN keeps the last good checkpoint', async () => {
  const cfg = toyTrainConfig({ steps: 4, B: 8, mbs: 4 });
  cfg.train.save_every = 1;
  const prompts = toyPrompts(16);
  const deps = () => ({ ...toyModels(4), tokenizer: toyTokenizer(), rewardModel: new ToyRewardModel(), trainPrompts: prompts, progress: false, algo: 'ra-rlhf' as const });
  // 16 prompts / B 8 = 2 batches per epoch: 4 steps cross an epoch boundary (reshuffle)
  cfg.risk = { ...cfg.risk, n: 0, alpha: 0.5 };

  const dirA = tmp();
  const dA = deps();
  const afterStep2 = new Map<number, Map<string, Float32Array>>();
  const a = await trainPPO(cfg, { ...dA, outDir: dirA, onStep: (r) => void afterStep2.set(r.step, weightsOf(dA.policy)) });
  const wA = weightsOf(dA.policy);

  const dirB = tmp();
  let calls = 0;
  const b1 = await trainPPO(cfg, { ...deps(), outDir: dirB, shouldStop: () => ++calls === 2 });
  assert.equal(b1.interrupted, true);
  assert.equal(b1.steps.length, 2);
  const dB = deps();
  const b2 = await trainPPO(cfg, { ...dB, outDir: dirB, resume: true });
  assert.equal(b2.interrupted, false);
  assert.equal(maxAbsDiff(wA, weightsOf(dB.policy)), 0, 'resumed weights differ from the uninterrupted run');
  const strip = (lines: string) => lines.split('\n').filter(Boolean).map((l) => Object.entries(JSON.parse(l)).filter(([k]) => !k.startsWith('time/') && !k.startsWith('memory/') && k !== 'seconds'));
  assert.deepEqual(strip(fs.readFileSync(path.join(dirB, 'metrics.jsonl'), 'utf8')), strip(fs.readFileSync(path.join(dirA, 'metrics.jsonl'), 'utf8')));
  assert.equal(a.steps.length, 4);
  assert.ok(fs.existsSync(path.join(dirB, 'checkpoints', 'final', 'model.safetensors')));
  assert.equal(JSON.parse(fs.readFileSync(path.join(dirB, 'summary.json'), 'utf8')).steps_done, 4);

  // NaN scores at step 2's reward call: the run stops; checkpoints/latest is the state after step 2.
  // Reward calls: step 0 responses (1), its prompts alone (2, RA-RLHF diagnostics), step 1 (3, 4);
  // every prompt is scored by then (2 batches of 8 of 16), so step 2's responses are call 5.
  const dirC = tmp();
  const dC = deps();
  dC.rewardModel.nanOnCall = 5;
  await assert.rejects(trainPPO(cfg, { ...dC, outDir: dirC }), /reward model returned NaN.*last good checkpoint is .*latest/s);
  const latest = path.join(dirC, 'checkpoints', 'latest');
  const ts = loadTrainerState(latest)!;
  assert.equal((ts.state as { loop: { step: number } }).loop.step, 2);
  const ck = loadCheckpoint(latest);
  const saved = new Map([...ck.weights].map(([n, t]) => [n, t.dataSync() as Float32Array]));
  assert.equal(maxAbsDiff(afterStep2.get(1)!, saved), 0);
  assert.ok(!fs.existsSync(path.join(dirC, 'checkpoints', 'final')));
});
