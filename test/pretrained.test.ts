/** One loading verb: X.fromPretrained(idOrDir) for a folder or a Hub id (a fake Hub on 127.0.0.1). */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initEngine } from '../lib/engine';
import { AutoModelForCausalLM, AutoModelForCausalLMWithValueHead, AutoTokenizer, resolvePretrained } from '../lib/models/pretrained';
import { GPT2LMHeadModel, GPT2WithValueHead } from '../lib/models/gpt2';
import { saveCheckpoint } from '../lib/models/checkpoint';
import { AutoRewardModel } from '../lib/rewards/load';
import { KIT_FORMAT, KitRewardModel } from '../lib/rewards/trained';
import { tinyConfig, toyTokenizer } from './rl-fixtures';
import { startFakeHub, type FakeHub } from './hub-fixture';

const COMMIT = 'b'.repeat(40);
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-pretrained-'));
const src = path.join(root, 'ckpt');
let hub: FakeHub;
let endpoint = '';

before(async () => {
  await initEngine({ quiet: true });
  const policy = new GPT2WithValueHead(new GPT2LMHeadModel(tinyConfig, { seed: 1 }), { seed: 2 });
  saveCheckpoint(src, { config: policy.config, weights: policy.namedWeights(), tokenizer: toyTokenizer() });
  policy.dispose();
  hub = await startFakeHub({
    commit: COMMIT,
    file: (repo, _rev, file) => (repo === 'org/toy' && fs.existsSync(path.join(src, file)) ? fs.readFileSync(path.join(src, file)) : undefined),
  });
  endpoint = hub.endpoint;
});

after(() => {
  hub.close();
  fs.rmSync(root, { recursive: true, force: true });
});

test('a folder loads directly: tokenizer, LM, LM with its value head', async () => {
  const tok = await AutoTokenizer.fromPretrained(src);
  assert.equal(tok.vocabSize, 11);
  const lm = await AutoModelForCausalLM.fromPretrained(src);
  assert.equal(lm.model.config.n_embd, tinyConfig.n_embd);
  assert.equal(lm.dir, src);
  assert.ok(lm.tokenizer);
  const vh = await AutoModelForCausalLMWithValueHead.fromPretrained(src);
  assert.ok(vh.model.namedWeights().has('v_head.summary.weight'));
  lm.model.dispose();
  vh.model.dispose();
});

test('a Hub id resolves through the HF cache (downloaded once, then offline)', async () => {
  const cacheDir = path.join(root, 'hf');
  const lm = await AutoModelForCausalLM.fromPretrained('org/toy', { endpoint, cacheDir });
  assert.equal(lm.dir, path.join(cacheDir, 'models--org--toy', 'snapshots', COMMIT));
  assert.deepEqual(fs.readFileSync(path.join(lm.dir, 'model.safetensors')), fs.readFileSync(path.join(src, 'model.safetensors')));
  lm.model.dispose();
  const tok = await AutoTokenizer.fromPretrained('org/toy', { endpoint: 'http://127.0.0.1:9', cacheDir, offline: true });
  assert.equal(tok.vocabSize, 11);
  await assert.rejects(AutoModelForCausalLM.fromPretrained('org/absent', { endpoint, cacheDir, field: 'model.policy' }), /config field "model\.policy": "org\/absent" is not a local folder and not available as a Hugging Face model/);
});

test('bad inputs name what is wrong without a request', async () => {
  await assert.rejects(resolvePretrained(''), /is empty/);
  await assert.rejects(resolvePretrained('./no/such/dir'), /fromPretrained: /);
  const bare = path.join(root, 'no-tokenizer');
  fs.mkdirSync(bare);
  await assert.rejects(AutoTokenizer.fromPretrained(bare), /no tokenizer files/);
});

test('AutoRewardModel.fromPretrained loads a kit reward folder', async () => {
  const dir = path.join(root, 'reward');
  const m = await KitRewardModel.create({ format: KIT_FORMAT, version: 1, name: 'toy', task: 'imdb', features: { hashBits: 8, ngrams: 1 }, calibration: { scale: 1, shift: 0, method: 'identity' }, rewardScale: 'log-odds' });
  await m.save(dir);
  m.dispose();
  const r = await AutoRewardModel.fromPretrained(dir);
  const s = await r.score(['a fine film']);
  assert.ok(Number.isFinite(s[0]));
  await r.dispose?.();
});
