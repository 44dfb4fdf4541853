import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cvar, distinctN, emaSmooth, groupMeans, histogram, histogramEdges, meanResponseLength, meanReward, quantileCurve,
  seedStats, stableArgsort, tailReward, whitespaceTokens,
} from '../lib/eval/metrics';

const close = (a: number, b: number, eps = 1e-12) => assert.ok(Math.abs(a - b) <= eps, `${a} != ${b}`);

test('meanReward: plain mean; empty -> NaN', () => {
  assert.equal(meanReward([1, 2, 3, -2]), 1);
  assert.ok(Number.isNaN(meanReward([])));
});

test('tailReward: prompts with prompt score <= threshold (inclusive), counts ties at the threshold', () => {
  // scores -3, -2.5, 0, -2.5 -> tail (<= -2.5) = rows 0,1,3 -> (1 + 2 + 6) / 3 = 3
  const r = tailReward([1, 2, 100, 6], [-3, -2.5, 0, -2.5], -2.5);
  assert.deepEqual(r, { value: 3, n: 3, empty: false });
});

test('tailReward: empty tail gives NaN with a flag, not a crash', () => {
  const r = tailReward([1, 2], [0, 1], -2.5);
  assert.ok(Number.isNaN(r.value));
  assert.equal(r.empty, true);
  assert.equal(r.n, 0);
});

test('stableArgsort keeps input order on ties', () => {
  assert.deepEqual(stableArgsort([2, 1, 2, 1, 0]), [4, 1, 3, 0, 2]);
});

test('quantileCurve: cumulative first floor(q% N) prompts by prompt score, stable on ties, empty -> NaN', () => {
  // sorted by score (stable): idx1(-3,r=-1), idx0(-2.5,r=-2), idx3(-2.5,r=+2), idx2(2,r=0), idx4(4,r=1)
  const scores = [-2.5, -3, 2, -2.5, 4];
  const rewards = [-2, -1, 0, 2, 1];
  const c = quantileCurve(scores, rewards, [19, 20, 40, 60, 80, 100]);
  assert.deepEqual(c.n, [0, 1, 2, 3, 4, 5]);
  assert.ok(Number.isNaN(c.reward[0])); // floor(0.95) = 0 rows
  assert.equal(c.reward[1], -1); // first row only
  assert.equal(c.reward[2], -1.5); // (-1 + -2) / 2: the tie keeps idx0 before idx3
  close(c.reward[3], -1 / 3); // (-1 - 2 + 2) / 3
  close(c.reward[4], -1 / 4); // (-1 - 2 + 2 + 0) / 4
  close(c.reward[5], 0); // all: (-2 - 1 + 0 + 2 + 1) / 5
  assert.equal(quantileCurve(scores, rewards).q.length, 100);
});

test('quantileCurve: floor(q N / 100) is exact where float q/100*N is not (q=29, N=100 -> 29)', () => {
  const N = 100;
  const c = quantileCurve(Array.from({ length: N }, (_, i) => i), Array.from({ length: N }, () => 1));
  assert.equal(c.n[28], 29);
  assert.equal(c.n[99], 100);
});

test('cvar: mean of the worst ceil(alpha N) rewards', () => {
  // N=5, alpha=0.4 -> 2 worst of [3,-1,2,-4,0] = -4, -1 -> -2.5
  assert.deepEqual(cvar([3, -1, 2, -4, 0], 0.4), { value: -2.5, n: 2 });
  // alpha=0.3 -> ceil(1.5) = 2
  assert.equal(cvar([3, -1, 2, -4, 0], 0.3).n, 2);
  // 0.2 * 5000 must be 1000, not 1001 through float noise
  assert.equal(cvar(new Array(5000).fill(0), 0.2).n, 1000);
  assert.equal(cvar([5, 1], 1).value, 3);
  assert.equal(cvar([5, 1], 0.01).n, 1);
  assert.ok(Number.isNaN(cvar([], 0.2).value));
  assert.throws(() => cvar([1], 0), /alpha/);
});

test('histogramEdges/histogram: numpy bins over the shared data range, last bin closed', () => {
  const e = histogramEdges([[0, 1], [3, 2]], 3); // range [0, 3] over both arrays
  assert.deepEqual(e, [0, 1, 2, 3]);
  // 1 goes into [1,2), 3 into the closed last bin [2,3], out-of-range values are dropped
  assert.deepEqual(histogram([0, 0.5, 1, 2.999, 3, -1, 4], e).counts, [2, 1, 2]);
  assert.deepEqual(histogramEdges([[2, 2]], 2), [1.5, 2, 2.5]); // constant data widened by 0.5
  assert.equal(histogramEdges([[0, 1]]).length, 31);
  const h = histogram([0.1, 0.2, 0.3, 0.7], histogramEdges([[0.1, 0.7]], 30));
  assert.equal(h.counts.reduce((a, b) => a + b, 0), 4);
  assert.equal(h.counts[0], 1);
  assert.equal(h.counts[29], 1);
});

test('response length in whitespace tokens and characters', () => {
  assert.deepEqual(whitespaceTokens(' a  b c '), ['a', 'b', 'c']);
  assert.deepEqual(meanResponseLength(['a b', 'c d e f']), { words: 3, chars: 5 });
});

test('seedStats: sample std (n-1) as statistics.stdev; one seed -> std 0 with a note', () => {
  const s = seedStats([1, 2, 3, 4]);
  assert.equal(s.mean, 2.5);
  close(s.std, Math.sqrt(5 / 3)); // sum sq dev = 5, / (4-1)
  const one = seedStats([7]);
  assert.equal(one.std, 0);
  assert.match(one.note ?? '', /single seed/);
});

test('distinctN corpus level: unique n-grams / all n-grams, n-grams do not cross generations', () => {
  // tokens: [a b c] [a b] [a b c d] [a a a] [b c] -> 14 unigrams, unique {a,b,c,d}
  // bigrams ab bc | ab | ab bc cd | aa aa | bc = 9, unique {ab,bc,cd,aa} = 4
  // trigrams abc | - | abc bcd | aaa | - = 4, unique 3
  const d = distinctN(['a b c', 'a b', 'a b c d', 'a a a', 'b c']);
  close(d.corpus[1], 4 / 14);
  close(d.corpus[2], 4 / 9);
  close(d.corpus[3], 3 / 4);
  // per prompt (k=1): unigram ratios 1, 1, 1, 1/3, 1 -> mean 13/15
  close(d.perPrompt[1], (4 + 1 / 3) / 5);
  // trigrams: prompts 2 and 5 have none -> skipped; ratios 1, 1, 1 -> 1
  assert.equal(d.skippedPrompts[3], 2);
  assert.equal(d.perPrompt[3], 1);
  // 'words' denominator (DExperts): unique bigrams 4 / 14 words
  close(distinctN(['a b c', 'a b', 'a b c d', 'a a a', 'b c'], undefined, { denominator: 'words' }).corpus[2], 4 / 14);
});

test('distinctN with k=2 samples per prompt: per-prompt pools that prompt\'s samples', () => {
  // prompt 0: "x y" + "x y" -> unigrams 4, unique 2 -> 0.5; prompt 1: "x z" + "w" -> 3 unique / 3 -> 1
  const d = distinctN(['x y', 'x z', 'x y', 'w'], [0, 1, 0, 1], { ns: [1] });
  assert.equal(d.perPrompt[1], 0.75);
  close(d.corpus[1], 4 / 7); // {x,y,z,w} over 7 words
  assert.ok(Number.isNaN(distinctN([''], undefined, { ns: [1] }).corpus[1]));
});

test('groupMeans averages the k samples of each prompt', () => {
  assert.deepEqual(groupMeans([1, 3, 10, 2, 4], [0, 0, 1, 1, 1]), [2, 16 / 3]);
});

test('emaSmooth: s0 = x0, s_t = w s_{t-1} + (1-w) x_t', () => {
  assert.deepEqual(emaSmooth([1, 2, 4], 0.5), [1, 1.5, 2.75]);
  assert.deepEqual(emaSmooth([NaN, 2], 0.5), [NaN, 2]);
});

test('distinctN with a vocabulary so large that trigram keys fall back to strings (V^3 >= 2^53)', () => {
  const V = 210_000; // log2(210000) * 3 = 53.06
  const words = Array.from({ length: V }, (_, i) => `w${i}`);
  // all words once, then "w0 w1 w2" again: V+3 tokens -> V+1 trigrams; unique: V-2 from the run,
  // 2 new ones across the seam (w_{V-2} w_{V-1} w0, w_{V-1} w0 w1), and "w0 w1 w2" repeats -> V
  const d = distinctN([words.join(' ') + ' w0 w1 w2'], undefined, { ns: [3] });
  close(d.corpus[3], V / (V + 1));
});
