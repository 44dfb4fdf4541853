import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf } from '../lib/engine';
import { GPT2LMHeadModel, GPT2WithValueHead } from '../lib/models/gpt2';
import {
  loadCheckpoint, loadGPT2, loadGPT2WithValueHead, loadTrainerState, saveCheckpoint, saveModelCheckpoint, saveTrainerState,
} from '../lib/models/checkpoint';
import { HostTensor, readSafetensors, tfToHost, writeSafetensors } from '../lib/models/safetensors';
import { trainByteLevelBPE } from '../lib/text/bpe-trainer';
import { GPT2Tokenizer } from '../lib/text/gpt2-tokenizer';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-ck-'));
const { tokenizer } = trainByteLevelBPE(['the movie was great, the movie was bad. the end.'.repeat(5)], { vocabSize: 270 });
const tiny = { vocab_size: tokenizer.vocabSize, n_positions: 32, n_embd: 16, n_layer: 2, n_head: 2, bos_token_id: tokenizer.eosTokenId, eos_token_id: tokenizer.eosTokenId };
const bits = (t: tf.Tensor) => Array.from(new Uint32Array((t.dataSync() as Float32Array).slice().buffer));

function logitsOf(model: GPT2LMHeadModel, ids: number[]): tf.Tensor {
  return tf.tidy(() => model.forward({ inputIds: tf.tensor2d([ids], [1, ids.length], 'int32') }).logits);
}

test('saveCheckpoint/loadCheckpoint round trip is bit-exact and writes the HF layout', () => {
  const model = new GPT2LMHeadModel(tiny, { seed: 3 });
  const dir = path.join(root, 'rt');
  saveCheckpoint(dir, { config: model.config, weights: model.namedWeights(), tokenizer, extra: { task: 'imdb', step: 7 } });
  assert.deepEqual(fs.readdirSync(dir).sort(), ['config.json', 'merges.txt', 'model.safetensors', 'rarlhf_extra.json', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json', 'vocab.json']);
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  assert.deepEqual(cfg.architectures, ['GPT2LMHeadModel']);
  assert.equal(cfg.model_type, 'gpt2');
  assert.equal(cfg.n_ctx, 32);
  assert.equal(cfg.activation_function, 'gelu_new');
  const st = readSafetensors(path.join(dir, 'model.safetensors'));
  assert.equal(st.metadata.format, 'pt'); // transformers refuses safetensors without it
  assert.ok(st.tensors.has('transformer.h.1.mlp.c_fc.weight') && !st.tensors.has('lm_head.weight'));
  const ck = loadCheckpoint(dir);
  assert.deepEqual(ck.config, model.config);
  assert.equal(ck.hasValueHead, false);
  assert.deepEqual(ck.extra, { task: 'imdb', step: 7 });
  assert.deepEqual([...ck.weights.keys()].sort(), [...model.namedWeights().keys()].sort());
  for (const [n, v] of model.namedWeights()) assert.deepEqual(bits(ck.weights.get(n)!), bits(v), n);
  assert.deepEqual(ck.tokenizer!.encode('the movie was great'), tokenizer.encode('the movie was great'));
  for (const t of ck.weights.values()) t.dispose();
  model.dispose();
});

test('end to end through GPT2LMHeadModel and GPT2WithValueHead: same logits and values after reload', () => {
  const model = new GPT2WithValueHead(new GPT2LMHeadModel(tiny, { seed: 5 }), { seed: 6 });
  const dir = path.join(root, 'vh');
  saveModelCheckpoint(dir, model, { tokenizer });
  assert.ok(readSafetensors(path.join(dir, 'model.safetensors')).tensors.has('v_head.summary.weight'));
  const ids = tokenizer.encode('the movie was bad');
  const loaded = loadGPT2WithValueHead(dir, { seed: 99 });
  assert.equal(loaded.hasValueHead, true);
  const a = model.forward({ inputIds: tf.tensor2d([ids], [1, ids.length], 'int32') });
  const b = loaded.model.forward({ inputIds: tf.tensor2d([ids], [1, ids.length], 'int32') });
  assert.deepEqual(bits(b.logits), bits(a.logits));
  assert.deepEqual(bits(b.values), bits(a.values));
  // the plain LM loader ignores the value head
  const lm = loadGPT2(dir).model;
  const c = logitsOf(lm, ids);
  assert.deepEqual(bits(c), bits(a.logits));
  // a plain LM checkpoint gets a fresh value head
  saveModelCheckpoint(path.join(root, 'plain'), model.lm);
  assert.equal(loadGPT2WithValueHead(path.join(root, 'plain')).hasValueHead, false);
  for (const t of [a.logits, a.values, a.hidden, b.logits, b.values, b.hidden, c]) t.dispose();
  model.dispose();
  loaded.model.dispose();
  lm.dispose();
});

test('HF-style checkpoint: names without "transformer.", tied lm_head.weight, attn.bias buffers, sharded index', () => {
  const model = new GPT2LMHeadModel(tiny, { seed: 8 });
  const host = tfToHost(model.namedWeights());
  const hf = new Map<string, HostTensor>();
  for (const [n, t] of host) hf.set(n.replace(/^transformer\./, ''), t);
  hf.set('lm_head.weight', host.get('transformer.wte.weight')!);
  hf.set('h.0.attn.bias', { dtype: 'F32', shape: [1, 1, 32, 32], values: new Float32Array(1024).fill(1) });
  const dir = path.join(root, 'hf');
  fs.mkdirSync(dir);
  // an HF gpt2 config.json carries extra fields the kit ignores
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...tiny, n_ctx: 32, model_type: 'gpt2', task_specific_params: { 'text-generation': { do_sample: true } }, n_inner: null }));
  writeSafetensors(path.join(dir, 'model.safetensors'), hf, { format: 'pt' });
  const lm = loadGPT2(dir).model;
  const ids = [1, 2, 3, 4];
  assert.deepEqual(bits(logitsOf(lm, ids)), bits(logitsOf(model, ids)));
  // lm_head.weight that differs from wte is an untied head the kit cannot represent
  hf.set('lm_head.weight', { ...host.get('transformer.wte.weight')!, values: new Float32Array(host.get('transformer.wte.weight')!.values.length) });
  writeSafetensors(path.join(dir, 'model.safetensors'), hf, { format: 'pt' });
  assert.throws(() => loadCheckpoint(dir), /model\.safetensors: "lm_head\.weight" differs from "transformer\.wte\.weight"/);
  // sharded: model.safetensors.index.json + two files
  fs.rmSync(path.join(dir, 'model.safetensors'));
  const names = [...host.keys()];
  const shards = [names.slice(0, 5), names.slice(5)];
  const weightMap: Record<string, string> = {};
  shards.forEach((ns, i) => {
    const f = `model-0000${i + 1}-of-00002.safetensors`;
    writeSafetensors(path.join(dir, f), new Map(ns.map((n) => [n, host.get(n)!])), { format: 'pt' });
    for (const n of ns) weightMap[n] = f;
  });
  fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  const sharded = loadGPT2(dir).model;
  assert.deepEqual(bits(logitsOf(sharded, ids)), bits(logitsOf(model, ids)));
  for (const m of [model, lm, sharded]) m.dispose();
});

test('save is atomic: a failure leaves no directory, and an existing checkpoint survives', () => {
  const model = new GPT2LMHeadModel(tiny, { seed: 1 });
  const broken = { save: () => { throw new Error('disk full (simulated)'); } } as unknown as GPT2Tokenizer;
  const fresh = path.join(root, 'atomic-new');
  assert.throws(() => saveCheckpoint(fresh, { config: model.config, weights: model.namedWeights(), tokenizer: broken }), /disk full/);
  assert.equal(fs.existsSync(fresh), false);
  const keep = path.join(root, 'atomic-keep');
  saveCheckpoint(keep, { config: model.config, weights: model.namedWeights(), extra: { v: 1 } });
  const other = new GPT2LMHeadModel(tiny, { seed: 2 });
  assert.throws(() => saveCheckpoint(keep, { config: other.config, weights: other.namedWeights(), tokenizer: broken }), /disk full/);
  assert.deepEqual(loadCheckpoint(keep).extra, { v: 1 });
  assert.deepEqual(fs.readdirSync(root).filter((f) => f.includes('.tmp-') || f.includes('.old-')), []);
  // overwriting succeeds and replaces the contents
  saveCheckpoint(keep, { config: other.config, weights: other.namedWeights() });
  const ck = loadCheckpoint(keep);
  assert.equal(ck.extra, undefined);
  assert.deepEqual(bits(ck.weights.get('transformer.wte.weight')!), bits(other.namedWeights().get('transformer.wte.weight')!));
  model.dispose();
  other.dispose();
});

test('bad checkpoints: errors name config.json and the field, or the weight file and the tensor', () => {
  const model = new GPT2LMHeadModel(tiny, { seed: 4 });
  const dir = path.join(root, 'bad');
  saveCheckpoint(dir, { config: model.config, weights: model.namedWeights() });
  const cfgFile = path.join(dir, 'config.json');
  const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
  const withCfg = (c: object) => fs.writeFileSync(cfgFile, JSON.stringify(c));
  withCfg({ ...cfg, n_embd: undefined });
  assert.throws(() => loadCheckpoint(dir), /bad\/config\.json: field "n_embd" is missing/);
  withCfg({ ...cfg, n_layer: 2.5 });
  assert.throws(() => loadCheckpoint(dir), /config\.json: field "n_layer" must be a positive integer/);
  withCfg({ ...cfg, activation_function: 'relu' });
  assert.throws(() => loadCheckpoint(dir), /config\.json: field "activation_function" is "relu"/);
  withCfg({ ...cfg, model_type: 'llama' });
  assert.throws(() => loadCheckpoint(dir), /config\.json: field "model_type"/);
  fs.writeFileSync(cfgFile, '{"n_embd": 16,');
  assert.throws(() => loadCheckpoint(dir), /config\.json is not valid JSON/);
  withCfg({ ...cfg, n_layer: 3 });
  assert.throws(() => loadCheckpoint(dir), /model\.safetensors: missing tensor "transformer\.h\.2\.ln_1\.weight"/);
  withCfg({ ...cfg, n_embd: 32, n_head: 2 });
  assert.throws(() => loadCheckpoint(dir), /model\.safetensors: tensor "transformer\.wte\.weight" has shape \[270,16\] but config\.json implies \[270,32\]/);
  withCfg({ ...cfg, n_layer: 1 });
  assert.throws(() => loadCheckpoint(dir), /model\.safetensors: unexpected tensor "transformer\.h\.1\./);
  withCfg(cfg);
  fs.renameSync(path.join(dir, 'model.safetensors'), path.join(dir, 'pytorch_model.bin'));
  assert.throws(() => loadCheckpoint(dir), /model\.safetensors is missing \(found pytorch_model\.bin/);
  fs.rmSync(cfgFile);
  assert.throws(() => loadCheckpoint(dir), /config\.json is missing/);
  // saving weights that do not match the config is refused before anything is written
  const wrong = new Map(model.namedWeights() as Map<string, tf.Tensor>);
  wrong.delete('transformer.ln_f.bias');
  assert.throws(() => saveCheckpoint(path.join(root, 'never'), { config: model.config, weights: wrong }), /missing tensor "transformer\.ln_f\.bias"/);
  assert.equal(fs.existsSync(path.join(root, 'never')), false);
  model.dispose();
});

test('trainer state: JSON state and optimizer tensors round-trip bit-exactly', () => {
  const dir = path.join(root, 'state');
  const m = tf.randomNormal([4, 3], 0, 1, 'float32', 11);
  const v = tf.randomUniform([7], 0, 1e-8, 'float32', 12);
  const state = { step: 123, kl_coef: 0.2 / 3, rng: [2654435769, 7], lr: 1.41e-5, history: [{ score: -0.1 }] };
  saveTrainerState(dir, { state, tensors: new Map([['exp_avg.transformer.wte.weight', m], ['exp_avg_sq.transformer.wte.weight', v]]) });
  const back = loadTrainerState(dir)!;
  assert.deepEqual(back.state, state);
  assert.deepEqual(bits(back.tensors.get('exp_avg.transformer.wte.weight')!), bits(m));
  assert.deepEqual(bits(back.tensors.get('exp_avg_sq.transformer.wte.weight')!), bits(v));
  assert.equal(loadTrainerState(path.join(root, 'rt')), null);
  fs.rmSync(path.join(dir, 'optimizer.safetensors'));
  assert.throws(() => loadTrainerState(dir), /optimizer\.safetensors is missing/);
  for (const t of [m, v, ...back.tensors.values()]) t.dispose();
});
