import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { after, before, test } from 'node:test';
import { tf } from '../lib/engine';
import { dataFile } from '../lib/data/paths';
import { run } from '../lib/cli/commands/reward';
import { readSafetensors } from '../lib/models/safetensors';
import { evalRowsFor } from '../lib/rewards/heldout';
import { loadRewardModel } from '../lib/rewards/load';
import { OnnxRewardModel } from '../lib/rewards/onnx';
import { accuracy } from '../lib/rewards/stats';
import { bertTokenizerJson } from '../lib/rewards/tiny';
import { fitTransformer } from '../lib/rewards/train-transformer';
import { TransformerRewardModel } from '../lib/rewards/transformer';
import { WordPieceTokenizer } from '../lib/text/wordpiece';
import { Progress, Stage, configHash } from '../lib/pipeline/run-dir';
import { REWARD_KINDS } from '../lib/repro/pipeline';
import { reproConfig } from '../lib/repro/config';
import { getTaskSpec } from '../lib/data/task-specs';

const tok = WordPieceTokenizer.fromVocabFile(dataFile('tokenizers/bert-base-uncased/vocab.txt'));
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-transformer-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
const id = (t: string) => {
  const i = tok.ids.get(t);
  assert.ok(i !== undefined, `${t} not in the vocabulary`);
  return i;
};
// a tiny random encoder; initializer_range 0.3 so outputs vary strongly with the input
const TINY = { hidden_size: 32, num_attention_heads: 2, intermediate_size: 64, num_hidden_layers: 2, max_position_embeddings: 16, initializer_range: 0.3 };
const TEXTS = ['Hello, world!', 'ok', 'a much longer text that is certainly cut at sixteen tokens, because it goes on and on and on', 'Café [SEP] naïve', 'you are a complete idiot', 'thanks for the edit'];
const near = (a: number[], b: number[], tol: number, what: string) => a.forEach((x, i) => assert.ok(Math.abs(x - b[i]) <= tol, `${what}[${i}]: ${x} vs ${b[i]}`));

let imdbDir: string;
let toxDir: string;
let imdbModel: TransformerRewardModel;
let toxModel: TransformerRewardModel;
let rawImdb: TransformerRewardModel;
before(async () => {
  rawImdb = await TransformerRewardModel.create('imdb', tok, TINY, 3, 'test');
  imdbModel = await rawImdb.calibrated({ scale: 2, shift: 0.5, method: 'test' });
  const rawTox = await TransformerRewardModel.create('toxicity', tok, TINY, 4, 'test');
  toxModel = await rawTox.calibrated({ scale: 1.5, shift: -0.2, method: 'test', clip: [-0.3, 0.4] });
  rawTox.dispose();
  imdbDir = path.join(root, 'imdb');
  toxDir = path.join(root, 'tox');
  await imdbModel.save(imdbDir);
  await toxModel.save(toxDir);
});

test('WordPiece: hand-computed bert-base-uncased ids (punctuation, accents, unknown words, truncation)', () => {
  assert.deepEqual(tok.encode('Hello, World!'), [101, 7592, 1010, 2088, 999, 102]); // [CLS] hello , world ! [SEP]
  assert.deepEqual(tok.encode('Café naïve résumé'), [101, id('cafe'), id('naive'), id('resume'), 102]); // accents stripped
  assert.deepEqual(tok.encode("don't"), [101, id('don'), id("'"), id('t'), 102]);
  assert.deepEqual(tok.encode('unaffable'), [101, id('una'), id('##ffa'), id('##ble'), 102]); // greedy longest match
  assert.deepEqual(tok.encode('emoji 😀 ok'), [101, id('em'), id('##oj'), id('##i'), 100, id('ok'), 102]); // no piece for the emoji: [UNK] = 100
  assert.deepEqual(tok.encode('a'.repeat(101)), [101, 100, 102]); // > 100 characters: one [UNK]
  assert.deepEqual(tok.encode('tab\there\u200bzero'), [101, id('tab'), id('here'), id('##zer'), id('##o'), 102]); // zero-width space (Cf) dropped, not a split
  assert.deepEqual(tok.encode('x [SEP] y'), [101, id('x'), 102, id('y'), 102]); // written special token kept whole
  assert.deepEqual(tok.encode('one two three four five', 5), [101, id('one'), id('two'), id('three'), 102]); // keep [SEP]
  assert.throws(() => tok.encode('x', 2), /maxLength must be an integer >= 3/);
  // prefix(): the longest whitespace-bounded prefix within n tokens (reward eval --prefix-tokens)
  assert.equal(tok.prefix('one two three four five', 3), 'one two three');
  assert.equal(tok.prefix('Hello, world! again', 3), 'Hello,'); // "hello , world !" would be 4
  assert.equal(tok.prefix('short', 3), 'short');
});

test('WordPiece equals the transformers.js tokenizer PPO scores with (IMDB and Jigsaw texts, edge cases)', async () => {
  const dir = path.join(root, 'tk');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(bertTokenizerJson(tok.vocab)));
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ tokenizer_class: 'BertTokenizer', do_lower_case: true }));
  const T = await import('@huggingface/transformers');
  T.env.allowRemoteModels = false;
  T.env.localModelPath = root + path.sep;
  const hf = (await T.AutoTokenizer.from_pretrained('tk', { local_files_only: true })) as unknown as (t: string[], o: object) => { input_ids: number[][] };
  const lines = (f: string) => zlib.gunzipSync(fs.readFileSync(dataFile(f))).toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const texts = [
    ...TEXTS, '日本語テキスト 中文', 'Ünïcödé — “quotes” …', 'İstanbul ß ﬁ', '<br /><br />This movie', 'a\u0000b\ufffdc', '  spaced\n\nout  ',
    ...lines('imdb/imdb_test.jsonl.gz').filter((_: unknown, i: number) => i % 250 === 0).map((r: { text: string }) => r.text),
    ...lines('jigsaw/ra_rlhf_jigsaw_test.jsonl.gz').filter((_: unknown, i: number) => i % 80 === 0).map((r: { comment_text: string }) => r.comment_text),
  ];
  const want = hf(texts, { padding: false, truncation: false, return_tensor: false }).input_ids;
  texts.forEach((t, i) => assert.deepEqual(tok.encode(t, 100000), want[i], `text ${i}: ${JSON.stringify(t.slice(0, 60))}`));
  assert.ok(texts.length > 200);
});

test('ONNX export scores like the TF.js forward (1e-4) through transformers.js / onnxruntime, with padding and truncation', async () => {
  for (const [m, dir] of [[imdbModel, imdbDir], [toxModel, toxDir]] as const) {
    const tfjs = await m.score(TEXTS, { batchSize: TEXTS.length });
    const onnxModel = await loadRewardModel(dir);
    assert.ok(onnxModel instanceof OnnxRewardModel, 'loadRewardModel goes through the ONNX path');
    assert.equal(onnxModel.maxLength, 16); // truncates at the model's positions, not 512
    const viaOnnx = await onnxModel.score(TEXTS, { batchSize: TEXTS.length });
    near(viaOnnx, tfjs, 1e-4, `${m.meta.task} batched`);
    near(await onnxModel.score(TEXTS, { batchSize: 1 }), tfjs, 1e-4, `${m.meta.task} one at a time`);
    assert.ok(new Set(tfjs.map((x) => x.toFixed(3))).size >= 4, `scores should differ between texts: ${tfjs}`);
    await onnxModel.dispose?.();
  }
  // the raw logits too (imdb: [NEGATIVE, POSITIVE] = [-r, r])
  const o = await OnnxRewardModel.load(imdbDir);
  const [l] = await o.logits(['Hello, world!']);
  const [r] = await imdbModel.score(['Hello, world!']);
  near(l, [-r, r], 1e-4, 'logits');
  await o.dispose();
});

test('calibration is folded into the classifier: imdb reward = 2 z + 0.5; toxicity = clip(1.5 z - 0.2, -0.3, 0.4)', async () => {
  const z = await rawImdb.rawScores(TEXTS);
  near(await imdbModel.score(TEXTS), z.map((v) => 2 * v + 0.5), 1e-5, 'imdb');
  const tox = await toxModel.score(TEXTS);
  assert.ok(tox.every((v) => v >= -0.3 - 1e-6 && v <= 0.4 + 1e-6), `clipped: ${tox}`);
  await assert.rejects(imdbModel.rawScores(TEXTS), /needs the training-stage model/);
  assert.equal(evalRowsFor(toxModel), 'reward-heldout');
  assert.equal(evalRowsFor(imdbModel), 'all');
  const viaOnnx = await loadRewardModel(toxDir);
  assert.equal(evalRowsFor(viaOnnx), 'reward-heldout'); // held-out rule also for the ONNX-loaded kit model
  await viaOnnx.dispose?.();
});

test('save/load round trip: HF layout and names, identical TF.js scores, clear errors', async () => {
  const cfg = JSON.parse(fs.readFileSync(path.join(imdbDir, 'config.json'), 'utf8'));
  assert.equal(cfg.model_type, 'bert');
  assert.deepEqual(cfg.id2label, { 0: 'NEGATIVE', 1: 'POSITIVE' });
  assert.equal(cfg.hidden_act, 'gelu_new');
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'vocab.txt', 'special_tokens_map.json', 'model.safetensors', 'onnx/model.onnx']) assert.ok(fs.existsSync(path.join(imdbDir, f)), f);
  const st = readSafetensors(path.join(imdbDir, 'model.safetensors'));
  assert.equal(st.metadata.format, 'pt');
  assert.deepEqual(st.tensors.get('bert.encoder.layer.0.intermediate.dense.weight')!.shape, [64, 32]); // torch Linear [out, in]
  assert.deepEqual(st.tensors.get('classifier.weight')!.shape, [2, 32]);
  assert.deepEqual(st.tensors.get('bert.embeddings.word_embeddings.weight')!.shape, [30522, 32]);
  const loaded = await TransformerRewardModel.load(imdbDir);
  assert.deepEqual(await loaded.score(TEXTS), await imdbModel.score(TEXTS));
  loaded.dispose();
  // broken folders name the file and field
  const bad = path.join(root, 'bad');
  fs.cpSync(imdbDir, bad, { recursive: true });
  fs.writeFileSync(path.join(bad, 'config.json'), JSON.stringify({ ...cfg, hidden_size: undefined }));
  await assert.rejects(TransformerRewardModel.load(bad), /config\.json: field "hidden_size" is missing/);
  fs.writeFileSync(path.join(bad, 'config.json'), JSON.stringify({ ...cfg, hidden_size: 48, num_attention_heads: 2 }));
  await assert.rejects(TransformerRewardModel.load(bad), /model\.safetensors: tensor "bert\.embeddings\.word_embeddings\.weight" has shape \[30522,32\], expected \[30522,48\]/);
  fs.writeFileSync(path.join(bad, 'config.json'), JSON.stringify(cfg));
  fs.rmSync(path.join(bad, 'onnx'), { recursive: true });
  await assert.rejects(loadRewardModel(bad), /onnx[/\\]model\.onnx not found .*--arch transformer/);
});

test('the encoder learns: a synthetic good/bad task is separated after a few epochs', async () => {
  const before = tf.memory().numTensors;
  const m = await TransformerRewardModel.create('imdb', tok, { ...TINY, initializer_range: 0.02, num_hidden_layers: 1 }, 0, 'test');
  const words = ['the', 'film', 'was', 'really', 'quite', 'and', 'plot', 'acting'];
  const mk = (i: number, good: boolean) => `${words[i % 8]} ${words[(i * 3) % 8]} ${good ? 'wonderful' : 'terrible'} ${words[(i * 5) % 8]}`;
  const ex = Array.from({ length: 160 }, (_, i) => ({ ids: m.encode(mk(i, i % 2 === 0)), y: (i % 2 === 0 ? 1 : 0) as 0 | 1 }));
  const fit = await fitTransformer(m, ex, { layers: 1, hidden: 32, heads: 2, intermediate: 64, maxLength: 16, dropout: 0, epochs: 8, batchSize: 16, lr: 5e-3, warmup: 0.1, weightDecay: 0, regWeight: 0, seed: 0 }, () => {});
  assert.ok(fit.epochLoss[7] < 0.2 && fit.epochLoss[7] < fit.epochLoss[0], `losses ${fit.epochLoss}`);
  const heldOut = Array.from({ length: 20 }, (_, i) => mk(i + 1000, i % 2 === 0));
  assert.equal(accuracy(await m.rawScores(heldOut), heldOut.map((_, i) => (i % 2 === 0 ? 1 : 0))), 1);
  m.dispose();
  assert.equal(tf.memory().numTensors, before, 'training leaves no tensors behind');
});

async function capture(fn: () => Promise<void>): Promise<string> {
  const lines: string[] = [];
  const orig = console.log;
  console.log = (...a: unknown[]) => void lines.push(a.join(' '));
  try {
    await fn();
  } finally {
    console.log = orig;
  }
  return lines.join('\n');
}

test('reward train --arch transformer --quick end to end; reward eval on the folder goes through ONNX and agrees', async () => {
  const out = path.join(root, 'cli-imdb');
  const ev = JSON.parse((await capture(() => run(['train', '--task', 'imdb', '--arch', 'transformer', '--quick', '--out', out, '--json']))).trim().split('\n').pop()!);
  assert.equal(ev.task, 'imdb');
  assert.ok(ev.test.n >= 250 && ev.test.n <= 350, `quick eval rows ${ev.test.n}`);
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'vocab.txt', 'model.safetensors', 'onnx/model.onnx']) assert.ok(fs.existsSync(path.join(out, f)), f);
  const cfg = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
  assert.equal(cfg.rarlhf.training.trainRows, 400);
  assert.equal(cfg.rarlhf.training.arch, 'transformer');
  assert.match(cfg.rarlhf.calibration.method, /mean\/std matching .* distilbert-imdb reference rows/);
  const again = JSON.parse((await capture(() => run(['eval', '--model', out, '--task', 'imdb', '--limit', '300', '--json']))).trim());
  assert.equal(again.test.n, ev.test.n);
  // loose: the barely trained quick model has a tiny z spread, so its calibration scale is large and
  // float32 rounding of z shows (~1e-3); the 1e-4 ONNX-vs-TF.js check is the test above
  assert.ok(Math.abs(again.test.auc - ev.test.auc) < 0.01 && Math.abs(again.reference.spearman - ev.reference.spearman) < 0.01, `ONNX eval ${JSON.stringify(again.reference)} vs TF.js ${JSON.stringify(ev.reference)}`);
  assert.ok(Math.abs(again.reference.meanStd.model[0] - ev.reference.meanStd.model[0]) < 5e-3);
  await assert.rejects(run(['train', '--task', 'imdb', '--arch', 'lstm', '--out', path.join(root, 'x')]), /--arch must be "linear" or "transformer", got "lstm"/);
});

test('repro/study hook: REWARD_KINDS.transformer trains a cached stage whose folder loadRewardModel scores via ONNX', async () => {
  const cache = path.join(root, 'cache');
  const stage = (name: string, key: unknown) => new Stage(path.join(cache, `${name}-${configHash(key)}`), name, key);
  const spec = getTaskSpec('jigsaw-mini');
  const ctx = { cfg: reproConfig(spec, { quick: true }), task: { spec } as never, stage, progress: new Progress(true), timings: [], quick: true };
  const dir = await REWARD_KINDS.transformer(ctx);
  assert.match(path.basename(path.dirname(dir)), /^reward-toxicity-transformer-/);
  const m = await loadRewardModel(dir);
  assert.ok(m instanceof OnnxRewardModel);
  assert.equal(evalRowsFor(m), 'reward-heldout'); // a kit toxicity model: evaluate on the held-out side
  assert.equal((await m.score(['thanks', 'idiot'])).length, 2);
  await m.dispose?.();
  assert.equal(await REWARD_KINDS.transformer(ctx), dir); // cached: same folder, not retrained
  assert.equal(ctx.timings.filter((t: { cached: boolean }) => t.cached).length, 1);
});
