/**
 * Toy RLHF task for the rl tests: an 11-token vocabulary (letters a..j + EOS), a tiny GPT-2 policy,
 * and a reward with a tail. Prompts start with a marker: 'e' (easy, 75%) or 'h' (hard, 25%).
 *   reward = share of response tokens equal to the target  - (hard ? 1 : 0)
 *   target = 'a' after an easy marker, 'b' after a hard one.
 * The hard prompts are the worst episodes, and what they need ('b') differs from what the bulk of
 * the batch rewards ('a'): the mean objective mostly teaches 'a'; CVaR selection teaches 'b'.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf } from '../lib/engine';
import { GPT2LMHeadModel, GPT2WithValueHead } from '../lib/models/gpt2';
import type { RewardModel } from '../lib/rewards/types';
import { GPT2Tokenizer } from '../lib/text/gpt2-tokenizer';
import { Rng } from '../lib/engine/rng';
import { TRAIN_DEFAULTS, TrainConfig } from '../lib/rl/config';

export const LETTERS = 'abcdefghij';
export const EOS = 10;
export const tinyConfig = { preset: 'tiny', vocab_size: 11, eos_token_id: EOS, bos_token_id: EOS, n_embd: 32, n_layer: 1, n_head: 2, n_positions: 32, resid_pdrop: 0.1, embd_pdrop: 0.1, attn_pdrop: 0.1 };

export function toyTokenizer(): GPT2Tokenizer {
  const vocab = new Map<string, number>([...LETTERS].map((c, i) => [c, i]));
  vocab.set('<|endoftext|>', EOS);
  return new GPT2Tokenizer(vocab, []);
}

export function toyModels(seed = 1): { policy: GPT2WithValueHead; ref: GPT2LMHeadModel } {
  const lm = new GPT2LMHeadModel(tinyConfig, { seed });
  const policy = new GPT2WithValueHead(lm, { seed: seed + 100 });
  const ref = new GPT2LMHeadModel(tinyConfig, { seed }); // same init = frozen copy of the initial policy
  return { policy, ref };
}

/** Prompt ids: marker + 3 letters from c..j. Every 4th prompt is hard. */
export function toyPrompts(n: number, seed = 7): number[][] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, (_, i) => [i % 4 === 3 ? 7 /* h */ : 4 /* e */, ...[0, 1, 2].map(() => 2 + rng.int(8))]);
}

export function toyReward(text: string, promptLen = 4): number {
  const hard = text[0] === 'h';
  const resp = text.slice(promptLen).replace(/<\|endoftext\|>/g, '#');
  if (resp.length === 0) return hard ? -1 : 0;
  const target = hard ? 'b' : 'a';
  return [...resp].filter((c) => c === target).length / resp.length - (hard ? 1 : 0);
}

export class ToyRewardModel implements RewardModel {
  name = 'toy-target-share';
  calls = 0;
  /** Return NaN on this call (1-based) to test the numeric guard. */
  nanOnCall: number | null = null;
  async score(texts: string[]): Promise<number[]> {
    this.calls++;
    if (this.nanOnCall === this.calls) return texts.map(() => NaN);
    return texts.map((t) => toyReward(t));
  }
}

export function toyTrainConfig(over: { steps?: number; B?: number; mbs?: number; lr?: number; alpha?: number; n?: number; seed?: number } = {}): TrainConfig {
  const c = JSON.parse(JSON.stringify(TRAIN_DEFAULTS)) as TrainConfig;
  c.task = 'imdb-mini';
  c.seed = over.seed ?? 0;
  c.generation = { max_new_tokens: 6, min_length: 0, min_new_tokens: 0, top_k: 0, top_p: 1, temperature: 1, chunk_size: null };
  c.ppo = { ...c.ppo, learning_rate: over.lr ?? 3e-3, batch_size: over.B ?? 16, mini_batch_size: over.mbs ?? 16, init_kl_coef: 0.05 };
  c.risk = { ...c.risk, alpha: over.alpha ?? 0.25, n: over.n ?? 2, rho: 0.6, M: null };
  c.train = { steps: over.steps ?? 4, epochs: 1, save_every: 1000, rollout_dropout: false, max_prompts: null, prompts_file: null };
  return c;
}

/** Greedy-free evaluation: mean reward per prompt class with seeded sampling. */
export function evalToy(policy: GPT2WithValueHead, prompts: number[][], seed: number, sample: (p: GPT2WithValueHead, q: number[][], rng: Rng) => number[][]): { easy: number; hard: number; all: number[] } {
  const rng = new Rng(seed);
  const responses = sample(policy, prompts, rng);
  const tok = toyTokenizer();
  const rewards = prompts.map((q, i) => toyReward(tok.decode(q) + tok.decode(responses[i])));
  const easy = rewards.filter((_, i) => prompts[i][0] === 4);
  const hard = rewards.filter((_, i) => prompts[i][0] === 7);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return { easy: mean(easy), hard: mean(hard), all: rewards };
}

export function weightsOf(policy: GPT2WithValueHead): Map<string, Float32Array> {
  return new Map([...policy.namedWeights()].map(([n, v]) => [n, v.dataSync() as Float32Array]));
}

export function maxAbsDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  let m = 0;
  for (const [n, x] of a) {
    const y = b.get(n)!;
    for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  }
  return m;
}

export { tf };

/**
 * Assert that a replayed run equals the run it replays: the same per-step metrics (wall-clock and
 * memory fields aside) and byte-identical final weights.
 */
export function assertSameRun(replay: string, original: string): void {
  const metrics = (d: string) => fs.readFileSync(path.join(d, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => {
    const rec = JSON.parse(l) as Record<string, number>;
    return Object.fromEntries(Object.entries(rec).filter(([k]) => !k.startsWith('time') && !k.startsWith('memory') && k !== 'seconds'));
  });
  assert.deepEqual(metrics(replay), metrics(original));
  const weights = (d: string) => fs.readFileSync(path.join(d, 'checkpoints', 'final', 'model.safetensors'));
  assert.deepEqual(weights(replay), weights(original));
}
