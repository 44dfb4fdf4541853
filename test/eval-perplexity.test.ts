import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import {
  causalLMLogprobs, firstChars, maskedNll, perplexity, perplexityOfIds, rightPadBatch, type CausalLM, type TokenLogprobModel,
} from '../lib/eval/perplexity';

const close = (a: number, b: number, eps = 1e-5) => assert.ok(Math.abs(a - b) <= eps * Math.max(1, Math.abs(b)), `${a} != ${b}`);

tf.setBackend('cpu');

test('firstChars cuts code points like Python s[:n]', () => {
  assert.equal(firstChars('a😀bc', 2), 'a😀');
  assert.equal(firstChars('abc'), 'abc');
});

test('rightPadBatch + maskedNll: pads never count', () => {
  const b = rightPadBatch([[9, 1, 2], [9, 3]], 0);
  assert.deepEqual(b.inputIds, [[9, 1, 2], [9, 3, 0]]);
  assert.deepEqual(b.attentionMask, [[1, 1, 1], [1, 1, 0]]);
  const r = maskedNll([[-1, -2], [-3, -100]], b.attentionMask);
  assert.deepEqual(r, { nll: [3, 3], tokens: [2, 1] });
});

test('uniform logits -> perplexity = vocab size (mean and corpus)', async () => {
  const V = 50257;
  const uniform: TokenLogprobModel = { async logprobsOf(ids) { return ids.map((row) => row.slice(1).map(() => -Math.log(V))); } };
  const r = await perplexity(uniform, { encode: (s) => [...s].map((c) => c.charCodeAt(0)) }, ['hello', 'hi', 'a longer text'], { maxChars: 4, batchSize: 2 });
  for (const p of r.perplexities) close(p, V);
  close(r.meanPerplexity, V);
  close(r.corpusPerplexity, V);
  assert.deepEqual(r.tokens, [4, 2, 4]); // maxChars 4 -> 4, 2, 4 targets (BOS predicts the first)
});

test('hand-computed: per-text mean vs corpus PPL, BOS prepended, padding masked', async () => {
  // logp(target) = -0.1 * target; the pad id 7 would cost 0.7 if it were counted
  const seen: number[][][] = [];
  const model: TokenLogprobModel = {
    async logprobsOf(ids) { seen.push(ids); return ids.map((row) => row.slice(1).map((y) => -0.1 * y)); },
  };
  const r = await perplexityOfIds(model, [[1, 2], [3]], { bosTokenId: 0, padTokenId: 7, batchSize: 2 });
  // text 0: BOS 0 then 1, 2 -> NLL 0.3 over 2 tokens; text 1: NLL 0.3 over 1 token
  close(r.perplexities[0], Math.exp(0.15));
  close(r.perplexities[1], Math.exp(0.3));
  close(r.meanPerplexity, (Math.exp(0.15) + Math.exp(0.3)) / 2);
  close(r.corpusPerplexity, Math.exp(0.6 / 3));
  // batched shortest first, right padded with 7
  assert.deepEqual(seen[0], [[0, 3, 7], [0, 1, 2]]);
  await assert.rejects(perplexityOfIds(model, [[]], { addStartToken: false }), /no token to predict/);
});

test('causalLMLogprobs on a tfjs model with known logits (and no tensor leak)', async () => {
  // V=5; at position t the logit of (id_t + 1) % 5 is ln 3, others 0 -> p(expected) = 3/7, p(other) = 1/7
  const V = 5;
  const fake: CausalLM = {
    forward({ inputIds }) {
      return { logits: tf.tidy(() => tf.oneHot(tf.mod(tf.add(inputIds, tf.scalar(1, 'int32')), tf.scalar(V, 'int32')) as tf.Tensor2D, V).mul(Math.log(3)) as tf.Tensor3D) };
    },
  };
  const before = tf.memory().numTensors;
  const r = await perplexityOfIds(causalLMLogprobs(fake), [[0, 1, 3], [2]], { bosTokenId: 4, batchSize: 2 });
  // text 0: 4->0 expected (3/7), 0->1 expected (3/7), 1->3 not (1/7)
  close(r.perplexities[0], Math.exp((2 * Math.log(7 / 3) + Math.log(7)) / 3));
  // text 1: 4->2 not expected -> PPL 7 (its right pad must not count)
  close(r.perplexities[1], 7);
  close(r.corpusPerplexity, Math.exp((2 * Math.log(7 / 3) + 2 * Math.log(7)) / 4));
  assert.equal(tf.memory().numTensors, before);
});

test('real tiny GPT2LMHeadModel: right padding does not change a text\'s PPL; matches a JS log-softmax', async () => {
  const { GPT2LMHeadModel } = await import('../lib/models/gpt2');
  const model = new GPT2LMHeadModel({ preset: 'tiny' }, { seed: 3 });
  const lm = causalLMLogprobs(model);
  const texts = [[5, 9, 200, 7, 7, 1], [42, 3]];
  const batched = await perplexityOfIds(lm, texts, { bosTokenId: 255, batchSize: 2 });
  const alone = await perplexityOfIds(lm, texts, { bosTokenId: 255, batchSize: 1 });
  close(batched.perplexities[1], alone.perplexities[1], 1e-5);
  close(batched.perplexities[0], alone.perplexities[0], 1e-5);
  // direct: logits of [BOS, 42, 3] -> -log softmax at the targets 42, 3
  const logits = tf.tidy(() => model.forward({ inputIds: tf.tensor2d([[255, 42, 3]], [1, 3], 'int32') }).logits.arraySync()[0]);
  const nll = [42, 3].reduce((s, y, t) => {
    const row = logits[t];
    const m = Math.max(...row);
    return s - (row[y] - m - Math.log(row.reduce((z, v) => z + Math.exp(v - m), 0)));
  }, 0);
  close(alone.perplexities[1], Math.exp(nll / 2), 1e-5);
  model.dispose();
});
