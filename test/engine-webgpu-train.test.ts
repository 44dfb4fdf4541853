/**
 * Training on the webgpu backend equals training on wasm: seeded generation (the rollout), one PPO
 * step (PPOTrainer.step on a fixed batch: policy + value head, reference model, KL, whitening,
 * minibatches, Adam) and SFT steps (trainSFT: dropout, grad clipping, AdamW), all on the toy task of
 * test/rl-fixtures.ts. Weights after the step must agree to 1e-4.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf, Rng } from '../lib/engine';
import { generate } from '../lib/models/generate';
import { GPT2LMHeadModel } from '../lib/models/gpt2';
import { PPOTrainer } from '../lib/rl/ppo-trainer';
import { trainSFT } from '../lib/rl/sft';
import { LETTERS, maxAbsDiff, tinyConfig, toyModels, toyPrompts, toyTokenizer, weightsOf } from './rl-fixtures';
import { needWebGPU, onBoth, setupWebGPU } from './engine-webgpu-helpers';

before(async () => {
  await setupWebGPU();
});

test('webgpu = wasm: seeded sampling and greedy decoding give the same responses', async (t) => {
  if (!needWebGPU(t)) return;
  const { ref, gpu } = await onBoth(() => {
    const m = new GPT2LMHeadModel(tinyConfig, { seed: 3 });
    const queries = toyPrompts(6, 2);
    const sampled = generate(m, queries, { maxNewTokens: 6, rng: new Rng(5), eosTokenId: 10 }).responses;
    const greedy = generate(m, queries, { maxNewTokens: 6, greedy: true, eosTokenId: 10 }).responses;
    m.dispose();
    return { sampled, greedy };
  });
  assert.deepEqual(gpu, ref);
  assert.ok(new Set(ref.sampled.flat()).size > 3, 'sampling is not degenerate');
});

test('webgpu = wasm: one PPO step (2 minibatches, 4 PPO epochs, RA-RLHF selection) to 1e-4', async (t) => {
  if (!needWebGPU(t)) return;
  const { ref, gpu } = await onBoth(() => {
    const { policy, ref: refModel } = toyModels(5);
    // lr 1e-3: the key bias of c_attn has a true gradient of exactly 0 (softmax ignores a shift of
    // all keys), so its gradient is rounding noise that Adam scales up to lr-sized steps; at 1e-2
    // even wasm with and without the native kernels differ by 2e-4 there (measured), at 1e-3 all
    // backends agree to ~1.2e-5.
    const tr = new PPOTrainer({ config: { batch_size: 8, mini_batch_size: 4, ppo_epochs: 4, learning_rate: 1e-3 }, risk: { rank_by: 'env_score' }, policy, ref: refModel, seed: 1 });
    const queries = toyPrompts(8, 11);
    const responses = queries.map((_, i) => [i % 10, (i + 3) % 10, (i + 5) % 10]);
    const scores = queries.map((_, i) => i / 8);
    const before = weightsOf(policy);
    const stats = tr.step(queries, responses, scores, { riskCount: 6 });
    const after = weightsOf(policy);
    tr.dispose();
    policy.dispose();
    refModel.dispose();
    return { moved: maxAbsDiff(before, after), after, stats };
  });
  assert.ok(ref.moved > 1e-4, `the step changes the weights (${ref.moved})`);
  const d = maxAbsDiff(ref.after, gpu.after);
  t.diagnostic(`PPO step: max |wasm - webgpu| over the weights = ${d.toExponential(2)}`);
  assert.ok(d < 1e-4, `weights after the step: max |wasm - webgpu| = ${d}`);
  for (const k of ['ppo/loss/total', 'ppo/loss/value', 'objective/kl', 'ppo/policy/approxkl', 'risk/kept']) {
    assert.ok(k in ref.stats, `stat ${k}`);
    assert.ok(Math.abs(ref.stats[k] - gpu.stats[k]) < 1e-4 * Math.max(1, Math.abs(ref.stats[k])), `${k}: wasm ${ref.stats[k]} webgpu ${gpu.stats[k]}`);
  }
});

test('webgpu = wasm: SFT steps (dropout, clipping, AdamW with decay) to 1e-4', async (t) => {
  if (!needWebGPU(t)) return;
  const rng = new Rng(3);
  const texts = Array.from({ length: 6 }, () => Array.from({ length: 3 + rng.int(6) }, () => LETTERS[rng.int(10)]).join(''));
  // lr 1e-3 as in the PPO test: Adam turns the zero-gradient key bias's rounding noise into lr-sized steps
  const opts = { learning_rate: 1e-3, batch_size: 2, grad_accum: 1, epochs: 1, max_seq_length: 10, weight_decay: 0.01, max_grad_norm: 1.0, eval_fraction: 0, seed: 5, save_every: null };
  const { ref, gpu } = await onBoth(async () => {
    const model = new GPT2LMHeadModel(tinyConfig, { seed: 9 });
    const res = await trainSFT(opts, { model, tokenizer: toyTokenizer(), texts, progress: false, outDir: null });
    const w = new Map([...model.namedWeights()].map(([n, v]) => [n, Float32Array.from(v.dataSync())]));
    model.dispose();
    return { w, losses: res.steps.map((s) => s.loss) };
  });
  assert.equal(ref.losses.length, 3);
  ref.losses.forEach((l, i) => assert.ok(Math.abs(l - gpu.losses[i]) < 1e-4, `loss at step ${i}: wasm ${l} webgpu ${gpu.losses[i]}`));
  const d = maxAbsDiff(ref.w, gpu.w);
  t.diagnostic(`SFT (3 steps): max |wasm - webgpu| over the weights = ${d.toExponential(2)}`);
  assert.ok(d < 1e-4, `weights after SFT: max |wasm - webgpu| = ${d}`);
  void tf;
});
