import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { dataFile } from '../lib/data/paths';
import { loadRewardModel } from '../lib/rewards/load';
import { inferHead, OnnxRewardModel } from '../lib/rewards/onnx';
import { readVocabTxt, writeTinyClassifier, type TinyClassifierWeights } from '../lib/rewards/tiny';

// Real bert-base-uncased WordPiece vocabulary, so tokenisation is the one distilbert-imdb/toxic-bert use.
const vocab = readVocabTxt(dataFile('tokenizers/bert-base-uncased/vocab.txt'));
const CLS = 101;
const SEP = 102;
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-onnx-'));
let bertW: TinyClassifierWeights;
let distilW: TinyClassifierWeights;
const bertDir = path.join(root, 'tiny-toxic-bert');
const distilDir = path.join(root, 'tiny-distilbert-imdb');

/** logits by hand: mean over tokens of E[id] (+ T[0] for bert), then @ W + b. */
function handLogits(w: TinyClassifierWeights, ids: number[]): number[] {
  const H = w.hidden;
  const L = w.labels.length;
  const pooled = new Array<number>(H).fill(0);
  for (const id of ids) {
    for (let h = 0; h < H; h++) pooled[h] += w.embedding[id * H + h] + (w.typeEmbedding ? w.typeEmbedding[h] : 0);
  }
  for (let h = 0; h < H; h++) pooled[h] /= ids.length;
  return Array.from({ length: L }, (_, l) => {
    let s = w.b[l];
    for (let h = 0; h < H; h++) s += pooled[h] * w.w[h * L + l];
    return s;
  });
}
const id = (tok: string) => {
  const i = vocab.indexOf(tok);
  assert.ok(i >= 0, `token ${tok} not in vocab`);
  return i;
};
const near = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-5, `${a} vs ${b}`);

before(() => {
  bertW = writeTinyClassifier(bertDir, { modelType: 'bert', labels: ['toxic', 'severe_toxic', 'obscene', 'threat', 'insult', 'identity_hate'], vocab, hidden: 4, seed: 1 });
  distilW = writeTinyClassifier(distilDir, { modelType: 'distilbert', labels: ['NEGATIVE', 'POSITIVE'], vocab, hidden: 4, seed: 2 });
});
after(() => fs.rmSync(root, { recursive: true, force: true }));

test('known bert-base-uncased ids (sanity for the hand computation)', () => {
  assert.equal(id('hello'), 7592);
  assert.equal(id('world'), 2088);
  assert.equal(vocab[CLS], '[CLS]');
  assert.equal(vocab[SEP], '[SEP]');
});

test('tiny toxic-bert: logits equal hand-computed ones; reward = minus the logit at index 0', async () => {
  const m = await OnnxRewardModel.load(bertDir);
  assert.deepEqual(m.head, { labelIndex: 0, sign: -1 });
  const ids = [CLS, id('hello'), id('world'), SEP]; // "Hello, World" would add the comma
  const expect = handLogits(bertW, ids);
  const [got] = await m.logits(['Hello world']);
  assert.equal(got.length, 6);
  got.forEach((g, i) => near(g, expect[i]));
  const [r] = await m.score(['Hello world']);
  near(r, -expect[0]);
  await m.dispose();
});

test('tiny distilbert-imdb: reward = the POSITIVE logit (index 1), not a softmax', async () => {
  const m = await OnnxRewardModel.load(distilDir);
  assert.deepEqual(m.head, { labelIndex: 1, sign: 1 });
  const ids = [CLS, id('the'), id('movie'), id('was'), id('great'), SEP];
  const expect = handLogits(distilW, ids);
  const [r] = await m.score(['The movie was GREAT']);
  near(r, expect[1]);
  assert.notEqual(Math.sign(expect[0] - expect[1]), 0);
  await m.dispose();
});

test('batched scoring (with padding) equals one-at-a-time scoring', async () => {
  const m = await OnnxRewardModel.load(bertDir);
  const texts = ['a', 'you are a complete idiot and everyone knows it', 'thanks for the helpful edit', 'ok then'];
  const batched = await m.score(texts, { batchSize: 4 });
  const single: number[] = [];
  for (const t of texts) single.push(...(await m.score([t], { batchSize: 1 })));
  batched.forEach((b, i) => near(b, single[i]));
  await m.dispose();
});

test('texts longer than 512 tokens are truncated to [CLS] + 510 tokens + [SEP]', async () => {
  const m = await OnnxRewardModel.load(distilDir);
  const words = Array.from({ length: 600 }, (_, i) => (i < 510 ? 'good' : 'terrible'));
  const expect = handLogits(distilW, [CLS, ...new Array(510).fill(id('good')), SEP]);
  const [r] = await m.score([words.join(' ')]);
  near(r, expect[1]);
  // in a batch with a short text: the long one is cut the same way, the short one is unaffected
  const [r1, r2] = await m.score([words.join(' '), 'not bad'], { batchSize: 2 });
  near(r1, expect[1]);
  near(r2, handLogits(distilW, [CLS, id('not'), id('bad'), SEP])[1]);
  await m.dispose();
});

test('loadRewardModel resolves an HF id in the hub cache and applies the known head', async () => {
  const cache = path.join(root, 'hub');
  const commit = 'a'.repeat(40);
  const snap = path.join(cache, 'models--unitary--toxic-bert', 'snapshots', commit);
  fs.mkdirSync(path.dirname(snap), { recursive: true });
  fs.cpSync(bertDir, snap, { recursive: true });
  fs.mkdirSync(path.join(cache, 'models--unitary--toxic-bert', 'refs'), { recursive: true });
  fs.writeFileSync(path.join(cache, 'models--unitary--toxic-bert', 'refs', 'main'), commit);
  const old = process.env.HF_HUB_CACHE;
  process.env.HF_HUB_CACHE = cache;
  try {
    const m = await loadRewardModel('unitary/toxic-bert');
    assert.equal(m.name, 'unitary/toxic-bert');
    const [r] = await m.score(['hello world']);
    near(r, -handLogits(bertW, [CLS, id('hello'), id('world'), SEP])[0]);
    await m.dispose?.();
    await assert.rejects(loadRewardModel('lvwerra/distilbert-imdb'), /not in the cache/);
  } finally {
    if (old === undefined) delete process.env.HF_HUB_CACHE;
    else process.env.HF_HUB_CACHE = old;
  }
});

test('bad input and bad folders give clear errors', async () => {
  const m = await OnnxRewardModel.load(bertDir);
  await assert.rejects(m.score(['fine', '']), /texts\[1\] is empty/);
  await m.dispose();
  await assert.rejects(OnnxRewardModel.load(path.join(root, 'nope')), /config\.json not found/);
  assert.throws(() => inferHead({ 0: 'A', 1: 'B' }, 'x/config.json'), /cannot infer the reward head/);
});
