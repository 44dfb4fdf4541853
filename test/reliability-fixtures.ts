/**
 * Shared by the reliability-*.test.ts files: a toy PPO run (rl-fixtures' 11-token task) that a
 * child process can run too (reliability-child.ts), and a tiny CLI setup (scratch GPT-2 policy
 * with the real GPT-2 tokenizer, kit reward model, imdb-mini prompts) for `rarlhf train` runs.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { GPT2LMHeadModel, gpt2Config } from '../lib/models/gpt2';
import { saveModelCheckpoint } from '../lib/models/checkpoint';
import { KIT_FORMAT, KitRewardModel } from '../lib/rewards/trained';
import { defaultTokenizer } from '../lib/rl/setup';
import type { TrainPPODeps } from '../lib/rl/train-loop';
import { ToyRewardModel, toyModels, toyPrompts, toyTokenizer, toyTrainConfig } from './rl-fixtures';

export const ROOT = path.join(__dirname, '..');
export const MAIN = path.join(ROOT, 'lib', 'cli', 'main.ts');
export const tmpDir = (tag: string) => fs.mkdtempSync(path.join(os.tmpdir(), `rarlhf-rel-${tag}-`));

/** 2 PPO steps of B 8 on 16 toy prompts, a checkpoint after every step. */
export function faultConfig() {
  const cfg = toyTrainConfig({ steps: 2, B: 8, mbs: 4 });
  cfg.train.save_every = 1;
  cfg.risk = { ...cfg.risk, n: 0, alpha: 0.5 };
  return cfg;
}

export function faultDeps(): Omit<TrainPPODeps, 'outDir'> {
  return { ...toyModels(4), tokenizer: toyTokenizer(), rewardModel: new ToyRewardModel(), trainPrompts: toyPrompts(16), progress: false, algo: 'ra-rlhf' };
}

/** metrics.jsonl without the fields that differ between identical runs (timing, memory). */
export function stableMetrics(dir: string): unknown[] {
  return fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean)
    .map((l) => Object.entries(JSON.parse(l) as Record<string, unknown>).filter(([k]) => !k.startsWith('time/') && !k.startsWith('memory/') && k !== 'seconds'));
}

export interface ChildResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** Run `node --import tsx <args>` to completion. */
export function runNode(args: string[], env: Record<string, string> = {}): Promise<ChildResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/**
 * A policy checkpoint (scratch 1-layer d-16 GPT-2 with the GPT-2 tokenizer) and a kit reward
 * model under `root`; returns `rarlhf train` arguments for a few-second imdb-mini run.
 */
export async function cliTrainFixture(root: string): Promise<string[]> {
  const tok = defaultTokenizer(null);
  const policyDir = path.join(root, 'policy');
  const lm = new GPT2LMHeadModel(gpt2Config({ preset: 'gpt2', n_layer: 1, n_embd: 16, n_head: 2, n_positions: 48 }), { seed: 3 });
  saveModelCheckpoint(policyDir, lm, { tokenizer: tok });
  lm.dispose();
  const rm = await KitRewardModel.create({ format: KIT_FORMAT, version: 1, name: 'length', task: 'imdb', features: { hashBits: 6, ngrams: 1 }, calibration: { scale: 1, shift: 0, method: 'none' }, rewardScale: 'test' });
  rm.bias.assign(rm.bias.add(0.5));
  const rmDir = path.join(root, 'reward');
  await rm.save(rmDir);
  rm.dispose();
  const sets = [`model.policy=${policyDir}`, `reward.model=${rmDir}`, 'train.steps=2', 'train.max_prompts=16', 'ppo.batch_size=4', 'ppo.mini_batch_size=4', 'ppo.forward_batch_size=4', 'generation.max_new_tokens=3', 'generation.min_length=0', 'risk.n=0', 'risk.M=3'];
  return ['--config', path.join(ROOT, 'configs', 'imdb-mini.json'), '--no-progress', ...sets.flatMap((s) => ['--set', s])];
}

/** Resolve once `file` exists with content (polling), or reject after `ms`. */
export function waitForContent(file: string, ms = 60_000): Promise<void> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const poll = setInterval(() => {
      if (fs.existsSync(file) && fs.readFileSync(file, 'utf8').trim().length > 0) {
        clearInterval(poll);
        resolve();
      } else if (Date.now() - t0 > ms) {
        clearInterval(poll);
        reject(new Error(`${file} did not appear within ${ms} ms`));
      }
    }, 50);
  });
}
