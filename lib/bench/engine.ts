/**
 * `rarlhf bench engine`: training and generation throughput of the reference model (batch 16 x
 * seq 64, d_model 128, 2 layers, 4 heads, vocab 8192, forward + backward + AdamW; generation
 * batch 64 x 32 new tokens with the KV cache), the same model as ../shared/bench/torch_ref_bench.py.
 *
 * One run measures, side by side and alternating (`--rounds`, default 2, medians reported):
 *  - this process (native kernels when built; with 1 and 2 OpenBLAS threads);
 *  - the fallback path: a child process with RARLHF_NATIVE=0 (stock tfjs-wasm kernels);
 *  - the PyTorch-CPU peer, when Debian's python3-torch and the script are present;
 * and prints the ratios, plus which kernels a training step ran and where its time went.
 * The machines are shared and noisy: compare ratios from one run, not absolute numbers.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { describeEngine, initEngine, nativeActive, nativeStatus, setNativeThreads, tf } from '../engine/index';
import { AdamW } from '../engine/optim';
import { formatProfile, profileKernels } from '../engine/profile';
import { Rng } from '../engine/rng';
import { GPT2LMHeadModel } from '../models/gpt2';
import { generate, lmLoss } from '../models/generate';

const REF = { vocab_size: 8192, n_positions: 128, n_embd: 128, n_layer: 2, n_head: 4, bos_token_id: 0, eos_token_id: 0 };
const TORCH_BENCH = path.resolve(__dirname, '../../../shared/bench/torch_ref_bench.py');

const median = (xs: number[]) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length ? (s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2 : NaN;
};

/** Median wall time of `reps` runs (the median is far less sensitive to other processes than the mean). */
function medianSeconds(reps: number, f: () => void): number {
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    f();
    ts.push((performance.now() - t0) / 1000);
  }
  return median(ts);
}

function trainStep(model: GPT2LMHeadModel, B = 16, T = 64): { step: () => void; dispose: () => void } {
  const rng = new Rng(7);
  const opt = new AdamW({ lr: 1e-4, weightDecay: 0.01 });
  const vars = model.trainableVariables();
  const ids = tf.tensor2d(Array.from({ length: B * T }, () => rng.int(REF.vocab_size)), [B, T], 'int32');
  const step = () => {
    const { value, grads } = tf.variableGrads(() => lmLoss(model, ids as tf.Tensor2D, undefined, { training: true, rng }), vars);
    opt.apply(vars, vars.map((v) => grads[v.name]));
    value.dataSync();
    value.dispose();
    tf.dispose(Object.values(grads));
  };
  return { step, dispose: () => { ids.dispose(); opt.dispose(); } };
}

function trainTokensPerS(model: GPT2LMHeadModel, steps: number, B = 16, T = 64): number {
  const { step, dispose } = trainStep(model, B, T);
  step(); // warm-up (allocation, first-call overheads)
  const s = medianSeconds(steps, step);
  dispose();
  return (B * T) / s;
}

function genTokensPerS(model: GPT2LMHeadModel, reps: number, B = 64, newTokens = 32): number {
  const rng = new Rng(11);
  const queries = Array.from({ length: B }, () => Array.from({ length: 16 }, () => 1 + rng.int(REF.vocab_size - 1)));
  const run = () => generate(model, queries, { maxNewTokens: newTokens, minNewTokens: newTokens, rng });
  run();
  return (B * newTokens) / medianSeconds(reps, run);
}

/** This process's figures (no peers). */
async function selfBench(steps: number, threadSweep: boolean): Promise<Record<string, unknown>> {
  const info = await initEngine({ quiet: true });
  const model = new GPT2LMHeadModel(REF, { seed: 0 });
  const out: Record<string, unknown> = {
    engine: describeEngine(info),
    train_tokens_per_s: Math.round(trainTokensPerS(model, steps)),
    gen_tokens_per_s: Math.round(genTokensPerS(model, steps)),
  };
  if (threadSweep && nativeActive()) {
    const t0 = nativeStatus().threads ?? 1;
    const other = t0 === 1 ? 2 : 1;
    setNativeThreads(other);
    out[`train_tokens_per_s_${other}_blas_threads`] = Math.round(trainTokensPerS(model, steps));
    out[`gen_tokens_per_s_${other}_blas_threads`] = Math.round(genTokensPerS(model, steps));
    setNativeThreads(t0);
  }
  model.dispose();
  return out;
}

/** Kernel profile of one training step: the top kernels by time, native ones included. */
async function kernelProfile(): Promise<string[]> {
  await initEngine({ quiet: true });
  const model = new GPT2LMHeadModel(REF, { seed: 0 });
  const { step, dispose } = trainStep(model);
  step();
  const prof = profileKernels(step);
  dispose();
  model.dispose();
  return formatProfile(prof);
}

function childJson(cmd: string, args: string[], env: NodeJS.ProcessEnv): Record<string, unknown> | null {
  const r = spawnSync(cmd, args, { env, encoding: 'utf8', timeout: 600_000 });
  const line = (r.stdout ?? '').trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (r.status !== 0 || !line) {
    process.stderr.write(`[rarlhf] bench engine: peer "${[cmd, ...args].join(' ')}" failed (exit ${r.status}): ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}\n`);
    return null;
  }
  return JSON.parse(line) as Record<string, unknown>;
}

function torchAvailable(python: string): boolean {
  return fs.existsSync(TORCH_BENCH) && spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
}

export async function bench(argv: string[] = []): Promise<object> {
  const { values } = parseArgs({
    args: argv,
    options: {
      steps: { type: 'string', default: '7' },
      rounds: { type: 'string', default: '2' },
      'no-peers': { type: 'boolean', default: false },
      python: { type: 'string', default: '/usr/bin/python3' },
    },
    allowPositionals: true,
  });
  const steps = Number(values.steps), rounds = Number(values.rounds);
  if (values['no-peers']) return selfBench(steps, false);

  const info = await initEngine({ quiet: true });
  const cli = path.resolve(__dirname, '../cli/main.ts');
  const fallbackEnv = { ...process.env, RARLHF_NATIVE: '0' };
  const torch = torchAvailable(values.python!);
  const self: Record<string, unknown>[] = [], fallback: Record<string, unknown>[] = [], peer: Record<string, unknown>[] = [];
  for (let r = 0; r < rounds; r++) {
    self.push(await selfBench(steps, r === 0));
    if (info.native.active) {
      const fb = childJson(process.execPath, ['--import', 'tsx', cli, 'bench', 'engine', '--no-peers', '--steps', String(steps)], fallbackEnv);
      if (fb) fallback.push(fb);
    }
    if (torch) {
      const p = childJson(values.python!, [TORCH_BENCH], { ...process.env, OMP_NUM_THREADS: '1' });
      if (p) peer.push(p);
    }
  }
  const m = (xs: Record<string, unknown>[], k: string) => Math.round(median(xs.map((x) => Number(x[k]))));
  const train = m(self, 'train_tokens_per_s'), gen = m(self, 'gen_tokens_per_s');
  const out: Record<string, unknown> = {
    engine: describeEngine(info),
    loadavg_1m: +os.loadavg()[0].toFixed(2),
    cpus: os.cpus().length,
    rounds,
    train_tokens_per_s: train,
    gen_tokens_per_s: gen,
    ...Object.fromEntries(Object.entries(self[0]).filter(([k]) => k.includes('blas_threads'))),
  };
  if (fallback.length) {
    const ft = m(fallback, 'train_tokens_per_s'), fg = m(fallback, 'gen_tokens_per_s');
    Object.assign(out, { fallback_train_tokens_per_s: ft, fallback_gen_tokens_per_s: fg, native_vs_fallback_train: +(train / ft).toFixed(2), native_vs_fallback_gen: +(gen / fg).toFixed(2) });
  }
  if (peer.length) {
    const pt = m(peer, 'train_tokens_per_s'), pg = m(peer, 'gen_tokens_per_s');
    Object.assign(out, { torch: String(peer[0].torch), torch_train_tokens_per_s: pt, torch_gen_tokens_per_s: pg, vs_torch_train: +(train / pt).toFixed(2), vs_torch_gen: +(gen / pg).toFixed(2) });
  } else {
    out.torch = torch ? 'failed' : `not measured (needs ${values.python} with torch and ${path.relative(process.cwd(), TORCH_BENCH)})`;
  }
  if (info.native.active) out.native_kernels = info.native.kernels;
  out.kernels_train_step = await kernelProfile();
  return out;
}
