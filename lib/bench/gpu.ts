/**
 * GPU throughput at paper scale, with no data and no downloads (scripts/gpu-check.sh runs it):
 *   engine: GPT-2 124M architecture, random weights: training tokens/s (forward + backward +
 *           AdamW on [train_batch, 112]) and generation tokens/s (B 128, 64 prompt -> 48 new
 *           tokens, KV cache, full-vocabulary sampling).
 *   ppo:    PPO steps as configs/imdb-gen.json (B 128, mini-batch 128, 4 PPO epochs, 64 -> 48
 *           tokens): rollout (generation) + optimisation (policy, value head and reference forward
 *           passes, 4 x minibatch updates); a stand-in reward instead of distilbert-imdb. Prints
 *           seconds per step and the estimate for one paper run (M = 194 steps).
 * `--scale tiny` runs the same code on a small model in seconds (the script's --dry-run, on the
 * software adapter). Usage: node --import tsx lib/bench/gpu.ts engine|ppo|all [--scale paper|tiny]
 * [--steps n]. Each part prints one JSON line. The engine is whatever initEngine picks
 * (RARLHF_BACKEND=webgpu to insist on the GPU).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { describeEngine, initEngine, tf, Rng, webgpuAdapter } from '../engine';
import { AdamW } from '../engine/optim';
import { GPT2LMHeadModel, GPT2WithValueHead, GPT2_PRESETS, gpt2ParameterCount, type GPT2Config } from '../models/gpt2';
import { generate, lmLoss } from '../models/generate';
import { PPOTrainer, type PPOConfig } from '../rl/ppo-trainer';

const ROOT = path.resolve(__dirname, '..', '..');
const PAPER_STEPS = 194; // risk.M of configs/imdb-gen.json

interface Scale { model: GPT2Config; B: number; prompt: number; response: number; trainBatch: number; ppoEpochs: number; miniBatch: number }
const SCALES: Record<string, Scale> = {
  paper: { model: GPT2_PRESETS.gpt2, B: 128, prompt: 64, response: 48, trainBatch: 32, ppoEpochs: 4, miniBatch: 128 },
  tiny: { model: { ...GPT2_PRESETS.tiny, n_positions: 32 }, B: 8, prompt: 8, response: 6, trainBatch: 4, ppoEpochs: 2, miniBatch: 4 },
};

const median = (xs: number[]) => {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length ? (s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2 : NaN;
};
const round = (x: number, d = 3) => +x.toFixed(d);

/** Peak of the webgpu backend's own allocation count (buffers it holds, pooled ones included). */
let peakGpuBytes = 0;
function sampleMemory(): void {
  const m = tf.memory() as { numBytesAllocatedInGPU?: number; numBytesInGPU?: number };
  peakGpuBytes = Math.max(peakGpuBytes, m.numBytesAllocatedInGPU ?? m.numBytesInGPU ?? 0);
}

function randomPrompts(n: number, len: number, vocab: number, seed: number): number[][] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => Array.from({ length: len }, () => rng.int(vocab - 1))); // never EOS (vocab - 1)
}

/** Adapter limits that decide whether the paper's [128, 112, 50257] logits fit one buffer. */
function adapterLimits(): Record<string, number> | undefined {
  const be = tf.backend() as unknown as { device?: { limits: Record<string, number> } };
  if (!be.device) return undefined;
  const l = be.device.limits;
  return { maxBufferSize: l.maxBufferSize, maxStorageBufferBindingSize: l.maxStorageBufferBindingSize };
}

/** Largest divisor of B whose logits [mbs, T, V] fit the storage-binding limit (the paper's 128 where it fits). */
function fittingMiniBatch(want: number, B: number, T: number, V: number): number {
  const limit = adapterLimits()?.maxStorageBufferBindingSize ?? Infinity;
  let mbs = want;
  while (mbs > 1 && (mbs * T * V * 4 > limit || B % mbs !== 0)) mbs -= 1;
  return mbs;
}

async function header(scale: string, s: Scale): Promise<Record<string, unknown>> {
  const info = await initEngine({ quiet: true });
  return { scale, engine: describeEngine(info), backend: info.backend, software_adapter: webgpuAdapter()?.software ?? null, params: gpt2ParameterCount(s.model), limits: adapterLimits() };
}

export async function benchEngine(scale: string, steps: number): Promise<Record<string, unknown>> {
  const s = SCALES[scale];
  const out = await header(scale, s);
  const T = s.prompt + s.response;
  const model = new GPT2LMHeadModel(s.model, { seed: 0 });
  const vars = model.trainableVariables();
  const opt = new AdamW({ lr: 1e-5, weightDecay: 0.01 });
  const rng = new Rng(7);
  const ids = tf.tensor2d(Array.from({ length: s.trainBatch * T }, () => rng.int(s.model.vocab_size)), [s.trainBatch, T], 'int32');
  const trainStep = () => {
    const { value, grads } = tf.variableGrads(() => lmLoss(model, ids, undefined, { training: true, rng }), vars);
    opt.apply(vars, vars.map((v) => grads[v.name]));
    value.dataSync(); // waits for the GPU
    tf.dispose([value, ...Object.values(grads)]);
    sampleMemory();
  };
  const timeIt = (f: () => void) => {
    const t0 = performance.now();
    f();
    return (performance.now() - t0) / 1000;
  };
  const warmTrain = timeIt(trainStep); // shader compilation, buffer pool
  const trainS = median(Array.from({ length: steps }, () => timeIt(trainStep)));
  const queries = randomPrompts(s.B, s.prompt, s.model.vocab_size, 11);
  const gen = () => void generate(model, queries, { maxNewTokens: s.response, minNewTokens: s.response, rng: new Rng(3), eosTokenId: s.model.eos_token_id });
  const warmGen = timeIt(gen);
  const genS = median(Array.from({ length: Math.max(1, Math.min(steps, 2)) }, () => timeIt(() => { gen(); sampleMemory(); })));
  ids.dispose();
  opt.dispose();
  model.dispose();
  return {
    ...out,
    train_shape: [s.trainBatch, T],
    train_warmup_s: round(warmTrain),
    train_step_s: round(trainS),
    train_tokens_per_s: Math.round((s.trainBatch * T) / trainS),
    gen_shape: { B: s.B, prompt: s.prompt, new_tokens: s.response },
    gen_warmup_s: round(warmGen),
    gen_s: round(genS),
    gen_tokens_per_s: Math.round((s.B * s.response) / genS),
    tfjs_gpu_bytes_peak: peakGpuBytes,
  };
}

export async function benchPPO(scale: string, steps: number): Promise<Record<string, unknown>> {
  const s = SCALES[scale];
  const out = await header(scale, s);
  const paper = JSON.parse(fs.readFileSync(path.join(ROOT, 'configs', 'imdb-gen.json'), 'utf8')) as { ppo: PPOConfig };
  const T = s.prompt + s.response;
  const mbs = fittingMiniBatch(s.miniBatch, s.B, T, s.model.vocab_size);
  const config: PPOConfig = { ...paper.ppo, batch_size: s.B, mini_batch_size: mbs, ppo_epochs: s.ppoEpochs, horizon_scale: null };
  const t0 = performance.now();
  const policy = new GPT2WithValueHead(new GPT2LMHeadModel(s.model, { seed: 0 }), { seed: 1 });
  const ref = new GPT2LMHeadModel(s.model, { seed: 0 });
  const initS = (performance.now() - t0) / 1000;
  const tr = new PPOTrainer({ config, policy, ref, seed: 0 });
  const rng = new Rng(5);
  const half = s.model.vocab_size / 2;
  const recs: { rollout: number; optimise: number }[] = [];
  for (let i = 0; i <= steps; i++) {
    const queries = randomPrompts(s.B, s.prompt, s.model.vocab_size, 100 + i);
    const a = performance.now();
    const { responses } = generate(policy, queries, { maxNewTokens: s.response, minNewTokens: s.response, rng, eosTokenId: s.model.eos_token_id });
    const b = performance.now();
    const scores = responses.map((r) => r.filter((t) => t < half).length / Math.max(1, r.length)); // stand-in reward
    tr.step(queries, responses, scores, { riskCount: Math.round(0.4 * s.B) }); // RA-RLHF, alpha 0.4 of the batch
    const c = performance.now();
    sampleMemory();
    recs.push({ rollout: (b - a) / 1000, optimise: (c - b) / 1000 });
    process.stderr.write(`[rarlhf] gpu bench ppo: step ${i}${i === 0 ? ' (warm-up)' : ''}: rollout ${((b - a) / 1000).toFixed(2)} s, optimisation ${((c - b) / 1000).toFixed(2)} s\n`);
  }
  tr.dispose();
  policy.dispose();
  ref.dispose();
  const timed = recs.slice(1);
  const step = median(timed.map((r) => r.rollout + r.optimise));
  return {
    ...out,
    batch_size: s.B,
    mini_batch_size: mbs,
    ...(mbs !== s.miniBatch ? { mini_batch_note: `${s.miniBatch} does not fit the adapter's storage-binding limit; ${mbs} processes the same tokens in more, smaller updates` } : {}),
    ppo_epochs: s.ppoEpochs,
    prompt_tokens: s.prompt,
    response_tokens: s.response,
    model_init_s: round(initS),
    warmup_step_s: round(recs[0].rollout + recs[0].optimise),
    steps_timed: timed.length,
    sec_per_step: round(step),
    rollout_s: round(median(timed.map((r) => r.rollout))),
    optimisation_s: round(median(timed.map((r) => r.optimise))),
    rollout_tokens_per_s: Math.round((s.B * s.response) / median(timed.map((r) => r.rollout))),
    paper_run_steps: PAPER_STEPS,
    paper_run_estimate_h: round((step * PAPER_STEPS) / 3600, 2),
    paper_run_estimate_note: 'PPO steps only: the distilbert-imdb reward, evaluation and checkpoints are extra',
    tfjs_gpu_bytes_peak: peakGpuBytes,
  };
}

async function run(argv: string[]): Promise<Record<string, unknown>[]> {
  const { values, positionals } = parseArgs({ args: argv, options: { scale: { type: 'string', default: 'paper' }, steps: { type: 'string', default: '2' } }, allowPositionals: true });
  const which = positionals[0] ?? 'all';
  const scale = values.scale!;
  if (!SCALES[scale]) throw new Error(`gpu bench: --scale must be ${Object.keys(SCALES).join(' or ')} (got ${scale})`);
  const steps = Number(values.steps);
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`gpu bench: --steps must be a positive integer (got ${values.steps})`);
  if (!['engine', 'ppo', 'all'].includes(which)) throw new Error(`gpu bench: engine, ppo or all (got ${which})`);
  const out: Record<string, unknown>[] = [];
  const emit = (r: Record<string, unknown>) => {
    console.log(JSON.stringify(r)); // one line per part as soon as it is done (the script parses them)
    out.push(r);
  };
  if (which !== 'ppo') emit({ bench: 'engine', ...(await benchEngine(scale, steps)) });
  if (which !== 'engine') emit({ bench: 'ppo', ...(await benchPPO(scale, steps)) });
  return out;
}

/** For a `rarlhf bench gpu` entry (lib/cli/commands/bench.ts calls bench(argv)). */
export async function bench(argv: string[] = []): Promise<object> {
  return { parts: await run(argv) };
}

if (require.main === module) {
  run(process.argv.slice(2)).then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`gpu bench: ${(e as Error).stack ?? e}\n`);
      process.exit(1);
    },
  );
}
