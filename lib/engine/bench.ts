/**
 * `rarlhf bench engine`: training and generation throughput of the reference model (batch 16 x
 * seq 64, d_model 128, 2 layers, 4 heads, vocab 8192, forward + backward + AdamW; generation
 * batch 64 x 32 new tokens with the KV cache), with the fast matmul and with stock tf.matMul.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { initEngine, setMatmulMode, tf, type MatmulMode } from './index';
import { AdamW } from './optim';
import { Rng } from './rng';
import { GPT2LMHeadModel } from '../models/gpt2';
import { generate, lmLoss } from '../models/generate';

const REF = { vocab_size: 8192, n_positions: 128, n_embd: 128, n_layer: 2, n_head: 4, bos_token_id: 0, eos_token_id: 0 };

/**
 * Median wall time of `reps` runs: the build machines are shared, and the median is far less
 * sensitive to other processes than the mean (the 1-minute load average is reported alongside).
 */
function medianSeconds(reps: number, f: () => void): number {
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    f();
    ts.push((performance.now() - t0) / 1000);
  }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)];
}

function trainTokensPerS(model: GPT2LMHeadModel, steps: number, B = 16, T = 64): number {
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
  step(); // warm-up (allocation, first-call overheads)
  const s = medianSeconds(steps, step);
  ids.dispose();
  opt.dispose();
  return (B * T) / s;
}

function genTokensPerS(model: GPT2LMHeadModel, reps: number, B = 64, newTokens = 32): number {
  const rng = new Rng(11);
  const queries = Array.from({ length: B }, () => Array.from({ length: 8 }, () => 1 + rng.int(REF.vocab_size - 1)));
  const run = () => generate(model, queries, { maxNewTokens: newTokens, minNewTokens: newTokens, rng });
  run();
  return (B * newTokens) / medianSeconds(reps, run);
}

export async function bench(argv: string[] = []): Promise<object> {
  const { values } = parseArgs({ args: argv, options: { steps: { type: 'string', default: '7' }, 'stock-steps': { type: 'string', default: '3' } }, allowPositionals: true });
  const info = await initEngine({ quiet: true });
  const model = new GPT2LMHeadModel(REF, { seed: 0 });
  const measure = (mode: MatmulMode, steps: number) => {
    setMatmulMode(mode);
    try {
      return { train: trainTokensPerS(model, steps), gen: genTokensPerS(model, steps) };
    } finally {
      setMatmulMode('fast');
    }
  };
  const fast = measure('fast', Number(values.steps));
  const stock = measure('stock', Number(values['stock-steps']));
  model.dispose();
  const r = (x: number) => Math.round(x);
  return {
    backend: info.backend,
    loadavg_1m: +os.loadavg()[0].toFixed(2),
    cpus: os.cpus().length,
    threads: info.threads,
    train_tokens_per_s: r(fast.train),
    gen_tokens_per_s: r(fast.gen),
    stock_train_tokens_per_s: r(stock.train),
    stock_gen_tokens_per_s: r(stock.gen),
    train_speedup: +(fast.train / stock.train).toFixed(2),
    gen_speedup: +(fast.gen / stock.gen).toFixed(2),
  };
}
