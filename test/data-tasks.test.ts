/** Prompts (first N GPT-2 tokens) and task definitions / loadTask on the staged data. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GPT2Tokenizer } from '../lib/text/gpt2-tokenizer';
import { imdbTestSample, loadImdb } from '../lib/data/imdb';
import { makePrompts, minNewTokens, type PromptTokenizer } from '../lib/data/prompts';
import { getTaskSpec, loadTask, TASKS } from '../lib/data/tasks';

const tok = GPT2Tokenizer.fromDir('/work/shared/data/tokenizers/gpt2');

test('makePrompts: first N ids, no BOS, no padding, query = decode(ids)', () => {
  const chars: PromptTokenizer = {
    encode: (s) => [...s].map((c) => c.codePointAt(0)!),
    decode: (ids) => String.fromCodePoint(...ids),
  };
  assert.deepEqual(makePrompts(['abcdef', 'xy'], chars, 3), [
    { queryIds: [97, 98, 99], query: 'abc' },
    { queryIds: [120, 121], query: 'xy' },
  ]);
  assert.throws(() => makePrompts(['a'], chars, 0), /positive integer/);
  // Real GPT-2 ids (OpenAI vocab): "Hello"=15496, " world"=995, ","=11, " this"=428
  const [p] = makePrompts(['Hello world, this is a test.'], tok, 4);
  assert.deepEqual(p, { queryIds: [15496, 995, 11, 428], query: 'Hello world, this' });
  // A cut inside a multi-byte character decodes to U+FFFD, as HF decode does.
  const emoji = tok.encode('😀');
  assert.ok(emoji.length > 1);
  assert.equal(makePrompts(['😀'], tok, 1)[0].query, '\ufffd');
});

test('prefix encoding equals encode(text)[:N] on whitespace, special-token and multi-byte edge cases', () => {
  const texts = [
    'a  b', 'word\t\ttab', ' leading space', 'trailing spaces   ', '\n\n\nnewlines\n \n', "it's they're we'll I'd",
    'x'.repeat(500) + ' y', 'a<|endoftext|>b c <|endoftext|> d', '😀 😀😀  😀'.repeat(30), '1234 5678,,,!!! ??? ...',
    'Hello world '.repeat(40), ' '.repeat(300) + 'z', 'naïve café — «quotes» ' .repeat(20), '',
  ];
  for (const n of [1, 2, 3, 8, 64, 300]) {
    const fast = makePrompts(texts, tok, n);
    const full = makePrompts(texts, tok, n, { prefixEncoding: false });
    assert.deepEqual(fast, full, `n=${n}`);
    texts.forEach((t, i) => assert.deepEqual(full[i].queryIds, tok.encode(t).slice(0, n)));
  }
});

test('minNewTokens follows HF min_length (prompt counted)', () => {
  assert.equal(minNewTokens(TASKS['jigsaw-gen'].minLength, 8), 24);
  assert.equal(minNewTokens(TASKS['imdb-gen'].minLength, 64), 0);
  assert.equal(minNewTokens(TASKS['rtp-gen'].minLength, 32), 0);
  assert.equal(minNewTokens(TASKS['jigsaw-mini'].minLength, 8), 18);
  assert.equal(minNewTokens(TASKS['imdb-mini'].minLength, 16), 0);
});

test('task specs match paper-spec §3', () => {
  const row = (n: string): unknown[] => {
    const s = getTaskSpec(n);
    return [s.promptTokens, s.maxNewTokens, s.minLength, s.reward.model, s.reward.labelIndex, s.reward.sign, s.tailThreshold,
      s.sftClass, s.batchSize, s.M, s.learningRate, s.risk.alpha, s.risk.n, s.risk.rho, s.seed];
  };
  assert.deepEqual(row('imdb-gen'), [64, 48, 48, 'lvwerra/distilbert-imdb', 1, 1, -2.5, 1, 128, 194, 1.41e-5, 0.4, 30, 0.95, 42]);
  assert.deepEqual(row('jigsaw-gen'), [8, 32, 32, 'unitary/toxic-bert', 0, -1, 5, 0, 128, 288, 1.41e-5, 0.2, 30, 0.95, 4]);
  assert.deepEqual(row('rtp-gen'), [32, 32, 32, 'unitary/toxic-bert', 0, -1, 5, 0, 128, 452, 2.82e-5, 0.2, 30, 0.95, 4]);
  assert.equal(TASKS['imdb-gen'].reward.labels[1], 'POSITIVE');
  assert.equal(TASKS['jigsaw-gen'].reward.labels[0], 'toxic');
  assert.equal(TASKS['imdb-gen'].reward.truncation, false);
  for (const n of ['imdb-mini', 'jigsaw-mini'] as const) {
    const s = TASKS[n];
    assert.ok(s.batchSize <= 32 && s.M <= 40 && s.promptTokens <= 16 && s.maxNewTokens <= 24 && s.trainSize === s.M * s.batchSize);
    assert.equal(s.reward, TASKS[s.scaledFrom!].reward);
  }
  assert.throws(() => getTaskSpec('nope'), /unknown task "nope" \(known: imdb-gen, jigsaw-gen/);
});

test('imdb-gen: 24,895 train prompts (194 batches), 5,000 test prompts, every prompt = first 64 GPT-2 tokens', async () => {
  const d = await loadTask('imdb-gen', { tokenizer: tok });
  assert.equal(d.train.length, 24895);
  assert.equal(d.batchesPerEpoch, 194);
  assert.equal(d.test.length, 5000);
  assert.equal(d.sftTexts.length, 12500); // all positive train reviews, no length filter
  // encode(text)[:64]: reviews with > 200 chars but < 64 tokens keep their shorter prompt (no drop, no pad).
  const all = [...d.train, ...d.test];
  assert.ok(all.every((p) => p.queryIds.length <= 64));
  const full = all.filter((p) => p.queryIds.length === 64).length;
  assert.ok(full > 0.97 * all.length && full < all.length, `64-token prompts: ${full} of ${all.length}`);
  const test = await loadImdb('test');
  assert.deepEqual(d.test.map((p) => p.text), imdbTestSample(test.rows).map((r) => r.text));
  const bad = d.test.filter((p) => p.queryIds.join() !== tok.encode(p.text).slice(0, 64).join());
  assert.equal(bad.length, 0);
  assert.deepEqual(d.reports.map((r) => [r.read, r.kept, r.dropped]), [[25000, 24895, { 'len<=200': 105 }], [25000, 24872, { 'len<=200': 128 }]]);
  // Decoding a token prefix gives a text prefix (except a cut inside a multi-byte char).
  assert.ok(d.test.filter((p) => p.text.startsWith(p.query)).length >= 4990);
  assert.equal(d.test.filter((p) => p.label === 1).length, imdbTestSample(test.rows).filter((r) => r.label === 1).length);
});

test('imdb-mini: 960 train / 256 test 16-token prompts, deterministic, test inside the 5k sample', async () => {
  const a = await loadTask('imdb-mini', { tokenizer: tok });
  const b = await loadTask('imdb-mini', { tokenizer: tok });
  assert.deepEqual([a.train.length, a.test.length, a.sftTexts.length, a.batchesPerEpoch], [960, 256, 2000, 30]);
  assert.deepEqual(a.train.map((p) => p.queryIds), b.train.map((p) => p.queryIds));
  assert.deepEqual(a.test.map((p) => p.text), b.test.map((p) => p.text));
  assert.ok(a.train.every((p) => p.queryIds.length === 16));
  const test = await loadImdb('test');
  assert.deepEqual(a.test.map((p) => p.text), imdbTestSample(test.rows).slice(0, 256).map((r) => r.text));
});

test('imdb-small: the paper\'s 64-token prompts, 6,208 train prompts = 194 batches of 32, 256 test prompts', async () => {
  const a = await loadTask('imdb-small', { tokenizer: tok });
  assert.deepEqual([a.train.length, a.test.length, a.sftTexts.length, a.batchesPerEpoch], [6208, 256, 2000, 194]);
  // (a review shorter than 64 tokens gives a shorter prompt, as in the paper)
  assert.ok(a.train.every((p) => p.queryIds.length <= 64) && a.train.filter((p) => p.queryIds.length === 64).length > 0.95 * 6208);
  assert.deepEqual([a.spec.maxNewTokens, a.spec.M, a.spec.risk.n, a.spec.risk.alpha], [48, 194, 30, 0.4]);
  // (train and test come from IMDB's own splits; IMDB repeats a few reviews across them, so texts may coincide)
});

test('jigsaw-mini: disjoint hash halves, 288/672 train, 128/128 test with dataset rewards', async () => {
  const d = await loadTask('jigsaw-mini', { tokenizer: tok });
  assert.equal(d.train.length, 960);
  assert.deepEqual([d.mix.train!.nToxic, d.mix.train!.nNonToxic], [288, 672]);
  assert.deepEqual([d.test.filter((p) => p.label === 1).length, d.test.filter((p) => p.label === 0).length], [128, 128]);
  assert.ok(d.test.every((p) => typeof p.datasetReward === 'number'));
  const testTexts = new Set(d.test.map((p) => p.text));
  assert.ok(d.train.every((p) => !testTexts.has(p.text)));
  assert.ok(d.sftTexts.every((t) => !testTexts.has(t)));
  assert.ok(d.train.every((p) => p.queryIds.length <= 8));
  assert.equal(d.sftTexts.length, 1938); // non-toxic rows of the train half
  const again = await loadTask('jigsaw-mini', { tokenizer: tok });
  assert.deepEqual(again.train.map((p) => p.text), d.train.map((p) => p.text));
});

test('jigsaw-gen: all 7,708 test prompts; offline stand-in train pool never shares a text with test', async () => {
  const d = await loadTask('jigsaw-gen', { tokenizer: tok });
  assert.equal(d.test.length, 7708);
  assert.ok(d.test.every((p) => p.datasetReward !== null && p.queryIds.length <= 8));
  const testTexts = new Set(d.test.map((p) => p.text));
  assert.ok(d.train.every((p) => !testTexts.has(p.text)));
  // 99 wiki + 2,212 prefixes + 3,180 OLID OFF = 5,491 toxic; non-toxic capped at 3,523 + 5,946 = 9,469
  assert.deepEqual(d.mix.train, { nToxic: 5491, nNonToxic: 9469, requestedNonToxic: 12812, capped: true });
  assert.equal(d.batchesPerEpoch, Math.floor(14960 / 128));
  assert.ok(d.notes.some((n) => /NOT available offline/.test(n)));
});

test('rtp-gen: subset split through the eda.py recipe, 32-token prompts', async () => {
  const d = await loadTask('rtp-gen', { tokenizer: tok });
  assert.deepEqual([d.train.length, d.test.length, d.sftTexts.length], [794 + 1122, 398, 1122]);
  for (const p of [...d.train, ...d.test]) {
    assert.deepEqual(p.queryIds, tok.encode(p.text).slice(0, 32));
    assert.equal(p.query, tok.decode(p.queryIds));
  }
  assert.deepEqual([d.test.filter((p) => p.label === 1).length, d.test.filter((p) => p.label === 0).length], [199, 199]);
  assert.ok(d.notes.some((n) => /DecodingTrust subset/.test(n)));
});
