import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, tf } from '../lib/engine';
import { Rng } from '../lib/engine/rng';
import { AdamW } from '../lib/engine/optim';
import { GPT2LMHeadModel, GPT2WithValueHead, GPT2_PRESETS, gpt2ParameterShapes, gpt2ParameterCount, geluNew, type GPT2Config } from '../lib/models/gpt2';
import { lmLoss } from '../lib/models/generate';

const TINY: Partial<GPT2Config> = { vocab_size: 11, n_positions: 16, n_embd: 8, n_layer: 2, n_head: 2, eos_token_id: 10, bos_token_id: 10 };

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => a.sub(b).abs().max().dataSync()[0]);
}

// ---- plain-JS reference of HF GPT2LMHeadModel (float64), written from the HF modeling code ----
type W = Map<string, { v: Float32Array; s: number[] }>;
function refForward(cfg: GPT2Config, w: W, ids: number[]): number[][] {
  const E = cfg.n_embd, H = cfg.n_head, D = E / H, T = ids.length;
  const get = (n: string) => w.get(n)!.v;
  const lin = (x: number[], wn: string, bn: string, out: number) => {
    const W = get(wn), b = get(bn), inn = x.length;
    return Array.from({ length: out }, (_, j) => { let s = b[j]; for (let i = 0; i < inn; i++) s += x[i] * W[i * out + j]; return s; });
  };
  const ln = (x: number[], g: Float32Array, b: Float32Array) => {
    const mu = x.reduce((s, a) => s + a, 0) / x.length;
    const vr = x.reduce((s, a) => s + (a - mu) ** 2, 0) / x.length;
    return x.map((a, i) => ((a - mu) / Math.sqrt(vr + cfg.layer_norm_epsilon)) * g[i] + b[i]);
  };
  const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
  let h = ids.map((id, t) => Array.from({ length: E }, (_, j) => get('transformer.wte.weight')[id * E + j] + get('transformer.wpe.weight')[t * E + j]));
  for (let l = 0; l < cfg.n_layer; l++) {
    const p = `transformer.h.${l}.`;
    const qkv = h.map((x) => lin(ln(x, get(p + 'ln_1.weight'), get(p + 'ln_1.bias')), p + 'attn.c_attn.weight', p + 'attn.c_attn.bias', 3 * E));
    const att = h.map(() => new Array<number>(E).fill(0));
    for (let hd = 0; hd < H; hd++) {
      for (let t = 0; t < T; t++) {
        const sc = [];
        for (let s = 0; s <= t; s++) { let d = 0; for (let k = 0; k < D; k++) d += qkv[t][hd * D + k] * qkv[s][E + hd * D + k]; sc.push(d / Math.sqrt(D)); }
        const mx = Math.max(...sc), ex = sc.map((a) => Math.exp(a - mx)), z = ex.reduce((a, b) => a + b, 0);
        for (let s = 0; s <= t; s++) for (let k = 0; k < D; k++) att[t][hd * D + k] += (ex[s] / z) * qkv[s][2 * E + hd * D + k];
      }
    }
    h = h.map((x, t) => { const o = lin(att[t], p + 'attn.c_proj.weight', p + 'attn.c_proj.bias', E); return x.map((a, i) => a + o[i]); });
    h = h.map((x) => {
      const f = lin(ln(x, get(p + 'ln_2.weight'), get(p + 'ln_2.bias')), p + 'mlp.c_fc.weight', p + 'mlp.c_fc.bias', 4 * E).map(gelu);
      const o = lin(f, p + 'mlp.c_proj.weight', p + 'mlp.c_proj.bias', E);
      return x.map((a, i) => a + o[i]);
    });
  }
  const wte = get('transformer.wte.weight');
  return h.map((x) => {
    const y = ln(x, get('transformer.ln_f.weight'), get('transformer.ln_f.bias'));
    return Array.from({ length: cfg.vocab_size }, (_, v) => y.reduce((s, a, i) => s + a * wte[v * E + i], 0));
  });
}

test('forward matches a plain-JS reference of HF GPT-2 (random non-trivial weights incl. LN and biases)', async () => {
  await initEngine({ quiet: true });
  const m = new GPT2LMHeadModel(TINY, { seed: 3 });
  const rng = new Rng(9);
  const w: W = new Map();
  const load = new Map<string, tf.Tensor>();
  for (const [name, s] of gpt2ParameterShapes(m.config)) {
    const v = Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => rng.normal() * 0.5 + (name.includes('ln_') && name.endsWith('weight') ? 1 : 0));
    w.set(name, { v, s });
    load.set(name, tf.tensor(v, s));
  }
  m.loadWeights(load);
  const ids = [3, 1, 4, 1, 5];
  const want = refForward(m.config, w, ids);
  const got = m.forward({ inputIds: tf.tensor2d([ids], [1, 5], 'int32') }).logits.arraySync()[0];
  let md = 0;
  for (let t = 0; t < ids.length; t++) for (let v = 0; v < 11; v++) md = Math.max(md, Math.abs(got[t][v] - want[t][v]));
  assert.ok(md < 1e-3, `max diff ${md}`);
  m.dispose();
});

test('geluNew hand values', async () => {
  await initEngine({ quiet: true });
  const got = geluNew(tf.tensor1d([0, 1, -1, 3])).dataSync();
  const want = [0, 0.8411919906, -0.1588080094, 2.9963625];
  want.forEach((x, i) => assert.ok(Math.abs(got[i] - x) < 1e-5, `${got[i]} vs ${x}`));
});

test('KV-cache decoding logits equal full forward logits (with left padding)', async () => {
  await initEngine({ quiet: true });
  const m = new GPT2LMHeadModel(TINY, { seed: 1 });
  const ids = tf.tensor2d([[10, 10, 2, 3, 4, 5, 6, 7], [1, 2, 3, 4, 5, 6, 7, 8]], [2, 8], 'int32');
  const mask = tf.tensor2d([[0, 0, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 1]], [2, 8], 'int32');
  const full = m.forward({ inputIds: ids, attentionMask: mask });
  const slice = (t: tf.Tensor2D, a: number, b: number) => t.slice([0, a], [2, b - a]) as tf.Tensor2D;
  let out = m.forward({ inputIds: slice(ids, 0, 4), attentionMask: slice(mask, 0, 4) });
  const pieces = [out.logits];
  for (let t = 4; t < 8; t++) {
    out = m.forward({ inputIds: slice(ids, t, t + 1), attentionMask: slice(mask, 0, t + 1), past: out.present });
    pieces.push(out.logits);
  }
  const inc = tf.concat(pieces, 1);
  // compare only real tokens (pads' own logits are irrelevant)
  const realFull = full.logits.slice([0, 2, 0], [2, 6, -1]);
  const realInc = inc.slice([0, 2, 0], [2, 6, -1]);
  assert.ok(maxAbsDiff(realFull, realInc) < 1e-4);
  m.dispose();
});

test('lastOnly: the last position\'s logits of the full forward, with left padding and with a cache', async () => {
  await initEngine({ quiet: true });
  const m = new GPT2LMHeadModel(TINY, { seed: 2 });
  const ids = tf.tensor2d([[10, 10, 2, 3, 4], [1, 2, 3, 4, 5]], [2, 5], 'int32');
  const mask = tf.tensor2d([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]], [2, 5], 'int32');
  const full = m.forward({ inputIds: ids, attentionMask: mask });
  const last = m.forward({ inputIds: ids, attentionMask: mask, lastOnly: true });
  assert.deepEqual(last.logits.shape, [2, 1, TINY.vocab_size]);
  assert.deepEqual(last.hidden.shape, full.hidden.shape);
  assert.ok(maxAbsDiff(last.logits, full.logits.slice([0, 4, 0], [2, 1, -1])) < 1e-6);
  // one cached decoding step: T = 1, so lastOnly changes nothing
  const next = tf.tensor2d([[7], [8]], [2, 1], 'int32');
  const grown = tf.concat([mask, tf.ones([2, 1], 'int32')], 1) as tf.Tensor2D;
  const a = m.forward({ inputIds: next, attentionMask: grown, past: full.present });
  const b = m.forward({ inputIds: next, attentionMask: grown, past: full.present, lastOnly: true });
  assert.equal(maxAbsDiff(a.logits, b.logits), 0);
  m.dispose();
});

test('left padding does not change the logits of real tokens', async () => {
  await initEngine({ quiet: true });
  const m = new GPT2LMHeadModel(TINY, { seed: 2 });
  const plain = m.forward({ inputIds: tf.tensor2d([[4, 5, 6]], [1, 3], 'int32') }).logits;
  const padded = m.forward({ inputIds: tf.tensor2d([[10, 10, 10, 4, 5, 6]], [1, 6], 'int32'), attentionMask: tf.tensor2d([[0, 0, 0, 1, 1, 1]], [1, 6], 'int32') }).logits;
  assert.ok(maxAbsDiff(plain, padded.slice([0, 3, 0], [1, 3, -1])) < 1e-5);
  // and the test is sensitive: without the mask the result differs
  const unmasked = m.forward({ inputIds: tf.tensor2d([[10, 10, 10, 4, 5, 6]], [1, 6], 'int32') }).logits;
  assert.ok(maxAbsDiff(plain, unmasked.slice([0, 3, 0], [1, 3, -1])) > 1e-3);
  m.dispose();
});

// HF GPT2LMHeadModel('gpt2') state_dict names and shapes (lm_head.weight tied to wte, not listed).
function hfGpt2Expected(): [string, number[]][] {
  const out: [string, number[]][] = [['transformer.wte.weight', [50257, 768]], ['transformer.wpe.weight', [1024, 768]]];
  for (let i = 0; i < 12; i++) {
    out.push(
      [`transformer.h.${i}.ln_1.weight`, [768]], [`transformer.h.${i}.ln_1.bias`, [768]],
      [`transformer.h.${i}.attn.c_attn.weight`, [768, 2304]], [`transformer.h.${i}.attn.c_attn.bias`, [2304]],
      [`transformer.h.${i}.attn.c_proj.weight`, [768, 768]], [`transformer.h.${i}.attn.c_proj.bias`, [768]],
      [`transformer.h.${i}.ln_2.weight`, [768]], [`transformer.h.${i}.ln_2.bias`, [768]],
      [`transformer.h.${i}.mlp.c_fc.weight`, [768, 3072]], [`transformer.h.${i}.mlp.c_fc.bias`, [3072]],
      [`transformer.h.${i}.mlp.c_proj.weight`, [3072, 768]], [`transformer.h.${i}.mlp.c_proj.bias`, [768]],
    );
  }
  out.push(['transformer.ln_f.weight', [768]], ['transformer.ln_f.bias', [768]]);
  return out;
}

test('gpt2 preset: every HF parameter name and shape, 124,439,808 parameters', () => {
  const shapes = gpt2ParameterShapes(GPT2_PRESETS.gpt2);
  assert.deepEqual([...shapes.entries()], hfGpt2Expected());
  assert.equal(gpt2ParameterCount(GPT2_PRESETS.gpt2), 124439808);
  assert.equal(gpt2ParameterCount(GPT2_PRESETS['gpt2-medium']), 354823168);
});

test('a built model exposes exactly gpt2ParameterShapes; value head adds v_head.summary.*', async () => {
  await initEngine({ quiet: true });
  const lm = new GPT2LMHeadModel(TINY, { seed: 0 });
  const vm = new GPT2WithValueHead(lm, { seed: 0 });
  const got = [...vm.namedWeights()].map(([n, v]) => [n, v.shape]);
  assert.deepEqual(got, [...[...gpt2ParameterShapes(lm.config)].map(([n, s]) => [n, s]), ['v_head.summary.weight', [1, 8]], ['v_head.summary.bias', [1]]]);
  assert.equal(vm.trainableVariables().length, got.length);
  const out = vm.forward({ inputIds: tf.tensor2d([[1, 2, 3]], [1, 3], 'int32') });
  assert.deepEqual(out.values.shape, [1, 3]);
  // values = hidden @ W^T + b
  const w = vm.namedWeights();
  const want = out.hidden.reshape([3, 8]).matMul(w.get('v_head.summary.weight')!, false, true).add(w.get('v_head.summary.bias')!).reshape([1, 3]);
  assert.ok(maxAbsDiff(out.values, want) < 1e-6);
  vm.dispose();
});

test('HF init: std 0.02, c_proj 0.02/sqrt(2 n_layer), zero biases, LN ones; seeded', async () => {
  await initEngine({ quiet: true });
  const cfg = { ...TINY, n_embd: 64, n_head: 4, vocab_size: 500, n_layer: 4 };
  const a = new GPT2LMHeadModel(cfg, { seed: 5 });
  const b = new GPT2LMHeadModel(cfg, { seed: 5 });
  const w = a.namedWeights();
  const sd = (n: string) => tf.tidy(() => tf.moments(w.get(n)!).variance.sqrt().dataSync()[0]);
  assert.ok(Math.abs(sd('transformer.wte.weight') - 0.02) < 0.001);
  assert.ok(Math.abs(sd('transformer.h.0.mlp.c_proj.weight') - 0.02 / Math.sqrt(8)) < 0.0005);
  assert.ok(Math.abs(sd('transformer.h.1.attn.c_attn.weight') - 0.02) < 0.001);
  assert.equal(w.get('transformer.h.0.attn.c_attn.bias')!.abs().sum().dataSync()[0], 0);
  assert.equal(w.get('transformer.ln_f.weight')!.sum().dataSync()[0], 64);
  assert.equal(maxAbsDiff(w.get('transformer.wte.weight')!, b.namedWeights().get('transformer.wte.weight')!), 0);
  a.dispose();
  b.dispose();
});

test('loadWeights: round trip, HF base-model names, clear errors', async () => {
  await initEngine({ quiet: true });
  const a = new GPT2LMHeadModel(TINY, { seed: 1 });
  const b = new GPT2LMHeadModel(TINY, { seed: 2 });
  // HF model.safetensors of gpt2 stores GPT2Model names ("h.0.ln_1.weight") plus attn.bias buffers
  const m = new Map<string, tf.Tensor>([...a.namedWeights()].map(([n, v]) => [n.replace(/^transformer\./, ''), v]));
  m.set('h.0.attn.bias', tf.ones([1, 1, 16, 16]));
  b.loadWeights(m);
  const ids = tf.tensor2d([[1, 2, 3]], [1, 3], 'int32');
  assert.equal(maxAbsDiff(a.forward({ inputIds: ids }).logits, b.forward({ inputIds: ids }).logits), 0);
  const bad = new Map(a.namedWeights() as Map<string, tf.Tensor>);
  bad.set('transformer.h.1.mlp.c_fc.weight', tf.zeros([32, 8]));
  assert.throws(() => b.loadWeights(bad, { source: 'x.safetensors' }), /x\.safetensors.*transformer\.h\.1\.mlp\.c_fc\.weight.*\[32,8\].*\[8,32\]/);
  const missing = new Map(a.namedWeights() as Map<string, tf.Tensor>);
  missing.delete('transformer.ln_f.bias');
  assert.throws(() => b.loadWeights(missing), /missing parameter.*transformer\.ln_f\.bias/);
  const extra = new Map(a.namedWeights() as Map<string, tf.Tensor>);
  extra.set('transformer.h.9.foo', tf.zeros([1]));
  assert.throws(() => b.loadWeights(extra), /unexpected parameter.*transformer\.h\.9\.foo/);
  a.dispose();
  b.dispose();
});

for (const backend of ['wasm', 'cpu']) {
  test(`gradients are non-zero for every variable on ${backend} (value head + LM loss, with dropout)`, async () => {
    await initEngine({ quiet: true });
    const prev = tf.getBackend();
    await tf.setBackend(backend);
    try {
      const vm = new GPT2WithValueHead(new GPT2LMHeadModel(TINY, { seed: 4 }), { seed: 4 });
      const ids = tf.tensor2d([[10, 1, 2, 3, 4], [5, 6, 7, 8, 9]], [2, 5], 'int32');
      const mask = tf.tensor2d([[0, 1, 1, 1, 1], [1, 1, 1, 1, 1]], [2, 5], 'int32');
      const vars = vm.trainableVariables();
      const rng = new Rng(1);
      const { grads } = tf.variableGrads(() => tf.tidy(() => {
        const out = vm.forward({ inputIds: ids, attentionMask: mask, training: true, rng });
        return lmLoss(vm, ids, mask).add(out.values.square().mean()) as tf.Scalar;
      }), vars);
      for (const [name, v] of vm.namedWeights()) {
        const g = grads[v.name];
        assert.ok(g, `no gradient for ${name}`);
        assert.ok(g.abs().sum().dataSync()[0] > 0, `zero gradient for ${name}`);
      }
      tf.dispose(Object.values(grads));
      vm.dispose();
    } finally {
      await tf.setBackend(prev);
    }
  });
}

test('dropout: off unless training, seeded when training', async () => {
  await initEngine({ quiet: true });
  const m = new GPT2LMHeadModel(TINY, { seed: 1 });
  const ids = tf.tensor2d([[1, 2, 3, 4]], [1, 4], 'int32');
  const a = m.forward({ inputIds: ids }).logits, b = m.forward({ inputIds: ids }).logits;
  assert.equal(maxAbsDiff(a, b), 0);
  const t1 = m.forward({ inputIds: ids, training: true, rng: new Rng(3) }).logits;
  const t2 = m.forward({ inputIds: ids, training: true, rng: new Rng(3) }).logits;
  const t3 = m.forward({ inputIds: ids, training: true, rng: new Rng(4) }).logits;
  assert.equal(maxAbsDiff(t1, t2), 0);
  assert.ok(maxAbsDiff(t1, t3) > 1e-4);
  assert.ok(maxAbsDiff(t1, a) > 1e-4);
  m.dispose();
});

test('tf.memory().numTensors is constant over 50 AdamW training steps', async () => {
  await initEngine({ quiet: true });
  const vm = new GPT2LMHeadModel(TINY, { seed: 0 });
  const vars = vm.trainableVariables();
  const opt = new AdamW({ lr: 1e-2, weightDecay: 0.01 });
  const ids = tf.tensor2d([[1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1]], [2, 6], 'int32');
  const rng = new Rng(0);
  const losses: number[] = [];
  let count = -1;
  for (let step = 0; step < 50; step++) {
    const { value, grads } = tf.variableGrads(() => lmLoss(vm, ids, undefined, { training: true, rng }), vars);
    opt.apply(vars, vars.map((v) => grads[v.name]));
    losses.push(value.dataSync()[0]);
    value.dispose();
    tf.dispose(Object.values(grads));
    if (step === 1) count = tf.memory().numTensors; // after optimizer state exists
    if (step > 1) assert.equal(tf.memory().numTensors, count, `step ${step}`);
  }
  assert.ok(losses[49] < losses[0] * 0.5, `loss ${losses[0]} -> ${losses[49]}`);
  opt.dispose();
  vm.dispose();
});
