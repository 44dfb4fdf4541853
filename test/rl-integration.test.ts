/**
 * End-to-end on the toy task with a tail (test/rl-fixtures.ts): 30 PPO steps of RLHF clearly raise
 * the mean reward; RA-RLHF with the same budget raises the worst-decile reward more than RLHF.
 * Measured (wasm, 2 cores, seeds 1-3): RLHF easy-prompt reward 0.08 -> 0.37..0.88 while hard
 * prompts stay near -0.9; RA-RLHF hard prompts -0.92 -> -0.15..-0.34, worst decile -1.0 -> -0.3..-0.6.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, Rng } from '../lib/engine';
import type { GPT2WithValueHead } from '../lib/models/gpt2';
import { generateResponses } from '../lib/rl/rollout';
import { trainPPO } from '../lib/rl/train-loop';
import { ToyRewardModel, evalToy, toyModels, toyPrompts, toyTokenizer, toyTrainConfig } from './rl-fixtures';

before(async () => {
  await initEngine({ quiet: true });
});

const sample = (p: GPT2WithValueHead, q: number[][], rng: Rng) => generateResponses(p, q, { max_new_tokens: 6 }, rng);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const worstDecile = (xs: number[]) => mean(xs.slice().sort((a, b) => a - b).slice(0, Math.ceil(xs.length / 10)));

test('30 PPO steps raise the mean reward; RA-RLHF raises the worst decile more than RLHF', async () => {
  const evalPrompts = toyPrompts(200, 99);
  const out: Record<string, { before: ReturnType<typeof evalToy>; after: ReturnType<typeof evalToy>; trainFirst: number; trainLast: number }> = {};
  for (const algo of ['rlhf', 'ra-rlhf'] as const) {
    const { policy, ref } = toyModels(1);
    const before = evalToy(policy, evalPrompts, 5, sample);
    // alpha .25 matches the 25% hard prompts; warm start n = 2; rho .6 of M = 30
    const cfg = toyTrainConfig({ steps: 30, lr: 3e-3, alpha: 0.25, n: 2 });
    const res = await trainPPO(cfg, { algo, policy, ref, tokenizer: toyTokenizer(), rewardModel: new ToyRewardModel(), trainPrompts: toyPrompts(16 * 30, 7), progress: false });
    const r = res.steps.map((s) => s['env/reward_mean']);
    out[algo] = { before, after: evalToy(policy, evalPrompts, 5, sample), trainFirst: mean(r.slice(0, 5)), trainLast: mean(r.slice(15)) };
  }
  const rl = out['rlhf'];
  const ra = out['ra-rlhf'];
  // RLHF: mean reward over all eval prompts and over the training batches goes up clearly
  assert.ok(mean(rl.after.all) > mean(rl.before.all) + 0.15, `RLHF eval mean ${mean(rl.before.all)} -> ${mean(rl.after.all)}`);
  // batch means are noisy (the hard share per batch varies): compare the first 5 steps with the last 15
  assert.ok(rl.trainLast > rl.trainFirst + 0.1, `RLHF train reward ${rl.trainFirst} -> ${rl.trainLast}`);
  // RA-RLHF: the worst decile (hard prompts) improves more than under RLHF
  const gainRA = worstDecile(ra.after.all) - worstDecile(ra.before.all);
  const gainRL = worstDecile(rl.after.all) - worstDecile(rl.before.all);
  assert.ok(gainRA > gainRL + 0.2, `worst-decile gain RA ${gainRA} vs RLHF ${gainRL}`);
  assert.ok(ra.after.hard > rl.after.hard + 0.3, `hard prompts RA ${ra.after.hard} vs RLHF ${rl.after.hard}`);
});
