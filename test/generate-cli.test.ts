import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initEngine } from '../lib/engine';
import { GPT2LMHeadModel } from '../lib/models/gpt2';
import { trainByteLevelBPE } from '../lib/text/bpe-trainer';
import { generateCorpus } from '../lib/demo/corpus';
import { saveLM } from '../lib/pipeline/adapters';
import { trainSentimentReward } from '../lib/pipeline/reward-adapter';
import { readGenerations, numberColumn, stringColumn } from '../lib/eval/generations';
import { KitRewardModel } from '../lib/rewards/trained';
import { run, parseModelArg } from '../lib/cli/commands/generate';

const DATA = path.resolve(__dirname, '../../shared/data');

test('parseModelArg splits NAME=dir and rejects bad names', () => {
  assert.deepEqual(parseModelArg('rlhf=runs/x/checkpoints/final'), { name: 'rlhf', dir: 'runs/x/checkpoints/final' });
  assert.deepEqual(parseModelArg('a=b=c'), { name: 'a', dir: 'b=c' });
  assert.throws(() => parseModelArg('nodir'), /NAME=<checkpoint dir>/);
  assert.throws(() => parseModelArg('bad name=x'), /must match/);
});

test('generate writes the generations table columns, k samples, and rewards of prompt+response', { skip: !fs.existsSync(path.join(DATA, 'imdb')) && 'no IMDB data' }, async () => {
  await initEngine({ quiet: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-gen-'));
  const corpus = generateCorpus({ seed: 1, nReviews: 300, tailFraction: 0.1 });
  const { tokenizer } = trainByteLevelBPE(corpus.map((r) => r.text), { vocabSize: 300 });
  for (const [name, seed] of [['a', 1], ['b', 2]] as const) {
    const m = new GPT2LMHeadModel({ vocab_size: tokenizer.vocabSize, n_positions: 64, n_embd: 16, n_layer: 1, n_head: 2, bos_token_id: tokenizer.eosTokenId, eos_token_id: tokenizer.eosTokenId }, { seed });
    saveLM(m, tokenizer, path.join(dir, name));
    m.dispose();
  }
  const rm = await trainSentimentReward(corpus.map((r) => ({ text: r.text, label: r.label })), corpus.slice(0, 50), { seed: 0, epochs: 2, hashBits: 10 });
  await rm.model.save(path.join(dir, 'reward'));
  rm.model.dispose();

  const out = path.join(dir, 'gen.csv');
  await run(['--task', 'imdb-mini', '--data-dir', DATA, '--model', `A=${path.join(dir, 'a')}`, '--model', `B=${path.join(dir, 'b')}`,
    '--reward', path.join(dir, 'reward'), '--n-prompts', '3', '--samples', '2', '--max-new-tokens', '6', '--seed', '5', '--out', out, '--quiet']);
  const t = readGenerations(out);
  assert.deepEqual(t.columns, ['prompt', 'class', 'prompt_score', 'sample', 'A_response', 'A_reward', 'B_response', 'B_reward']);
  assert.equal(t.rows.length, 6);
  assert.deepEqual(numberColumn(t, 'sample'), [0, 1, 0, 1, 0, 1]);
  const prompts = stringColumn(t, 'prompt');
  assert.equal(prompts[0], prompts[1]);
  assert.ok(numberColumn(t, 'class').every((c) => c === 0 || c === 1));
  // imdb-mini prompts are the first 16 tokens of a review (under the model's tokenizer)
  assert.ok(prompts.every((p) => tokenizer.encode(p).length <= 16 && p.length > 0));
  // rewards are the reward model's score of prompt + response; prompt_score of the prompt alone
  const reward = await KitRewardModel.load(path.join(dir, 'reward'));
  const respA = stringColumn(t, 'A_response');
  const expectA = await reward.score(prompts.map((p, i) => p + respA[i]));
  numberColumn(t, 'A_reward').forEach((r, i) => assert.ok(Math.abs(r - expectA[i]) < 1e-5, `row ${i}: ${r} vs ${expectA[i]}`));
  const expectP = await reward.score(prompts);
  numberColumn(t, 'prompt_score').forEach((r, i) => assert.ok(Math.abs(r - expectP[i]) < 1e-5));
  // each model samples its own responses (different weights, same seed)
  assert.notDeepEqual(respA, stringColumn(t, 'B_response'));
  reward.dispose();

  await assert.rejects(run(['--task', 'imdb-mini', '--model', 'A', '--out', out]), /NAME=<checkpoint dir>/);
  await assert.rejects(run(['--task', 'nope', '--model', `A=${dir}`, '--out', out]), /unknown task/);
  fs.rmSync(dir, { recursive: true, force: true });
});
