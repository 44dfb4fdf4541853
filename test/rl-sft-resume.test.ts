/**
 * SFT checkpoint/resume (lib/rl/sft.ts + lib/rl/checkpointing.ts): a run stopped after step k and
 * resumed from checkpoints/latest ends with exactly the weights and metrics of an uninterrupted
 * run; a NaN loss stops with the last good checkpoint intact; `rarlhf sft` exits 130 on SIGINT.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { initEngine, tf, Rng } from '../lib/engine';
import { GPT2LMHeadModel } from '../lib/models/gpt2';
import { loadCheckpoint, loadTrainerState } from '../lib/models/checkpoint';
import { trainSFT, type SFTOptions, type SFTStepRecord } from '../lib/rl/sft';
import { run as sft } from '../lib/cli/commands/sft';
import { LETTERS, maxAbsDiff, tinyConfig, toyTokenizer } from './rl-fixtures';

before(async () => {
  await initEngine({ quiet: true });
});

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-sft-resume-'));

// 20 texts, 2 held out -> 18 train = 9 micro-batches of 2 -> 5 updates of grad_accum 2 per epoch,
// 4 epochs = 20 steps; dropout 0.1 and weight decay so the Rng and the decay path matter too.
const OPTS: SFTOptions = { learning_rate: 3e-3, batch_size: 2, grad_accum: 2, epochs: 4, max_seq_length: 12, weight_decay: 0.01, max_grad_norm: 1.0, eval_fraction: 0.1, seed: 5, save_every: null };
const TEXTS = (() => {
  const rng = new Rng(3);
  return Array.from({ length: 20 }, () => Array.from({ length: 3 + rng.int(8) }, () => LETTERS[rng.int(10)]).join(''));
})();

const deps = () => ({ model: new GPT2LMHeadModel(tinyConfig, { seed: 9 }), tokenizer: toyTokenizer(), texts: TEXTS, progress: false });
const weights = (m: GPT2LMHeadModel) => new Map([...m.namedWeights()].map(([n, v]) => [n, v.dataSync().slice() as Float32Array]));
const metrics = (dir: string) =>
  fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => {
    const { tokens_per_s: _t, seconds: _s, 'memory/rss_mb': _r, 'memory/num_tensors': _n, ...rest } = JSON.parse(l) as SFTStepRecord;
    return rest;
  });

test('SFT interrupted after step 7 and resumed ends bit-identical to an uninterrupted run', async () => {
  const dirA = tmp();
  const dA = deps();
  const a = await trainSFT(OPTS, { ...dA, outDir: dirA });
  assert.equal(a.steps.length, 20);
  assert.equal(a.interrupted, false);

  const dirB = tmp();
  let calls = 0;
  const b1 = await trainSFT(OPTS, { ...deps(), outDir: dirB, shouldStop: () => ++calls === 7 });
  assert.equal(b1.interrupted, true);
  assert.equal(b1.steps.length, 7); // mid-epoch 1 (5 updates per epoch)
  assert.equal(b1.summary.checkpoint, path.join(dirB, 'checkpoints', 'latest'));
  assert.ok(!fs.existsSync(path.join(dirB, 'checkpoints', 'final')));
  const st = loadTrainerState(path.join(dirB, 'checkpoints', 'latest'))!;
  const loop = (st.state as { loop: { step: number; epoch: number; update: number } }).loop;
  assert.deepEqual([loop.step, loop.epoch, loop.update], [7, 1, 2]);
  assert.ok(st.tensors.has('exp_avg.transformer.wte.weight') && st.tensors.has('exp_avg_sq.transformer.h.0.attn.c_attn.weight'));
  tf.dispose([...st.tensors.values()]);

  // a fresh model (different init) must be overwritten by the checkpoint
  const dB = { ...deps(), model: new GPT2LMHeadModel(tinyConfig, { seed: 77 }) };
  const b2 = await trainSFT(OPTS, { ...dB, outDir: dirB, resume: true });
  assert.equal(b2.interrupted, false);
  assert.equal(b2.steps.length, 20);
  assert.equal(maxAbsDiff(weights(dA.model), weights(dB.model)), 0, 'resumed weights differ from the uninterrupted run');
  const final = loadCheckpoint(path.join(dirB, 'checkpoints', 'final'));
  assert.equal(maxAbsDiff(weights(dA.model), new Map([...final.weights].map(([n, t]) => [n, t.dataSync() as Float32Array]))), 0);
  tf.dispose([...final.weights.values()]);
  assert.deepEqual(metrics(dirB), metrics(dirA)); // steps 1..20 once each, same losses, LRs, grad norms
  assert.deepEqual(metrics(dirA).map((r) => r.step), Array.from({ length: 20 }, (_, i) => i + 1));
  for (const k of ['eval_loss_before', 'eval_loss', 'steps', 'final_train_loss'] as const) assert.equal(b2.summary[k], a.summary[k], k);

  // a changed schedule is refused rather than silently resumed
  await assert.rejects(trainSFT({ ...OPTS, epochs: 5 }, { ...deps(), outDir: dirB, resume: true }), /run of 20 steps over 18 texts, but this config gives 25 steps/);
});

test('SFT: a NaN loss stops before the update and keeps checkpoints/latest', async () => {
  const dirA = tmp();
  const dA = deps();
  const after = new Map<number, Map<string, Float32Array>>();
  await trainSFT({ ...OPTS, epochs: 1 }, { ...dA, onStep: (r) => void after.set(r.step, weights(dA.model)) });

  const dir = tmp();
  const d = deps();
  // after step 4 (latest was written at step 3): the next forward pass yields NaN
  const poison = (m: GPT2LMHeadModel) => (r: SFTStepRecord) => {
    if (r.step === 4) m.namedWeights().get('transformer.ln_f.bias')!.assign(tf.fill([tinyConfig.n_embd], NaN));
  };
  await assert.rejects(trainSFT({ ...OPTS, epochs: 1, save_every: 3 }, { ...d, outDir: dir, onStep: poison(d.model) }), /training stopped: loss is NaN at step 5 .*last good checkpoint is .*latest/s);
  const latest = path.join(dir, 'checkpoints', 'latest');
  assert.equal((loadTrainerState(latest)!.state as { loop: { step: number } }).loop.step, 3);
  const ck = loadCheckpoint(latest);
  assert.equal(maxAbsDiff(after.get(3)!, new Map([...ck.weights].map(([n, t]) => [n, t.dataSync() as Float32Array]))), 0);
  tf.dispose([...ck.weights.values()]);
  assert.ok(!fs.existsSync(path.join(dir, 'checkpoints', 'final')));
  // no checkpoint at all: the message says so
  const d2 = deps();
  await assert.rejects(trainSFT({ ...OPTS, epochs: 1 }, { ...d2, outDir: tmp(), onStep: poison(d2.model) }), /loss is NaN at step 5 \(epoch 0\); no checkpoint was written/);
});

test('rarlhf sft: SIGINT checkpoints after the current step (exit 130); --resume finishes the run', async () => {
  const runDir = tmp();
  const sets = ['model.scratch.n_layer=1', 'model.scratch.n_embd=16', 'model.scratch.n_head=2', 'model.scratch.n_positions=48', 'sft.max_texts=40', 'sft.batch_size=4', 'sft.epochs=4', 'sft.max_seq_length=16', 'sft.eval_fraction=0.1'];
  const args = ['--import', 'tsx', path.join(__dirname, '..', 'lib', 'cli', 'main.ts'), 'sft', '--config', path.join(__dirname, '..', 'configs', 'sft-imdb-mini.json'), '--out', runDir, '--no-progress', ...sets.flatMap((s) => ['--set', s])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += String(d)));
  const metricsFile = path.join(runDir, 'metrics.jsonl');
  const code = await new Promise<number | null>((resolve) => {
    const poll = setInterval(() => {
      if (fs.existsSync(metricsFile) && fs.readFileSync(metricsFile, 'utf8').trim().length > 0) {
        clearInterval(poll);
        child.kill('SIGINT');
        setTimeout(() => child.kill('SIGKILL'), 60_000).unref(); // a run that ignores SIGINT must not hang the suite
      }
    }, 50);
    child.on('exit', (c) => {
      clearInterval(poll);
      resolve(c);
    });
  });
  assert.equal(code, 130, stderr);
  assert.match(stderr, /interrupted at step \d+; continue with: rarlhf sft --out .* --resume/);
  const done = (loadTrainerState(path.join(runDir, 'checkpoints', 'latest'))!.state as { loop: { step: number } }).loop.step;
  assert.ok(done >= 1 && done < 36, `stopped after ${done} steps`);
  assert.equal(fs.readFileSync(metricsFile, 'utf8').trim().split('\n').length, done);
  await sft(['--out', runDir, '--resume', '--no-progress']); // config from the run folder
  const sum = JSON.parse(fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8'));
  assert.deepEqual([sum.steps, sum.interrupted], [36, false]); // 36 train texts / 4 = 9 steps x 4 epochs
  assert.deepEqual(fs.readFileSync(metricsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l).step), Array.from({ length: 36 }, (_, i) => i + 1));
});
