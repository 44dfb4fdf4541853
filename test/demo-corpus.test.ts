import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateCorpus, splitCorpus, lexiconScore, tailCount } from '../lib/demo/corpus';

test('corpus is deterministic per seed and differs across seeds', () => {
  const a = generateCorpus({ seed: 7, nReviews: 300, tailFraction: 0.1 });
  const b = generateCorpus({ seed: 7, nReviews: 300, tailFraction: 0.1 });
  const c = generateCorpus({ seed: 8, nReviews: 300, tailFraction: 0.1 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.map((r) => r.text), c.map((r) => r.text));
});

test('corpus has exactly the requested tail fraction, all hostile reviews negative', () => {
  for (const [n, f] of [[300, 0.1], [1000, 0.25], [57, 0.2], [40, 0]] as const) {
    const rs = generateCorpus({ seed: 3, nReviews: n, tailFraction: f });
    assert.equal(rs.length, n);
    const tail = rs.filter((r) => r.hostile);
    assert.equal(tail.length, Math.round(n * f), `n=${n} f=${f}`);
    assert.ok(tail.every((r) => r.label === 0));
  }
  assert.equal(tailCount(57, 0.2), 11);
});

test('hostile prompts are strongly negative by the AFINN lexicon, ordinary prompts are not', () => {
  const rs = generateCorpus({ seed: 11, nReviews: 500, tailFraction: 0.2 });
  for (const r of rs) {
    if (r.hostile) assert.ok(lexiconScore(r.prompt) <= -6, `hostile prompt "${r.prompt}" scores ${lexiconScore(r.prompt)}`);
    else assert.equal(lexiconScore(r.prompt), 0, `neutral prompt "${r.prompt}"`);
    assert.ok(r.text.startsWith(r.prompt + ' '));
  }
  // Labels follow the body polarity; the lexicon agrees on the large majority (mixing keeps it < 100%).
  const agree = rs.filter((r) => (r.lexiconScore > 0) === (r.label === 1)).length / rs.length;
  assert.ok(agree > 0.85 && agree < 1, `lexicon/label agreement ${agree}`);
  const nonTail = rs.filter((r) => !r.hostile);
  const pos = nonTail.filter((r) => r.label === 1).length / nonTail.length;
  assert.ok(Math.abs(pos - 0.5) < 0.01);
});

test('lexiconScore sums AFINN values (hand-computed)', () => {
  // good +3, awful -3, superb +5, unknown words 0
  assert.equal(lexiconScore('Good movie, awful ending, superb cast.'), 5);
  assert.equal(lexiconScore('the film'), 0);
});

test('splitCorpus is stratified and deterministic', () => {
  const rs = generateCorpus({ seed: 5, nReviews: 1000, tailFraction: 0.1 });
  const s1 = splitCorpus(rs, 0.2, 1);
  const s2 = splitCorpus(rs, 0.2, 1);
  assert.deepEqual(s1, s2);
  assert.equal(s1.train.length + s1.test.length, 1000);
  assert.equal(s1.test.filter((r) => r.hostile).length, 20);
  assert.equal(new Set([...s1.train, ...s1.test]).size, 1000);
  assert.throws(() => splitCorpus(rs, 1, 1), /testFraction/);
  assert.throws(() => generateCorpus({ seed: 1, nReviews: 10, tailFraction: 1.5 }), /tailFraction/);
});
