import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashHalves } from '../lib/data/split';
import { loadToxicityLabelled, rowIsRewardEval, rowIsRewardTrain } from '../lib/rewards/data';
import { isRewardEvalRow, isRewardTrainRow } from '../lib/rewards/heldout';
import { prepareImdb, prepareToxicity } from '../lib/rewards/train';

test('isRewardTrainRow is side a of lib/data hashHalves and its complement is the eval side', () => {
  const texts = ['a', 'b', 'You are an idiot', 'Thanks for the edit!', '', 'héllo wörld'];
  const { a, b } = hashHalves(texts, (t) => t);
  for (const t of texts) {
    assert.equal(isRewardTrainRow(t), a.includes(t));
    assert.equal(isRewardEvalRow(t), b.includes(t));
  }
  // FNV-1a('a') = 0xe40c292c (even) -> train; FNV-1a('b') = 0xe70c2de5 (odd) -> eval
  assert.equal(isRewardTrainRow('a'), true);
  assert.equal(isRewardTrainRow('b'), false);
  assert.throws(() => isRewardTrainRow(undefined as unknown as string), /expected a string/);
});

test('toxicity: no training text is an evaluation text, in any source', async () => {
  const data = await prepareToxicity();
  const all = await loadToxicityLabelled();
  const evalTexts = new Set<string>();
  for (const r of all) if (rowIsRewardEval(r)) for (const t of r.ruleTexts) evalTexts.add(t);
  let n = 0;
  for (const r of [...data.train, ...data.val]) {
    assert.ok(rowIsRewardTrain(r));
    for (const t of r.ruleTexts) assert.ok(!evalTexts.has(t), `train text is also an eval text: ${t.slice(0, 60)}`);
    assert.ok(!evalTexts.has(r.text));
    n++;
  }
  assert.ok(n > 10_000 && data.heldOut > 10_000, `train ${n}, held out ${data.heldOut}`);
  // the paper's Jigsaw test rows: both sides are populated and every held-out one keeps its reward
  const jig = all.filter((r) => r.source === 'jigsaw_test');
  const held = jig.filter(rowIsRewardEval);
  assert.ok(held.length > 3000 && held.every((r) => r.reward !== undefined));
  // a row merged from variants on both sides of the rule is on neither side
  const mixed = all.filter((r) => !rowIsRewardTrain(r) && !rowIsRewardEval(r));
  assert.equal(mixed.length, data.ambiguous);
  assert.ok(mixed.every((r) => r.ruleTexts.some(isRewardTrainRow) && r.ruleTexts.some(isRewardEvalRow)));
  assert.equal(data.train.length + data.val.length + data.heldOut + data.ambiguous, all.length);
});

test('IMDB: reference texts and test duplicates never reach training', async () => {
  const d = await prepareImdb();
  const refs = new Set(d.reference.map((r) => r.text));
  // every distinct reference text matched at least one train review (IMDB train has duplicates too)
  assert.ok(refs.size === 1544 && d.excluded.reference >= refs.size, `excluded ${d.excluded.reference}`);
  for (const r of [...d.train, ...d.val]) {
    assert.ok(!refs.has(r.text) && !refs.has(r.text.slice(0, 1000)));
  }
  const valSet = new Set(d.val.map((r) => r.text));
  assert.ok(d.train.every((r) => !valSet.has(r.text)));
});
