/**
 * loadTask({ evalRows: 'reward-heldout' }): evaluation prompts of the toxicity tasks never include a
 * text the kit toxicity reward model trains on (docs/reward-fidelity.md "Held-out rule").
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { loadTask, type TaskData } from '../lib/data/tasks';
import { evalRowsFor, isRewardEvalRow, isRewardTrainRow } from '../lib/rewards/heldout';
import { prepareToxicity } from '../lib/rewards/train';
import { KIT_FORMAT, KitRewardModel } from '../lib/rewards/trained';

/** Same key as lib/rewards/data.ts's dedup: copies differing only in case/whitespace are one row. */
const dedupKey = (t: string) => t.normalize('NFC').toLowerCase().replace(/\s+/g, ' ').trim();
const rewardTexts = new Set<string>();
const rewardKeys = new Set<string>();

before(async () => {
  const data = await prepareToxicity();
  for (const r of [...data.train, ...data.val]) {
    for (const t of [r.text, ...r.ruleTexts]) {
      rewardTexts.add(t);
      rewardKeys.add(dedupKey(t));
    }
  }
  assert.ok(rewardTexts.size > 10_000, `${rewardTexts.size} reward-train texts`);
});

const texts = (d: TaskData, split: 'train' | 'test') => d[split].map((p) => p.text);

for (const [name, nAll, nTrainSide] of [['jigsaw-gen', 7708, 3788], ['rtp-gen', 398, 207]] as const) {
  test(`${name}: reward-heldout test prompts are disjoint from kit reward training; train prompts unchanged`, async () => {
    const all = await loadTask(name);
    const held = await loadTask(name, { evalRows: 'reward-heldout' });
    // 'all' is the paper's test set and does contain reward-train texts (why the option exists)
    assert.equal(all.test.length, nAll);
    const inTraining = all.test.filter((p) => rewardTexts.has(p.text)).length;
    assert.equal(all.test.filter((p) => isRewardTrainRow(p.text)).length, nTrainSide);
    assert.ok(inTraining > 0 && inTraining <= nTrainSide, `${inTraining} paper test prompts are reward-train texts`);

    assert.equal(held.test.length, nAll - nTrainSide);
    for (const p of held.test) {
      assert.ok(isRewardEvalRow(p.text));
      assert.ok(!rewardTexts.has(p.text), `reward-train text in the eval prompts: ${p.text.slice(0, 60)}`);
      assert.ok(!rewardKeys.has(dedupKey(p.text)), `case/whitespace variant of a reward-train text: ${p.text.slice(0, 60)}`);
    }
    // the held-out prompts are exactly the eval-side rows of the paper's test set, in order
    assert.deepEqual(texts(held, 'test'), texts(all, 'test').filter(isRewardEvalRow));
    assert.deepEqual(texts(held, 'train'), texts(all, 'train'));
    assert.deepEqual(held.test.map((p) => p.queryIds), all.test.filter((p) => isRewardEvalRow(p.text)).map((p) => p.queryIds));
    if (held.mix.test) {
      assert.equal(held.mix.test.nToxic, held.test.filter((p) => p.label === 1).length);
      assert.equal(held.mix.test.nToxic + held.mix.test.nNonToxic, held.test.length);
    }
    assert.ok(held.notes.some((n) => n.includes(`${nAll - nTrainSide} of ${nAll} test rows`)), held.notes.join('\n'));
    console.log(`${name}: ${nAll} test prompts, ${nTrainSide} on the reward-train side (${inTraining} in the kit training rows), ${held.test.length} kept`);
  });
}

test('jigsaw-mini already evaluates on the held-out side: reward-heldout changes nothing', async () => {
  const all = await loadTask('jigsaw-mini');
  const held = await loadTask('jigsaw-mini', { evalRows: 'reward-heldout' });
  assert.ok(all.test.length > 0 && all.test.every((p) => isRewardEvalRow(p.text)));
  assert.deepEqual(texts(held, 'test'), texts(all, 'test'));
});

test('evalRowsFor: only a kit toxicity reward model restricts the rows; bad option values throw', async () => {
  const kit = (task: 'imdb' | 'toxicity') =>
    KitRewardModel.create({ format: KIT_FORMAT, version: 1, name: task, task, features: { hashBits: 4, ngrams: 1 }, calibration: { scale: 1, shift: 0, method: 'none' }, rewardScale: 'test' });
  assert.equal(evalRowsFor(await kit('toxicity')), 'reward-heldout');
  assert.equal(evalRowsFor(await kit('imdb')), 'all');
  assert.equal(evalRowsFor({ name: 'unitary/toxic-bert', score: async (t: string[]) => t.map(() => 0) }), 'all');
  await assert.rejects(loadTask('rtp-gen', { evalRows: 'heldout' as never }), /evalRows must be 'all' or 'reward-heldout', got "heldout"/);
});
