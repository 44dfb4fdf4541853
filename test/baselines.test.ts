import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initEngine, tf } from '../lib/engine';
import { Rng } from '../lib/engine/rng';
import { GPT2LMHeadModel } from '../lib/models/gpt2';
import { generate } from '../lib/models/generate';
import { DExpertsLM, dexpertsLogits } from '../lib/models/dexperts';
import { RestrictedVocabLM, withControlTokens } from '../lib/models/control-tokens';
import { quantileTokens, quarkBatch, quarkLoss, refResponseLogits, trainQuark, warmupLinearFactor, type QuarkOptions } from '../lib/rl/quark';
import { argmax, generationRows } from '../lib/pipeline/generations';
import { saveLM } from '../lib/pipeline/adapters';
import { AutoModelForCausalLM } from '../lib/models/pretrained';
import { parseMethods, methodRows, baselinesConfig } from '../lib/baselines/config';
import { runBaselines } from '../lib/baselines/run';
import { reproConfig } from '../lib/repro/config';
import { getTaskSpec } from '../lib/data/task-specs';
import { readGenerations } from '../lib/eval/generations';
import type { RewardModel } from '../lib/rewards/types';
import { EOS, ToyRewardModel, tinyConfig, toyPrompts, toyReward, toyTokenizer } from './rl-fixtures';

const DATA = path.resolve(__dirname, '..', '..', 'shared', 'data');
const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-5) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol, `index ${i}: ${a[i]} vs ${b[i]}`);
};

test('DExperts logits: base + alpha (expert - anti) on a hand-computed case; alpha 0 is the base', async () => {
  await initEngine({ quiet: true });
  const base = tf.tensor1d([1, 2, 3]);
  const expert = tf.tensor1d([0, 1, 0]);
  const anti = tf.tensor1d([1, 0, 0]);
  close(dexpertsLogits(base, expert, anti, 2).dataSync(), [-1, 4, 3]);
  close(dexpertsLogits(base, expert, anti, 0.5).dataSync(), [0.5, 2.5, 3]);
  close(dexpertsLogits(base, expert, anti, 0).dataSync(), [1, 2, 3]);
});

test('DExpertsLM: alpha 0 samples exactly what the base samples; cached decoding equals the full forward', async () => {
  await initEngine({ quiet: true });
  const [base, expert, anti] = [1, 2, 3].map((s) => new GPT2LMHeadModel({ ...tinyConfig, resid_pdrop: 0, embd_pdrop: 0, attn_pdrop: 0 }, { seed: s }));
  const queries = [[1, 2, 3], [4, 5]];
  const opts = { maxNewTokens: 6, minNewTokens: 6, topK: 0, topP: 1, temperature: 1, eosTokenId: EOS };
  const a = generate(base, queries, { ...opts, rng: new Rng(5) });
  const b = generate(new DExpertsLM(base, expert, anti, 0), queries, { ...opts, rng: new Rng(5) });
  assert.deepEqual(b.responses, a.responses);
  // the ensemble steers: with a large alpha the samples differ
  const c = generate(new DExpertsLM(base, expert, anti, 8), queries, { ...opts, rng: new Rng(5) });
  assert.notDeepEqual(c.responses, a.responses);

  // KV cache = full forward for the three-model cache
  const ens = new DExpertsLM(base, expert, anti, 2);
  const ids = tf.tensor2d([[1, 2, 3, 4, 5]], [1, 5], 'int32');
  const full = ens.forward({ inputIds: ids }).logits;
  const first = ens.forward({ inputIds: tf.tensor2d([[1, 2, 3, 4]], [1, 4], 'int32') });
  assert.equal(first.present.length, 3 * tinyConfig.n_layer);
  const step = ens.forward({ inputIds: tf.tensor2d([[5]], [1, 1], 'int32'), past: first.present });
  close(step.logits.reshape([-1]).dataSync(), full.slice([0, 4, 0], [1, 1, tinyConfig.vocab_size]).reshape([-1]).dataSync(), 1e-4);
  // explicit hand check at one position: base + 2 (expert - anti)
  const parts = [base, expert, anti].map((m) => m.forward({ inputIds: ids }).logits.dataSync());
  const want = parts[0].map((x, i) => x + 2 * (parts[1][i] - parts[2][i]));
  close(full.dataSync(), want, 1e-4);
  // filter_p: tokens outside the base's nucleus can never be sampled
  const filtered = ens.withFilterP(0.3).forward({ inputIds: ids }).logits.slice([0, 4, 0], [1, 1, tinyConfig.vocab_size]).reshape([-1]).dataSync();
  assert.ok(filtered.some((x) => x < -1e29) && filtered.some((x) => x > -1e29));
  for (const m of [base, expert, anti]) m.dispose();
});

test('Quark quantisation: best first, floor(N/K) per quantile, the remainder in the worst; ties keep pool order', () => {
  assert.deepEqual(quantileTokens([0.1, 0.9, 0.5, 0.3, 0.7, 0.2, 0.4], 3), [2, 0, 1, 2, 0, 2, 1]);
  assert.deepEqual(quantileTokens([1, 1, 1, 1], 2), [0, 0, 1, 1]);
  assert.deepEqual(quantileTokens([3, 1], 5), [4, 4]); // fewer entries than quantiles: all in the worst
  assert.throws(() => quantileTokens([1], 0), /K must be a positive integer/);
  // HF linear schedule with warm-up
  assert.deepEqual([0, 1, 2, 6, 10].map((s) => warmupLinearFactor(s, 2, 10)), [0, 0.5, 1, 0.5, 0]);
});

test('Quark batch layout: [pad.., r_k, query, response, pad..]; the reference row has no control token', () => {
  const b = quarkBatch([{ ctrl: 20, query: [1, 2], response: [3] }, { ctrl: 21, query: [4], response: [5, 6] }], 0);
  assert.equal(b.responseStart, 3);
  assert.deepEqual(b.ids, [[20, 1, 2, 3, 0], [0, 21, 4, 5, 6]]);
  assert.deepEqual(b.mask, [[1, 1, 1, 1, 0], [0, 1, 1, 1, 1]]);
  assert.deepEqual(b.refIds, [[0, 1, 2, 3, 0], [0, 0, 4, 5, 6]]);
  assert.deepEqual(b.refMask, [[0, 1, 1, 1, 0], [0, 0, 1, 1, 1]]);
});

test('control tokens: text logits unchanged, KL to the initial model 0 without a control token, save/load round trip', async () => {
  await initEngine({ quiet: true });
  const cfg = { ...tinyConfig, resid_pdrop: 0, embd_pdrop: 0, attn_pdrop: 0 };
  const ref = new GPT2LMHeadModel(cfg, { seed: 4 });
  const policy = withControlTokens(ref, 3, new Rng(1));
  const V = cfg.vocab_size;
  assert.equal(policy.config.vocab_size, V + 3);
  const ids = tf.tensor2d([[1, 2, 3, 4]], [1, 4], 'int32');
  const a = ref.forward({ inputIds: ids }).logits;
  const b = new RestrictedVocabLM(policy, V).forward({ inputIds: ids }).logits;
  close(b.dataSync(), a.dataSync(), 1e-5);

  const rows = [{ ctrl: null, query: [1, 2], response: [3, 4, 5] }, { ctrl: null, query: [6], response: [7, 8] }];
  const lb = quarkBatch(rows, EOS);
  const t = (x: number[][]) => tf.tensor2d(x, undefined, 'int32');
  const refLogits = refResponseLogits(ref, t(lb.refIds), t(lb.refMask), lb.responseStart);
  const parts = quarkLoss(policy, refLogits, t(lb.ids), t(lb.mask), lb.responseStart, { kl_coef: 0.05, entropy_coef: 0.06 });
  assert.ok(Math.abs(parts.kl.dataSync()[0]) < 1e-5, `KL ${parts.kl.dataSync()[0]}`);
  const total = parts.lm.dataSync()[0] + 0.05 * parts.kl.dataSync()[0] - 0.06 * parts.entropy.dataSync()[0];
  assert.ok(Math.abs(parts.loss.dataSync()[0] - total) < 1e-4);

  // a prefixed view scores text under the control token: = the model on [r, text] without the first position
  const pre = new RestrictedVocabLM(policy, V, V + 1).forward({ inputIds: ids }).logits;
  const manual = policy.forward({ inputIds: tf.tensor2d([[V + 1, 1, 2, 3, 4]], [1, 5], 'int32') }).logits.slice([0, 1, 0], [1, 4, V]);
  close(pre.dataSync(), manual.dataSync(), 1e-5);
  const preLast = new RestrictedVocabLM(policy, V, V + 1).forward({ inputIds: ids, lastOnly: true }).logits;
  assert.deepEqual(preLast.shape, [1, 1, V]);
  close(preLast.dataSync(), manual.slice([0, 3, 0], [1, 1, V]).dataSync(), 1e-5);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-ctrl-'));
  saveLM(policy, toyTokenizer(), dir, { quark: { best_token: V } });
  const back = (await AutoModelForCausalLM.fromPretrained(dir)).model;
  assert.equal(back.config.vocab_size, V + 3);
  close(back.namedWeights().get('transformer.wte.weight')!.dataSync(), policy.namedWeights().get('transformer.wte.weight')!.dataSync(), 0);
  fs.rmSync(dir, { recursive: true, force: true });
  for (const m of [ref, policy, back]) m.dispose();
});

test('Quark on the toy task: the best-quantile token conditions the policy toward high reward', async () => {
  await initEngine({ quiet: true });
  const init = new GPT2LMHeadModel({ ...tinyConfig, resid_pdrop: 0, embd_pdrop: 0, attn_pdrop: 0 }, { seed: 3 });
  const prompts = toyPrompts(64).filter((p) => p[0] === 4); // easy prompts: reward = share of 'a'
  const o: QuarkOptions = {
    K: 2, kl_coef: 0.05, entropy_coef: 0.0, learning_rate: 3e-2, batch_size: 16, steps: 200, sample_interval: 50, prompts_per_round: 48,
    warmup_steps: 2, max_grad_norm: 1.0, max_new_tokens: 6, min_new_tokens: 6, seed: 0,
  };
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-quark-'));
  const reward = new ToyRewardModel();
  const r = await trainQuark(o, { init, tokenizer: toyTokenizer(), prompts, reward, outDir: out });
  assert.equal(r.rewardCalls, 4 * 48);
  assert.equal(r.bestToken, tinyConfig.vocab_size);
  const lines = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const rounds = lines.filter((l) => 'round' in l);
  assert.deepEqual(rounds.map((l) => l.pool), [48, 96, 144, 192]);
  assert.equal(lines.filter((l) => 'loss/lm' in l).length, 200);
  const view = new RestrictedVocabLM(r.policy, tinyConfig.vocab_size);
  const meanReward = (k: number) => {
    const g = generate(view, prompts.map((p) => [tinyConfig.vocab_size + k, ...p]), { maxNewTokens: 6, minNewTokens: 6, topK: 0, topP: 1, eosTokenId: EOS, rng: new Rng(9) });
    const tok = toyTokenizer();
    return g.responses.map((resp, i) => toyReward(tok.decode([...prompts[i], ...resp]))).reduce((a, b) => a + b, 0) / prompts.length;
  };
  const best = meanReward(0);
  const worst = meanReward(1);
  // measured: 0.14 under the best token, 0.03 under the worst, 0.07 for the initial policy
  assert.ok(best > worst + 0.05, `best-quantile token reward ${best.toFixed(3)} vs worst ${worst.toFixed(3)}`);
  assert.ok(best > Number(rounds[0]['env/reward_mean']), `best-quantile token reward ${best.toFixed(3)} vs the initial policy's ${String(rounds[0]['env/reward_mean'])}`);
  fs.rmSync(out, { recursive: true, force: true });
  init.dispose();
  r.policy.dispose();
});

/** Scores by a hash of the text and records everything it saw. */
class RecordingReward implements RewardModel {
  name = 'recording';
  seen: { text: string; score: number }[] = [];
  async score(texts: string[]): Promise<number[]> {
    return texts.map((t) => {
      let h = 7;
      for (const c of t) h = (h * 31 + c.charCodeAt(0)) % 10007;
      const s = h / 10007;
      this.seen.push({ text: t, score: s });
      return s;
    });
  }
}

test('best-of-n keeps the argmax of n scored samples; a prompt prefix is seen by the model and never scored', async () => {
  await initEngine({ quiet: true });
  assert.equal(argmax([0.1, 0.7, 0.7, 0.2]), 1);
  const model = new GPT2LMHeadModel({ ...tinyConfig, resid_pdrop: 0, embd_pdrop: 0, attn_pdrop: 0 }, { seed: 2 });
  const tokenizer = toyTokenizer();
  const prompts = ['ecde', 'hfgh', 'eiji'].map((p) => ({ prompt: p, cls: 0 }));
  const reward = new RecordingReward();
  const rows = await generationRows(prompts, [{ name: 'bo4', model, tokenizer, bestOf: 4 }], reward, { maxNewTokens: 5, seed: 1 });
  const candidates = reward.seen.slice(prompts.length); // after the prompt scores
  assert.equal(candidates.length, 4 * prompts.length);
  rows.forEach((r, i) => {
    const mine = candidates.slice(4 * i, 4 * i + 4);
    assert.ok(mine.every((c) => c.text.startsWith(String(r.prompt))));
    assert.equal(r.bo4_reward, Math.max(...mine.map((c) => c.score)));
    assert.equal(`${r.prompt}${r.bo4_response}`, mine[argmax(mine.map((c) => c.score))].text);
  });

  const seen = new RecordingReward();
  const prefix = tokenizer.encode('jjjj');
  const plain = await generationRows(prompts, [{ name: 'plain', model, tokenizer }], new RecordingReward(), { maxNewTokens: 5, seed: 1 });
  const prompted = await generationRows(prompts, [{ name: 'prompted', model, tokenizer, queryPrefix: prefix }], seen, { maxNewTokens: 5, seed: 1 });
  for (const s of seen.seen) assert.ok(!s.text.startsWith('jjjj') && prompts.some((p) => s.text.startsWith(p.prompt)), s.text);
  assert.deepEqual(prompted.map((r) => r.prompt), plain.map((r) => r.prompt));
  // the model saw prefix + prompt: the same draws on the prefixed queries give the same responses
  const direct = generate(model, prompts.map((p) => [...prefix, ...tokenizer.encode(p.prompt)]), { maxNewTokens: 5, minNewTokens: 5, topK: 0, topP: 1, eosTokenId: EOS, rng: new Rng(1) });
  assert.deepEqual(prompted.map((r) => r.prompted_response), direct.responses.map((x) => tokenizer.decode(x)));
  assert.equal(plain.length, prompted.length);
  model.dispose();
});

test('baselines config: methods parse, best_of_n expands, Quark matches PPO reward calls and gradient steps', () => {
  assert.deepEqual(parseMethods('quark,sft'), ['sft', 'quark']);
  assert.throws(() => parseMethods('sft,beam'), /unknown method "beam"/);
  const spec = getTaskSpec('imdb-mini');
  const cfg = reproConfig(spec);
  const bc = baselinesConfig(spec, cfg);
  assert.deepEqual(methodRows(['sft', 'best_of_n'], bc), ['sft', 'best_of_4', 'best_of_16']);
  assert.equal(bc.dexperts.alpha, 3.2);
  assert.equal(baselinesConfig(getTaskSpec('jigsaw-mini'), reproConfig(getTaskSpec('jigsaw-mini'))).dexperts.alpha, 2.0);
  assert.equal(bc.quark.steps, cfg.ppo.steps * cfg.ppo.ppoEpochs * (cfg.ppo.batchSize / cfg.ppo.miniBatchSize));
  const custom = baselinesConfig(spec, cfg, { promptPrefix: 'Be kind: ', bestOf: [8], dexpertsAlpha: 1 });
  assert.deepEqual([custom.prompted.prefix, custom.bestOf, custom.dexperts.alpha], ['Be kind: ', [8], 1]);
  const rounds = Math.ceil(bc.quark.steps / bc.quark.sample_interval);
  assert.equal(rounds * bc.quark.prompts_per_round, cfg.ppo.steps * cfg.ppo.batchSize);
});

test('rarlhf baselines --quick imdb-mini: every method end to end, one table, costs', { skip: !fs.existsSync(path.join(DATA, 'imdb')) && 'no IMDB data' }, async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-baselines-'));
  const r = await runBaselines({ task: 'imdb-mini', dataDir: DATA, seeds: [0], out: path.join(root, 'run'), quick: true, quiet: true, png: false });
  const names = ['gpt2', 'gpt2_prompted', 'sft', 'best_of_2', 'dexperts', 'quark', 'rlhf', 'ra_rlhf'];
  const t = readGenerations(path.join(r.out, 'seed-0', 'generations.jsonl'));
  for (const n of names) {
    assert.ok(t.columns.includes(`${n}_response`) && t.columns.includes(`${n}_reward`), n);
    assert.ok(t.rows.every((row) => Number.isFinite(Number(row[`${n}_reward`]))), n);
  }
  assert.deepEqual(Object.keys(r.cost), names);
  assert.equal(r.cost.best_of_2.generateRewardCalls, 2 * t.rows.length);
  assert.ok(r.cost.quark.trainRewardCalls > 0 && r.cost.quark.trainSeconds > 0);
  const md = fs.readFileSync(r.results, 'utf8');
  for (const n of names) assert.match(md, new RegExp(`\\| ${n} \\|`));
  assert.match(md, /\| Model \| Reward ↑ \| Tail reward .* \| Perplexity ↓ \| Dist-1 \| Dist-2 \| Dist-3 \|/);
  assert.match(md, /## Risk frontier/);
  assert.ok(fs.existsSync(path.join(r.out, 'frontier', 'frontier.json')));
  fs.rmSync(root, { recursive: true, force: true });
});
