/**
 * The paper-scale configs (configs/imdb-gen.json, jigsaw-gen.json, rtp-gen.json) run one PPO step
 * through `rarlhf train` exactly as shipped, with tiny stand-in models and the real task data.
 *
 * The HF ids the configs name resolve offline through a fake local Hub cache (HF_HUB_CACHE, the
 * layout lib/models/hub.ts reads): lvwerra/distilbert-imdb and unitary/toxic-bert are tiny ONNX
 * classifiers (lib/rewards/tiny.ts) whose heads come from KNOWN_HEADS, and lvwerra/gpt2-imdb is a
 * tiny random GPT-2 with the real 50,257-token GPT-2 tokenizer. Overrides, and nothing else:
 *   model.policy      the SFT checkpoint folder does not exist here: lvwerra/gpt2-imdb (the RLHF
 *                     script's default, IMDB) or a tiny checkpoint folder (Jigsaw, RTP)
 *   ppo.batch_size / ppo.mini_batch_size   128 -> 4 (time)
 *   train.steps       1
 * Prompt and response lengths stay as shipped (64 -> 48, 8 -> 32, 32 -> 32), so the shapes are the paper's.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { initEngine } from '../lib/engine';
import { loadSFTConfig } from '../lib/rl/config';
import { dataFile } from '../lib/data/paths';
import { getTaskSpec } from '../lib/data/tasks';
import { saveCheckpoint } from '../lib/models/checkpoint';
import { GPT2LMHeadModel, gpt2Config } from '../lib/models/gpt2';
import { repoFolderName } from '../lib/models/hub';
import { loadRewardModel } from '../lib/rewards/load';
import { OnnxRewardModel } from '../lib/rewards/onnx';
import { readVocabTxt, writeTinyClassifier } from '../lib/rewards/tiny';
import { GPT2Tokenizer } from '../lib/text/gpt2-tokenizer';
import { run as train } from '../lib/cli/commands/train';

const CFG = path.join(__dirname, '..', 'configs');
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-paper-cfg-'));
const hubCache = path.join(root, 'hub');
const tinyPolicy = path.join(root, 'tiny-sft', 'checkpoints', 'final');
const B = 4;
const saved = { cache: process.env.HF_HUB_CACHE, offline: process.env.HF_HUB_OFFLINE };

/** A snapshot folder in the HF cache layout: refs/main -> commit, snapshots/<commit>/... */
function hubSnapshot(repoId: string): string {
  const repo = path.join(hubCache, repoFolderName(repoId));
  const commit = '0123456789abcdef0123456789abcdef01234567';
  fs.mkdirSync(path.join(repo, 'refs'), { recursive: true });
  fs.writeFileSync(path.join(repo, 'refs', 'main'), commit);
  const snap = path.join(repo, 'snapshots', commit);
  fs.mkdirSync(snap, { recursive: true });
  return snap;
}

before(async () => {
  await initEngine({ quiet: true });
  process.env.HF_HUB_CACHE = hubCache;
  process.env.HF_HUB_OFFLINE = '1';
  const vocab = readVocabTxt(dataFile('tokenizers/bert-base-uncased/vocab.txt'));
  writeTinyClassifier(hubSnapshot('lvwerra/distilbert-imdb'), { modelType: 'distilbert', labels: ['NEGATIVE', 'POSITIVE'], vocab, hidden: 4, seed: 2 });
  writeTinyClassifier(hubSnapshot('unitary/toxic-bert'), { modelType: 'bert', labels: ['toxic', 'severe_toxic', 'obscene', 'threat', 'insult', 'identity_hate'], vocab, hidden: 4, seed: 1 });
  // Tiny GPT-2 with the real vocabulary; n_positions 128 >= 64 + 48.
  const tokenizer = GPT2Tokenizer.fromDir(dataFile('tokenizers/gpt2'));
  const lm = new GPT2LMHeadModel(gpt2Config({ n_layer: 1, n_embd: 8, n_head: 2, n_positions: 128 }), { seed: 3 });
  for (const dir of [hubSnapshot('lvwerra/gpt2-imdb'), tinyPolicy]) saveCheckpoint(dir, { config: lm.config, weights: lm.namedWeights(), tokenizer });
  lm.dispose();
});

after(() => {
  for (const [k, v] of [['HF_HUB_CACHE', saved.cache], ['HF_HUB_OFFLINE', saved.offline]] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  fs.rmSync(root, { recursive: true, force: true });
});

interface Paper {
  task: string;
  algo: 'rlhf' | 'ra-rlhf';
  policy: string;
  reward: string;
  promptTokens: number;
  maxNew: number;
  minLength: number;
  lr: number;
  alpha: number;
  M: number;
  /** Smallest response length min_length allows with full-length prompts (HF counts the prompt). */
  minResponse: number;
}

const PAPER: Paper[] = [
  { task: 'imdb-gen', algo: 'ra-rlhf', policy: 'lvwerra/gpt2-imdb', reward: 'lvwerra/distilbert-imdb', promptTokens: 64, maxNew: 48, minLength: 48, lr: 1.41e-5, alpha: 0.4, M: 194, minResponse: 1 },
  { task: 'jigsaw-gen', algo: 'ra-rlhf', policy: tinyPolicy, reward: 'unitary/toxic-bert', promptTokens: 8, maxNew: 32, minLength: 32, lr: 1.41e-5, alpha: 0.2, M: 288, minResponse: 24 },
  { task: 'rtp-gen', algo: 'rlhf', policy: tinyPolicy, reward: 'unitary/toxic-bert', promptTokens: 32, maxNew: 32, minLength: 32, lr: 2.82e-5, alpha: 0.2, M: 452, minResponse: 1 },
];

test('the reward ids of the configs resolve through the hub cache with the paper heads', async () => {
  for (const [id, head] of [['lvwerra/distilbert-imdb', { labelIndex: 1, sign: 1 }], ['unitary/toxic-bert', { labelIndex: 0, sign: -1 }]] as const) {
    const rm = (await loadRewardModel(id)) as OnnxRewardModel;
    assert.deepEqual(rm.head, head);
    const [logits] = await rm.logits(['a movie about nothing']);
    const [score] = await rm.score(['a movie about nothing']);
    assert.ok(Math.abs(score - head.sign * logits[head.labelIndex]) < 1e-6, `${id}: ${score} vs logits ${logits}`);
    await rm.dispose();
  }
});

for (const p of PAPER) {
  test(`configs/${p.task}.json: one ${p.algo} step as shipped (tiny models, real ${p.task} data)`, async () => {
    const file = path.join(CFG, `${p.task}.json`);
    const shipped = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, Record<string, unknown>>;
    // The paper's settings, as the file states them.
    assert.equal(shipped.task, p.task);
    assert.equal(shipped.reward.model, p.reward);
    assert.equal(shipped.generation.max_new_tokens, p.maxNew);
    assert.equal(shipped.generation.min_length, p.minLength);
    assert.deepEqual([shipped.generation.top_k, shipped.generation.top_p, shipped.generation.temperature], [0, 1, 1]);
    assert.deepEqual([shipped.ppo.learning_rate, shipped.ppo.batch_size, shipped.ppo.mini_batch_size, shipped.ppo.ppo_epochs], [p.lr, 128, 128, 4]);
    assert.deepEqual([shipped.ppo.init_kl_coef, shipped.ppo.target, shipped.ppo.horizon, shipped.ppo.adap_kl_ctrl], [0.2, 6, 10000, true]);
    assert.deepEqual([shipped.risk.alpha, shipped.risk.n, shipped.risk.rho, shipped.risk.M, shipped.risk.scheduler], [p.alpha, 30, 0.95, p.M, 'new']);
    const spec = getTaskSpec(p.task);
    // ... and agree with the task spec (lib/data/task-specs.ts), which sets the prompt length.
    assert.deepEqual([spec.promptTokens, spec.batchSize, spec.miniBatchSize, spec.ppoEpochs, spec.M], [p.promptTokens, 128, 128, 4, p.M]);
    assert.deepEqual(spec.risk, { alpha: p.alpha, n: 30, rho: 0.95 });
    assert.deepEqual([spec.learningRate, spec.maxNewTokens, spec.minLength, spec.reward.model, spec.seed], [p.lr, p.maxNew, p.minLength, p.reward, shipped.seed]);

    const out = path.join(root, `run-${p.task}`);
    const sets = [`model.policy=${p.policy}`, `ppo.batch_size=${B}`, `ppo.mini_batch_size=${B}`, 'train.steps=1'];
    const t0 = performance.now();
    await train(['--algo', p.algo, '--config', file, '--out', out, '--no-progress', ...sets.flatMap((s) => ['--set', s])]);
    const seconds = (performance.now() - t0) / 1000;

    const lines = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
    assert.equal(lines.length, 1);
    const m = lines[0];
    assert.equal(m.step, 0);
    for (const k of ['env/reward_mean', 'env/reward_std', 'objective/kl', 'objective/kl_coef', 'objective/entropy', 'ppo/loss/policy', 'ppo/loss/value', 'ppo/loss/total', 'ppo/policy/clipfrac', 'ppo/policy/approxkl', 'ppo/returns/mean', 'ppo/val/vpred', 'tokens/queries_len_mean', 'tokens/responses_len_mean', 'risk/alpha_n', 'risk/kept', 'time/step', 'seconds']) {
      assert.ok(Number.isFinite(m[k]), `${k} = ${m[k]}`);
    }
    // Warm start (m = 0 < n = 30): RA-RLHF keeps the whole batch, as RLHF does.
    assert.equal(m['risk/alpha_n'], B);
    assert.equal(m['risk/kept'], B);
    assert.equal(m['objective/kl_coef'], 0.2);
    // The paper's shapes: prompts of (up to) promptTokens, responses up to maxNew, min_length counting the prompt.
    assert.ok(m['tokens/queries_len_mean'] > 0 && m['tokens/queries_len_mean'] <= p.promptTokens, `queries ${m['tokens/queries_len_mean']}`);
    assert.ok(m['tokens/responses_len_mean'] >= p.minResponse && m['tokens/responses_len_mean'] <= p.maxNew, `responses ${m['tokens/responses_len_mean']}`);

    // The run config is the shipped file plus exactly the listed overrides.
    const run = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as Record<string, Record<string, unknown>>;
    const expected = JSON.parse(JSON.stringify(shipped)) as typeof shipped;
    delete expected._comment;
    expected.model.policy = p.policy;
    expected.ppo.batch_size = B;
    expected.ppo.mini_batch_size = B;
    expected.train.steps = 1;
    const { algo, _comment, ...rest } = run;
    assert.equal(algo, p.algo);
    assert.deepEqual(rest, expected);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
    assert.deepEqual([summary.steps_done, summary.risk_M], [1, p.M]);
    assert.ok(fs.existsSync(path.join(out, 'checkpoints', 'final', 'model.safetensors')));
    console.log(`${p.task} ${p.algo}: one step of ${B} in ${seconds.toFixed(1)} s (setup + rollout + score + PPO), queries ${m['tokens/queries_len_mean']}, responses ${m['tokens/responses_len_mean']}, reward ${m['env/reward_mean'].toFixed(3)}`);
  });
}

test('SFT configs state the paper SFT settings (gpt2 init, lr 1e-5, 64 x 16, 10 epochs, 64 tokens)', () => {
  for (const task of ['imdb-gen', 'jigsaw-gen', 'rtp-gen']) {
    const c = loadSFTConfig(path.join(CFG, `sft-${task}.json`));
    assert.equal(c.task, task);
    assert.equal(c.model.init, 'gpt2');
    const s = c.sft;
    assert.deepEqual([s.learning_rate, s.batch_size, s.grad_accum, s.epochs, s.max_seq_length, s.weight_decay], [1e-5, 64, 16, 10, 64, 0]);
    const spec = getTaskSpec(task).sft;
    assert.deepEqual([spec.learningRate, spec.batchSize, spec.gradAccum, spec.epochs, spec.maxSeqLength], [s.learning_rate, s.batch_size, s.grad_accum, s.epochs, s.max_seq_length]);
  }
});
