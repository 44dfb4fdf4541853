import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { tf } from '../lib/engine';
import { loadImdbLabelled } from '../lib/rewards/data';
import { featurize, fnv1a, packBatch, tokenizeWords } from '../lib/rewards/features';
import { fitKitModel } from '../lib/rewards/fit';
import { loadRewardModel } from '../lib/rewards/load';
import { accuracy } from '../lib/rewards/stats';
import { fitCalibration, trainImdbReward } from '../lib/rewards/train';
import { KIT_FORMAT, KitRewardModel, type KitRewardConfig } from '../lib/rewards/trained';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-kit-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

test('features: lowercase, <br /> stripped, unigrams + bigrams, L2-normalised sublinear counts', () => {
  assert.deepEqual(tokenizeWords("Great<br /><br />movie, isn't it?!"), ['great', 'movie', "isn't", 'it', '?', '!']);
  const f = featurize('good good bad', { hashBits: 20, ngrams: 2 });
  const mask = 2 ** 20 - 1;
  const want = new Map<number, number>([
    [fnv1a('good') & mask, 1 + Math.log(2)],
    [fnv1a('bad') & mask, 1],
    [fnv1a('good good') & mask, 1],
    [fnv1a('good bad') & mask, 1],
  ]);
  const norm = Math.sqrt([...want.values()].reduce((s, v) => s + v * v, 0));
  assert.equal(f.idx.length, 4);
  for (let k = 0; k < 4; k++) assert.ok(Math.abs(f.val[k] - want.get(f.idx[k])! / norm) < 1e-6);
  const p = packBatch([f, featurize('x', { hashBits: 20, ngrams: 2 })]);
  assert.equal(p.k, 4);
  assert.equal(p.val[4 + 1], 0); // padding adds nothing
});

test('the linear model is w·x + b and fitting a regression target recovers it', async () => {
  const cfg: KitRewardConfig = { format: KIT_FORMAT, version: 1, name: 't', task: 'toxicity', features: { hashBits: 8, ngrams: 1 }, calibration: { scale: 1, shift: 0, method: 'identity' }, rewardScale: 'test' };
  const m = await KitRewardModel.create(cfg);
  // target: reward = +3 for texts with "nice", −3 with "awful"
  const texts = ['nice', 'awful', 'nice nice', 'awful awful'];
  const ex = texts.map((t) => ({ row: featurize(t, cfg.features), target: t.includes('nice') ? 3 : -3 }));
  await fitKitModel(m, ex, { epochs: 300, batchSize: 4, lr: 0.05, l2: 0, regWeight: 1, seed: 0 });
  const s = await m.score(['nice', 'awful']);
  assert.ok(Math.abs(s[0] - 3) < 0.05 && Math.abs(s[1] + 3) < 0.05, `scores ${s}`);
  // by hand: one feature with value 1 -> w[bucket] + b
  const w = await m.weight.data();
  const b = (await m.bias.data())[0];
  assert.ok(Math.abs(s[0] - (w[fnv1a('nice') & 255] + b)) < 1e-5);
  m.dispose();
});

test('IMDB kit model learns from 3,000 reviews: held-out accuracy well above chance; save/load identical', async () => {
  const t0 = Date.now();
  const { model } = await trainImdbReward({ limit: 3000, hyper: { hashBits: 18, epochs: 3 } });
  const test = (await loadImdbLabelled('test')).filter((_, i) => i % 12 === 0); // 2,084 rows, both classes
  const texts = test.map((r) => r.text);
  const s = await model.score(texts);
  const acc = accuracy(s, test.map((r) => r.label));
  assert.ok(acc > 0.78, `held-out accuracy ${acc}`);
  assert.ok(Date.now() - t0 < 60_000, `took ${Date.now() - t0} ms`);
  // sign convention: a clearly positive review scores above a clearly negative one
  const [pos, neg] = await model.score(['A wonderful, moving film. Brilliant acting, I loved it.', 'Awful, boring and stupid. The worst movie I have ever seen.']);
  assert.ok(pos > 0 && neg < 0, `pos ${pos} neg ${neg}`);
  // batched == unbatched
  const few = texts.slice(0, 5);
  const one: number[] = [];
  for (const t of few) one.push(...(await model.score([t], { batchSize: 1 })));
  (await model.score(few, { batchSize: 5 })).forEach((v, i) => assert.ok(Math.abs(v - one[i]) < 1e-5));
  const dir = path.join(root, 'imdb');
  await model.save(dir);
  const loaded = await loadRewardModel(dir);
  assert.deepEqual(await loaded.score(texts.slice(0, 200)), s.slice(0, 200));
  loaded.dispose?.();
  model.dispose();
});

test('calibration: moments matches mean/std, lsq is the least-squares line', () => {
  const z = [0, 1, 2, 3];
  const ref = [1, 1, 5, 5];
  const m = fitCalibration(z, ref, 'moments');
  const out = z.map((v) => m.scale * v + m.shift);
  const mean = out.reduce((a, b) => a + b) / 4;
  assert.ok(Math.abs(mean - 3) < 1e-12);
  assert.ok(Math.abs(Math.sqrt(out.reduce((a, b) => a + (b - 3) ** 2, 0) / 4) - 2) < 1e-12);
  const l = fitCalibration(z, ref, 'lsq');
  assert.ok(Math.abs(l.scale - 1.6) < 1e-12 && Math.abs(l.shift - 0.6) < 1e-12); // Σdz·dy = 8, Σdz² = 5
});

test('bad input: empty texts, broken model folders', async () => {
  const cfg: KitRewardConfig = { format: KIT_FORMAT, version: 1, name: 'e', task: 'imdb', features: { hashBits: 4, ngrams: 2 }, calibration: { scale: 1, shift: 0, method: 'identity' }, rewardScale: 'test' };
  const clipped = await KitRewardModel.create({ ...cfg, calibration: { scale: 1, shift: 5, method: 'test', clip: [-1, 2] } });
  assert.deepEqual(await clipped.score(['anything']), [2]); // z = 0 -> 5, clipped to 2
  clipped.dispose();
  const before = tf.memory().numTensors;
  const m = await KitRewardModel.create(cfg);
  await m.score(['scoring leaves no tensors behind']);
  assert.equal(tf.memory().numTensors, before + 2); // just the weight and bias variables
  await assert.rejects(m.score(['ok', '   ']), /texts\[1\] is empty/);
  await assert.rejects(m.score(['ok'], { batchSize: 0 }), /batchSize must be a positive integer/);
  const dir = path.join(root, 'broken');
  await m.save(dir);
  const cfgFile = path.join(dir, 'config.json');
  fs.writeFileSync(cfgFile, JSON.stringify({ ...cfg, features: { hashBits: 5, ngrams: 2 } }));
  await assert.rejects(KitRewardModel.load(dir), /tensor "weight" must be F32 with 32 values/);
  fs.writeFileSync(cfgFile, '{oops');
  await assert.rejects(loadRewardModel(dir), /config\.json is not valid JSON/);
  m.dispose();
  assert.equal(tf.memory().numTensors, before);
});
