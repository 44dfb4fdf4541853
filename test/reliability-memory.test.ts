/**
 * Memory per step: every metrics.jsonl line carries memory/rss_mb and memory/num_tensors, and the
 * live tensor count stays flat over many small PPO and SFT steps (a leak of one tensor per step
 * would show as a rising count). SFT numbered checkpoints keep only the newest keep_last.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initEngine, Rng } from '../lib/engine';
import { GPT2LMHeadModel } from '../lib/models/gpt2';
import { trainPPO } from '../lib/rl/train-loop';
import { trainSFT } from '../lib/rl/sft';
import { LETTERS, ToyRewardModel, tinyConfig, toyModels, toyPrompts, toyTokenizer, toyTrainConfig } from './rl-fixtures';
import { tmpDir } from './reliability-fixtures';

before(async () => {
  await initEngine({ quiet: true });
});

const lines = (dir: string) => fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);

function assertFlat(rows: Record<string, number>[], what: string): void {
  for (const r of rows) assert.ok(r['memory/rss_mb'] > 0 && Number.isInteger(r['memory/num_tensors']), `${what}: memory fields ${JSON.stringify(r)}`);
  const counts = rows.slice(1).map((r) => r['memory/num_tensors']); // step 0 may create optimizer moments
  assert.deepEqual(new Set(counts).size, 1, `${what}: live tensors per step ${counts.join(', ')}`);
}

test('PPO: memory/* logged per step; live tensors flat over 16 steps', async () => {
  const cfg = toyTrainConfig({ steps: 16, B: 4, mbs: 4 });
  cfg.generation.max_new_tokens = 3;
  const dir = tmpDir('mem-ppo');
  await trainPPO(cfg, { ...toyModels(2), tokenizer: toyTokenizer(), rewardModel: new ToyRewardModel(), trainPrompts: toyPrompts(16), progress: false, algo: 'rlhf', outDir: dir });
  const rows = lines(dir);
  assert.equal(rows.length, 16);
  assertFlat(rows, 'ppo');
});

test('SFT: live tensors flat over 24 steps; numbered checkpoints pruned to keep_last', async () => {
  const rng = new Rng(1);
  const texts = Array.from({ length: 12 }, () => Array.from({ length: 4 + rng.int(6) }, () => LETTERS[rng.int(10)]).join(''));
  const dir = tmpDir('mem-sft');
  const opts = { learning_rate: 1e-3, batch_size: 4, grad_accum: 1, epochs: 8, max_seq_length: 10, weight_decay: 0.01, max_grad_norm: 1, eval_fraction: 0, seed: 2, save_every: 5, keep_last: 2 };
  await trainSFT(opts, { model: new GPT2LMHeadModel(tinyConfig, { seed: 3 }), tokenizer: toyTokenizer(), texts, outDir: dir, progress: false });
  const rows = lines(dir);
  assert.equal(rows.length, 24);
  assertFlat(rows, 'sft');
  const numbered = fs.readdirSync(path.join(dir, 'checkpoints')).filter((e) => e.startsWith('checkpoint-')).sort();
  assert.deepEqual(numbered, ['checkpoint-15', 'checkpoint-20']);
});
