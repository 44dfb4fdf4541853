/**
 * `rarlhf sft` then `rarlhf train --algo ra-rlhf` end to end on the imdb-mini task data with a tiny
 * model (real GPT-2 tokenizer, kit reward model), plus argument errors. Checks the run folders.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initEngine } from '../lib/engine';
import { KIT_FORMAT, KitRewardModel } from '../lib/rewards/trained';
import { run as sft } from '../lib/cli/commands/sft';
import { run as train } from '../lib/cli/commands/train';
import { runOverrides } from '../lib/cli/run-args';
import { loadTrainConfig } from '../lib/rl/config';
import { loadCheckpoint, loadTrainerState } from '../lib/models/checkpoint';
import { spawn } from 'node:child_process';

const CFG = path.join(__dirname, '..', 'configs');
let trainArgs: string[] = []; // set by the first test, reused by the SIGINT test

before(async () => {
  await initEngine({ quiet: true });
});

test('rarlhf sft -> rarlhf train --algo ra-rlhf (tiny model, imdb-mini data)', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-cli-'));
  const sftDir = path.join(root, 'sft');
  const tiny = ['model.scratch.n_layer=1', 'model.scratch.n_embd=16', 'model.scratch.n_head=2', 'model.scratch.n_positions=48'];
  await sft(['--config', path.join(CFG, 'sft-imdb-mini.json'), '--out', sftDir, '--no-progress', ...['sft.max_texts=40', 'sft.batch_size=12', 'sft.epochs=1', 'sft.max_seq_length=16', 'sft.eval_fraction=0.1', ...tiny].flatMap((s) => ['--set', s])]);
  const sum = JSON.parse(fs.readFileSync(path.join(sftDir, 'summary.json'), 'utf8'));
  assert.equal(sum.steps, 3); // 36 train texts / batch 12
  assert.ok(sum.eval_loss < sum.eval_loss_before, `held-out loss ${sum.eval_loss_before} -> ${sum.eval_loss}`);
  assert.equal(fs.readFileSync(path.join(sftDir, 'metrics.jsonl'), 'utf8').trim().split('\n').length, 3);
  assert.equal(loadCheckpoint(path.join(sftDir, 'checkpoints', 'final')).config.n_embd, 16);

  const rm = await KitRewardModel.create({ format: KIT_FORMAT, version: 1, name: 'length', task: 'imdb', features: { hashBits: 6, ngrams: 1 }, calibration: { scale: 1, shift: 0, method: 'none' }, rewardScale: 'test' });
  rm.bias.assign(rm.bias.add(0.5));
  const rmDir = path.join(root, 'reward');
  await rm.save(rmDir);

  const runDir = path.join(root, 'ra');
  const sets = [
    `model.policy=${path.join(sftDir, 'checkpoints', 'final')}`,
    `reward.model=${rmDir}`,
    'train.steps=3',
    'train.max_prompts=24',
    'ppo.batch_size=8',
    'ppo.mini_batch_size=4',
    'ppo.forward_batch_size=4',
    'generation.max_new_tokens=4',
    'generation.min_length=0',
    'risk.n=0',
    'risk.M=3',
  ];
  trainArgs = ['--config', path.join(CFG, 'imdb-mini.json'), '--no-progress', ...sets.flatMap((s) => ['--set', s])];
  await train(['--algo', 'ra-rlhf', '--out', runDir, ...trainArgs]);
  for (const f of ['config.json', 'metrics.jsonl', 'summary.json', 'checkpoints/final/model.safetensors', 'checkpoints/latest/trainer_state.json']) {
    assert.ok(fs.existsSync(path.join(runDir, f)), `${f} missing`);
  }
  const lines = fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 3);
  // schedule with n 0, M 3, rho .95, alpha .4: ceil(.95*3) = 3 -> m=0: 8, m=1: ceil(8*(1-.6/3)) = 7, m=2: ceil(8*(1-.4)) = 5
  assert.deepEqual(lines.map((l) => l['risk/alpha_n']), [8, 7, 5]);
  for (const l of lines) for (const k of ['env/reward_mean', 'objective/kl', 'objective/kl_coef', 'ppo/loss/policy', 'ppo/loss/value', 'ppo/policy/clipfrac', 'ppo/returns/mean', 'objective/entropy', 'tokens/responses_len_mean', 'risk/kept', 'time/tokens_per_s', 'seconds']) {
    assert.ok(Number.isFinite(l[k]), `${k} = ${l[k]}`);
  }
  const cfg = JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8'));
  assert.equal(cfg.algo, 'ra-rlhf');
  assert.equal(cfg.ppo.batch_size, 8);
  assert.equal(JSON.parse(fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8')).steps_done, 3);
  const ck = loadCheckpoint(path.join(runDir, 'checkpoints', 'final'));
  assert.equal(ck.hasValueHead, true);
});

test('CLI argument errors', async () => {
  await assert.rejects(train(['--config', path.join(CFG, 'imdb-mini.json'), '--out', '/tmp/x']), /--algo must be rlhf or ra-rlhf/);
  await assert.rejects(train(['--algo', 'rlhf', '--config', path.join(CFG, 'imdb-mini.json')]), /--out <run dir> is required/);
  await assert.rejects(train(['--algo', 'rlhf', '--config', path.join(CFG, 'imdb-mini.json'), '--out', '/tmp/x', '--set', 'ppo.lr=1']), /unknown field "ppo.lr"/);
  await assert.rejects(sft(['--out', '/tmp/x']), /--config <file> is required/);
});

test('--data-dir on train and sft is the config\'s data_dir: a missing folder is named', async () => {
  const missing = path.join(os.tmpdir(), 'rarlhf-no-such-data-dir');
  assert.deepEqual(runOverrides({ set: ['seed=3'], 'data-dir': missing }), ['seed=3', `data_dir=${missing}`]);
  assert.equal(loadTrainConfig(path.join(CFG, 'imdb-mini.json'), runOverrides({ 'data-dir': missing })).data_dir, missing);
  assert.equal(loadTrainConfig(path.join(CFG, 'imdb-mini.json'), runOverrides({})).data_dir, null);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-datadir-'));
  await assert.rejects(sft(['--config', path.join(CFG, 'sft-imdb-mini.json'), '--data-dir', missing, '--out', path.join(out, 'run')]),
    new RegExp(`data directory not found: ${missing}`));
});

test('SIGINT checkpoints after the current step (exit 130); --resume finishes the run', async () => {
  assert.ok(trainArgs.length, 'needs the first test');
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-sigint-'));
  const main = path.join(__dirname, '..', 'lib', 'cli', 'main.ts');
  const args = ['--import', 'tsx', main, 'train', '--algo', 'rlhf', '--out', runDir, ...trainArgs, '--set', 'train.steps=200'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += String(d)));
  const metrics = path.join(runDir, 'metrics.jsonl');
  const code = await new Promise<number | null>((resolve) => {
    const poll = setInterval(() => {
      if (fs.existsSync(metrics) && fs.readFileSync(metrics, 'utf8').trim().length > 0) {
        clearInterval(poll);
        child.kill('SIGINT');
        // a run that ignores SIGINT must not hang the suite
        setTimeout(() => child.kill('SIGKILL'), 60_000).unref();
      }
    }, 100);
    child.on('exit', (c) => {
      clearInterval(poll);
      resolve(c);
    });
  });
  assert.equal(code, 130, stderr);
  assert.match(stderr, /interrupted at step \d+; continue with: .*--resume/);
  const done = (loadTrainerState(path.join(runDir, 'checkpoints', 'latest'))!.state as { loop: { step: number } }).loop.step;
  assert.ok(done >= 1 && done < 200, `stopped after ${done} steps`);
  assert.equal(fs.readFileSync(metrics, 'utf8').trim().split('\n').length, done);
  // resume from the run folder's own config, finishing at done + 1 steps
  await train(['--algo', 'rlhf', '--out', runDir, '--resume', '--no-progress', '--set', `train.steps=${done + 1}`]);
  assert.equal(JSON.parse(fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8')).steps_done, done + 1);
  assert.equal(fs.readFileSync(metrics, 'utf8').trim().split('\n').length, done + 1);
});
