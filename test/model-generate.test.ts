import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, tf } from '../lib/engine';
import { Rng } from '../lib/engine/rng';
import { GPT2LMHeadModel, GPT2WithValueHead, type GPT2Config } from '../lib/models/gpt2';
import { REMOVED, generate, leftPad, logprobsFromLogits, processLogits, sampleFromLogits, sequenceLogprobs } from '../lib/models/generate';

const TINY: Partial<GPT2Config> = { vocab_size: 11, n_positions: 32, n_embd: 8, n_layer: 2, n_head: 2, eos_token_id: 10, bos_token_id: 10 };
const row = (t: tf.Tensor) => Array.from(t.dataSync());

test('processLogits: top-k, top-p, min_new_tokens, temperature on hand-computed logits', async () => {
  await initEngine({ quiet: true });
  const logits = tf.tensor2d([[1, 2, 3, 4]]); // probs .0321 .0871 .2369 .6439
  const removed = (o: Parameters<typeof processLogits>[1]) => row(processLogits(logits, o)).map((x) => x <= REMOVED);
  assert.deepEqual(removed({ step: 0, topK: 2 }), [true, true, false, false]);
  assert.deepEqual(removed({ step: 0, topK: 0 }), [false, false, false, false]);
  assert.deepEqual(removed({ step: 0, topP: 0.6 }), [true, true, true, false]);
  assert.deepEqual(removed({ step: 0, topP: 0.7 }), [true, true, false, false]);
  assert.deepEqual(removed({ step: 0, topP: 0.9 }), [true, false, false, false]);
  assert.deepEqual(removed({ step: 0, topP: 1 }), [false, false, false, false]);
  assert.deepEqual(removed({ step: 0, topK: 3, topP: 0.7 }), [true, true, false, false]);
  assert.deepEqual(row(processLogits(logits, { step: 1, minNewTokens: 2, eosTokenId: 3 })), [1, 2, 3, -Infinity]);
  assert.deepEqual(row(processLogits(logits, { step: 2, minNewTokens: 2, eosTokenId: 3 })), [1, 2, 3, 4]);
  assert.deepEqual(row(processLogits(logits, { step: 0, temperature: 2 })), [0.5, 1, 1.5, 2]);
  // temperature applies before top-p (HF order): at T=0.5 the top token has .8 of the mass
  assert.deepEqual(row(processLogits(logits, { step: 0, temperature: 0.5, topP: 0.75 })).map((x) => x <= REMOVED), [true, true, true, false]);
  // kept entries keep their exact value
  assert.deepEqual(row(processLogits(logits, { step: 0, topK: 2 })).slice(2), [3, 4]);
});

test('sampleFromLogits: inverse CDF picks hand-computed tokens and never a removed one', async () => {
  await initEngine({ quiet: true });
  const l = tf.log(tf.tensor2d([[0.1, 0.2, 0.3, 0.4]])).tile([5, 1]) as tf.Tensor2D;
  assert.deepEqual(row(sampleFromLogits(l, [0.05, 0.25, 0.59, 0.61, 0.99])), [0, 1, 2, 3, 3]);
  assert.deepEqual(row(sampleFromLogits(l, null)), [3, 3, 3, 3, 3]);
  const r = tf.tensor2d([[0, REMOVED, 0, -Infinity]]).tile([4, 1]) as tf.Tensor2D;
  assert.deepEqual(row(sampleFromLogits(r, [0, 0.49, 0.51, 0.999999])), [0, 0, 2, 2]);
  // frequencies
  const rng = new Rng(3);
  const n = 4000;
  const ids = row(sampleFromLogits(tf.log(tf.tensor2d([[0.1, 0.2, 0.3, 0.4]])).tile([n, 1]) as tf.Tensor2D, Array.from({ length: n }, () => rng.uniform())));
  [0.1, 0.2, 0.3, 0.4].forEach((p, k) => assert.ok(Math.abs(ids.filter((x) => x === k).length / n - p) < 0.03));
});

test('leftPad', () => {
  assert.deepEqual(leftPad([[1, 2, 3], [4]], 0), { inputIds: [[1, 2, 3], [0, 0, 4]], attentionMask: [[1, 1, 1], [0, 0, 1]] });
  assert.throws(() => leftPad([[1], []], 0), /query 1 is empty/);
});

test('greedy generate with padding + KV cache equals per-query argmax over full forwards', async () => {
  await initEngine({ quiet: true });
  const m = new GPT2LMHeadModel(TINY, { seed: 7 });
  const queries = [[1, 2, 3, 4, 5], [6], [7, 8]];
  const out = generate(m, queries, { maxNewTokens: 6, greedy: true, eosTokenId: 99 /* never */, padTokenId: 0 });
  for (let b = 0; b < queries.length; b++) {
    const seq = [...queries[b]];
    for (let s = 0; s < 6; s++) {
      const logits = m.forward({ inputIds: tf.tensor2d([seq], [1, seq.length], 'int32') }).logits;
      seq.push(tf.argMax(logits.slice([0, seq.length - 1, 0], [1, 1, -1]).reshape([-1])).dataSync()[0]);
    }
    assert.deepEqual(out.sequences[b], seq);
    assert.deepEqual(out.responses[b], seq.slice(queries[b].length));
  }
  m.dispose();
});

/** A model whose next token is EOS with probability ~1: ln_f outputs wte[eos] * 10. */
function eosLovingModel(): GPT2LMHeadModel {
  const m = new GPT2LMHeadModel(TINY, { seed: 1 });
  const w = m.namedWeights();
  const wte = w.get('transformer.wte.weight')!;
  const eosRow = wte.slice([10, 0], [1, 8]).reshape([8]);
  w.get('transformer.ln_f.weight')!.assign(tf.zeros([8]));
  w.get('transformer.ln_f.bias')!.assign(eosRow.div(eosRow.norm()).mul(200));
  wte.assign(tf.concat([wte.slice([0, 0], [10, 8]), eosRow.reshape([1, 8]).div(eosRow.norm()).mul(5)]));
  return m;
}

test('min_new_tokens suppresses EOS; responses end at the first EOS (kept); generation stops when all rows finished', async () => {
  await initEngine({ quiet: true });
  const m = eosLovingModel();
  const free = generate(m, [[1, 2], [3]], { maxNewTokens: 8, seed: 1 });
  assert.deepEqual(free.responses, [[10], [10]]);
  const out = generate(m, [[1, 2], [3]], { maxNewTokens: 8, minNewTokens: 3, seed: 1 });
  for (const r of out.responses) {
    assert.equal(r.length, 4);
    assert.equal(r[3], 10);
    assert.ok(!r.slice(0, 3).includes(10));
  }
  assert.deepEqual(out.sequences[1].slice(0, 1), [3]);
  const capped = generate(m, [[1, 2]], { maxNewTokens: 2, minNewTokens: 5, seed: 1 });
  assert.equal(capped.responses[0].length, 2);
  m.dispose();
});

test('sampling is deterministic for a seed and top_k=1 equals greedy; works through GPT2WithValueHead', async () => {
  await initEngine({ quiet: true });
  const vm = new GPT2WithValueHead(new GPT2LMHeadModel(TINY, { seed: 3 }));
  const q = [[1, 2, 3], [4, 5], [6]];
  const a = generate(vm, q, { maxNewTokens: 10, seed: 5, eosTokenId: 99, padTokenId: 0 });
  const b = generate(vm, q, { maxNewTokens: 10, rng: new Rng(5), eosTokenId: 99, padTokenId: 0 });
  const c = generate(vm, q, { maxNewTokens: 10, seed: 6, eosTokenId: 99, padTokenId: 0 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.responses, c.responses);
  const k1 = generate(vm, q, { maxNewTokens: 10, seed: 9, topK: 1, eosTokenId: 99, padTokenId: 0 });
  const g = generate(vm, q, { maxNewTokens: 10, greedy: true, eosTokenId: 99, padTokenId: 0 });
  assert.deepEqual(k1, g);
  const before = tf.memory().numTensors;
  generate(vm, q, { maxNewTokens: 5, seed: 1, topP: 0.9, topK: 5, temperature: 0.7 });
  assert.equal(tf.memory().numTensors, before, 'generate leaks no tensors');
  vm.dispose();
});

test('logprobsFromLogits: hand values and gradient = onehot - softmax', async () => {
  await initEngine({ quiet: true });
  const logits = tf.log(tf.tensor3d([[[1, 2, 3], [3, 2, 1]]])) as tf.Tensor3D; // probs 1/6 2/6 3/6
  const labels = tf.tensor2d([[2, 1]], [1, 2], 'int32');
  const lp = row(logprobsFromLogits(logits, labels));
  assert.ok(Math.abs(lp[0] - Math.log(0.5)) < 1e-6 && Math.abs(lp[1] - Math.log(2 / 6)) < 1e-6);
  const g = row(tf.grad((x: tf.Tensor) => logprobsFromLogits(x as tf.Tensor3D, labels).sum())(logits));
  const want = [-1 / 6, -2 / 6, 1 - 3 / 6, -3 / 6, 1 - 2 / 6, -1 / 6];
  want.forEach((x, i) => assert.ok(Math.abs(g[i] - x) < 1e-6));
});

test('sequenceLogprobs: index j scores token j+1; values aligned to [B, T-1]', async () => {
  await initEngine({ quiet: true });
  const vm = new GPT2WithValueHead(new GPT2LMHeadModel(TINY, { seed: 3 }));
  const ids = tf.tensor2d([[10, 1, 2, 3], [4, 5, 6, 7]], [2, 4], 'int32');
  const mask = tf.tensor2d([[0, 1, 1, 1], [1, 1, 1, 1]], [2, 4], 'int32');
  const res = sequenceLogprobs(vm, ids, mask);
  assert.deepEqual(res.logprobs.shape, [2, 3]);
  assert.deepEqual(res.values!.shape, [2, 3]);
  const full = vm.forward({ inputIds: ids, attentionMask: mask });
  const ls = tf.logSoftmax(full.logits).arraySync() as number[][][];
  const idv = ids.arraySync() as number[][];
  const got = res.logprobs.arraySync() as number[][];
  for (let b = 0; b < 2; b++) for (let j = 0; j < 3; j++) assert.ok(Math.abs(got[b][j] - ls[b][j][idv[b][j + 1]]) < 1e-5);
  assert.deepEqual(res.values!.arraySync(), full.values.slice([0, 0], [2, 3]).arraySync());
  vm.dispose();
});

test('fused logprobsFromLogits equals logSoftmax + gather in values and gradients (random logits)', async () => {
  await initEngine({ quiet: true });
  const rng = new Rng(12);
  const [B, T, V] = [3, 4, 37];
  const logits = tf.tensor3d(Float32Array.from({ length: B * T * V }, () => rng.normal() * 3), [B, T, V]);
  const labels = tf.tensor2d(Array.from({ length: B * T }, () => rng.int(V)), [B, T], 'int32');
  const dy = tf.tensor2d(Array.from({ length: B * T }, () => rng.normal()), [B, T]);
  const naive = (x: tf.Tensor) => tf.sum(tf.logSoftmax(x).mul(tf.oneHot(labels, V).toFloat()), -1);
  const a = logprobsFromLogits(logits, labels), b = naive(logits);
  assert.ok(a.sub(b).abs().max().dataSync()[0] < 1e-5);
  const ga = tf.grad((x: tf.Tensor) => logprobsFromLogits(x as tf.Tensor3D, labels).mul(dy).sum())(logits);
  const gb = tf.grad((x: tf.Tensor) => naive(x).mul(dy).sum())(logits);
  assert.ok(ga.sub(gb).abs().max().dataSync()[0] < 1e-5);
});
