import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ppoBudget, reproConfig } from '../lib/repro/config';
import { trainPromptIds } from '../lib/data/task-texts';
import { getTaskSpec, loadTask } from '../lib/data/tasks';

const DATA = path.resolve(__dirname, '../../shared/data');

test('--train-prompts scales M (one pass) and the warm start n by the paper ratio 30/194', () => {
  const spec = getTaskSpec('imdb-mini');
  const base = reproConfig(spec);
  assert.equal(base.trainPrompts, 960);
  assert.equal(base.ppo.steps, 30);
  assert.equal(base.risk.warmStart, 5);
  // the default and an explicit 960 are the same config
  assert.deepEqual(reproConfig(spec, { trainPrompts: 960 }), base);

  const paper = reproConfig(spec, { trainPrompts: 6208 }); // 194 x 32: the paper's M
  assert.equal(paper.trainPrompts, 6208);
  assert.equal(paper.ppo.steps, 194);
  assert.equal(paper.risk.warmStart, 30); // round(30/194 * 194)
  assert.deepEqual(ppoBudget(spec, 2880), { trainPrompts: 2880, M: 90, n: 14 }); // round(13.92)
  assert.deepEqual(ppoBudget(spec, 2900), { trainPrompts: 2900, M: 90, n: 14 }); // a partial batch is dropped
  assert.deepEqual(ppoBudget(spec, 64), { trainPrompts: 64, M: 2, n: 0 });
  // the mini's own n follows the same rule: round(30/194 * 30) = 5; jigsaw-mini: round(30/288 * 30) = 3
  assert.equal(Math.round((30 / 194) * 30), spec.risk.n);
  assert.deepEqual(ppoBudget(getTaskSpec('jigsaw-mini'), 1920), { trainPrompts: 1920, M: 60, n: 6 });

  // everything else identical, in particular all that the shared stage cache keys hash
  for (const k of ['model', 'tokenizer', 'pretrain', 'sft', 'reward', 'eval'] as const) assert.deepEqual(paper[k], base[k], k);
  assert.deepEqual({ ...paper.ppo, steps: 0 }, { ...base.ppo, steps: 0 });
  assert.deepEqual({ ...paper.risk, warmStart: 0 }, { ...base.risk, warmStart: 0 });

  assert.throws(() => ppoBudget(spec, 31), /trainPrompts must be an integer >= the batch size 32, got 31/);
  assert.throws(() => ppoBudget(spec, 100.5), /got 100.5/);
});

test('trainPromptIds: a larger sample follows loadTask\'s recipe (its first 960 are the default prompts)', { skip: !fs.existsSync(path.join(DATA, 'imdb')) && 'no IMDB data' }, async () => {
  // Character "tokenizer": the prompt is the first 16 characters, enough to identify the review order.
  const tok = { encode: (t: string) => Array.from(t, (c) => c.codePointAt(0)!), decode: (ids: number[]) => String.fromCodePoint(...ids) };
  const task = await loadTask('imdb-mini', { dataDir: DATA, tokenizer: tok });
  const def = task.train.map((p) => p.queryIds);
  assert.equal(def.length, 960);
  assert.deepEqual(await trainPromptIds(task, 960, tok, DATA), def);
  const more = await trainPromptIds(task, 992, tok, DATA);
  assert.equal(more.length, 992);
  // seededSample = seeded shuffle then slice, so the 960-sample is a prefix of the 992-sample
  assert.deepEqual(more.slice(0, 960), def);
  // Other sizes are IMDB-only (jigsaw-mini's train set is a 70/30 mix built from its size): a clear error.
  const jig = { ...task, spec: getTaskSpec('jigsaw-mini') };
  await assert.rejects(trainPromptIds(jig, 992, tok, DATA), /supported for imdb-mini only, got 992 for jigsaw-mini/);
});
