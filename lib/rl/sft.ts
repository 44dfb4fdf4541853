/**
 * Supervised fine-tuning as the authors ran it (trl SFTTrainer + HF Trainer defaults, spec §4):
 * causal-LM loss on texts truncated to max_seq_length tokens (no packing), right padding with
 * pad = eos and pad positions ignored, AdamW (weight decay 0.0 by default, decay not applied to
 * biases / LayerNorm as HF), linear LR decay to 0 with no warmup, gradient accumulation,
 * grad-norm clipping at 1.0 (HF max_grad_norm default), seeded shuffling and dropout.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SingleBar } from 'cli-progress';
import { tf, Rng } from '../engine';
import { saveCheckpoint } from '../models/checkpoint';
import { lmLoss } from '../models/generate';
import type { GPT2LMHeadModel } from '../models/gpt2';
import type { GPT2Tokenizer } from '../text/gpt2-tokenizer';
import { NamedAdam } from './adam';
import { clipByGlobalNorm } from './core';

export interface SFTOptions {
  learning_rate: number;
  batch_size: number;
  grad_accum: number;
  epochs: number;
  max_seq_length: number;
  weight_decay: number;
  max_grad_norm: number | null;
  /** share of `texts` held out for the eval loss when no evalTexts are given */
  eval_fraction: number;
  seed: number;
  /** also write checkpoints/checkpoint-<step> every this many optimizer steps (HF save_steps) */
  save_every: number | null;
}

export interface SFTDeps {
  model: GPT2LMHeadModel;
  tokenizer: GPT2Tokenizer;
  texts: string[];
  evalTexts?: string[];
  outDir?: string | null;
  progress?: boolean;
  onStep?: (r: SFTStepRecord) => void;
}

export interface SFTStepRecord {
  step: number;
  epoch: number;
  loss: number;
  learning_rate: number;
  grad_norm: number;
  tokens_per_s: number;
  seconds: number;
}

export interface SFTResult {
  steps: SFTStepRecord[];
  evalLossBefore: number | null;
  evalLoss: number | null;
  summary: Record<string, unknown>;
}

/** Right-padded id batch with the attention mask (pad = eos). */
function padBatch(seqs: number[][], pad: number): { ids: tf.Tensor2D; att: tf.Tensor2D; tokens: number } {
  const T = Math.max(...seqs.map((s) => s.length));
  const ids = seqs.map((s) => [...s, ...new Array<number>(T - s.length).fill(pad)]);
  const att = seqs.map((s) => [...new Array<number>(s.length).fill(1), ...new Array<number>(T - s.length).fill(0)]);
  return { ids: tf.tensor2d(ids, [seqs.length, T], 'int32'), att: tf.tensor2d(att, [seqs.length, T], 'int32'), tokens: seqs.reduce((a, s) => a + s.length - 1, 0) };
}

/** Token-weighted mean next-token loss over `seqs` (dropout off). */
export function heldOutLoss(model: GPT2LMHeadModel, seqs: number[][], batchSize: number): number {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < seqs.length; i += batchSize) {
    const part = seqs.slice(i, i + batchSize);
    const b = padBatch(part, model.config.eos_token_id);
    const l = lmLoss(model, b.ids, b.att, { training: false });
    sum += l.dataSync()[0] * b.tokens;
    count += b.tokens;
    tf.dispose([l, b.ids, b.att]);
  }
  return count ? sum / count : NaN;
}

export async function trainSFT(o: SFTOptions, deps: SFTDeps): Promise<SFTResult> {
  const rng = new Rng(o.seed);
  const encode = (t: string) => deps.tokenizer.encode(t).slice(0, o.max_seq_length);
  let trainTexts = deps.texts;
  let evalTexts = deps.evalTexts ?? [];
  if (!deps.evalTexts && o.eval_fraction > 0) {
    const shuffled = rng.shuffle(deps.texts);
    const nEval = Math.max(1, Math.round(shuffled.length * o.eval_fraction));
    evalTexts = shuffled.slice(0, nEval);
    trainTexts = shuffled.slice(nEval);
  }
  const train = trainTexts.map(encode).filter((s) => s.length >= 2); // one token has no next-token target
  const held = evalTexts.map(encode).filter((s) => s.length >= 2);
  if (train.length === 0) throw new Error('trainSFT: no training text has >= 2 tokens');
  const micro = Math.ceil(train.length / o.batch_size);
  const updatesPerEpoch = Math.ceil(micro / o.grad_accum);
  const total = updatesPerEpoch * o.epochs;
  const vars = deps.model.namedWeights();
  const varList = [...vars.values()];
  const hfName = new Map([...vars].map(([n, v]) => [v.name, n]));
  const decayed = new Set([...vars.keys()].filter((n) => !/(bias|ln_\d|ln_f)/.test(n))); // HF: no decay on bias / LayerNorm
  const adam = new NamedAdam(vars, o.learning_rate);
  const out = deps.outDir ?? null;
  const metricsFile = out ? path.join(out, 'metrics.jsonl') : null;
  if (out) {
    fs.mkdirSync(out, { recursive: true });
    fs.writeFileSync(metricsFile!, '');
  }
  const evalLossBefore = held.length ? heldOutLoss(deps.model, held, o.batch_size) : null;
  const records: SFTStepRecord[] = [];
  const bar = deps.progress ?? Boolean(process.stderr.isTTY) ? new SingleBar({ stream: process.stderr, format: 'sft [{bar}] {value}/{total} steps | ETA {eta_formatted} | loss {loss}' }) : null;
  bar?.start(total, 0, { loss: 'n/a' });
  const t0 = performance.now();
  let step = 0;
  try {
    for (let epoch = 0; epoch < o.epochs; epoch++) {
      const order = rng.shuffle(train.map((_, i) => i));
      for (let u = 0; u < updatesPerEpoch; u++) {
        const tU = performance.now();
        const acc = new Map<string, tf.Tensor>();
        let lossSum = 0;
        let tokens = 0;
        const firstMicro = u * o.grad_accum;
        const lastMicro = Math.min(micro, firstMicro + o.grad_accum);
        for (let mb = firstMicro; mb < lastMicro; mb++) {
          const seqs = order.slice(mb * o.batch_size, (mb + 1) * o.batch_size).map((i) => train[i]);
          const b = padBatch(seqs, deps.model.config.eos_token_id);
          // HF divides each micro-batch loss by gradient_accumulation_steps
          const { value, grads } = tf.variableGrads(() => tf.div(lmLoss(deps.model, b.ids, b.att, { training: true, rng }), o.grad_accum) as tf.Scalar, varList);
          lossSum += value.dataSync()[0];
          tokens += b.tokens;
          for (const [k, g] of Object.entries(grads)) {
            const n = hfName.get(k)!;
            const prev = acc.get(n);
            acc.set(n, prev ? tf.add(prev, g) : g);
            if (prev) tf.dispose([prev, g]);
          }
          tf.dispose([value, b.ids, b.att]);
        }
        if (!Number.isFinite(lossSum)) throw new Error(`trainSFT: loss is ${lossSum} at step ${step}`);
        let grads = acc;
        let gradNorm = NaN;
        if (o.max_grad_norm !== null) {
          const c = clipByGlobalNorm(Object.fromEntries(acc), o.max_grad_norm);
          grads = new Map(Object.entries(c.grads));
          gradNorm = c.norm;
        }
        const lr = o.learning_rate * (1 - step / total); // HF get_linear_schedule_with_warmup, 0 warmup
        adam.learningRate = lr;
        if (o.weight_decay > 0) {
          tf.tidy(() => {
            for (const n of decayed) vars.get(n)!.assign(tf.mul(vars.get(n)!, 1 - lr * o.weight_decay));
          });
        }
        adam.apply(grads);
        tf.dispose([...grads.values()]);
        step++;
        const rec: SFTStepRecord = { step, epoch, loss: lossSum, learning_rate: lr, grad_norm: gradNorm, tokens_per_s: tokens / ((performance.now() - tU) / 1000), seconds: (performance.now() - t0) / 1000 };
        records.push(rec);
        if (metricsFile) fs.appendFileSync(metricsFile, JSON.stringify(rec) + '\n');
        deps.onStep?.(rec);
        bar?.update(step, { loss: lossSum.toFixed(3) });
        if (out && o.save_every && step % o.save_every === 0) saveCheckpoint(path.join(out, 'checkpoints', `checkpoint-${step}`), { config: deps.model.config, weights: vars, tokenizer: deps.tokenizer });
      }
    }
  } finally {
    bar?.stop();
    adam.dispose();
  }
  const evalLoss = held.length ? heldOutLoss(deps.model, held, o.batch_size) : null;
  const summary = {
    steps: step,
    epochs: o.epochs,
    train_texts: train.length,
    eval_texts: held.length,
    eval_loss_before: evalLossBefore,
    eval_loss: evalLoss,
    eval_ppl: evalLoss === null ? null : Math.exp(evalLoss),
    final_train_loss: records.at(-1)?.loss ?? null,
    seconds: (performance.now() - t0) / 1000,
    checkpoint: out ? path.join(out, 'checkpoints', 'final') : null,
  };
  if (out) {
    saveCheckpoint(path.join(out, 'checkpoints', 'final'), { config: deps.model.config, weights: vars, tokenizer: deps.tokenizer });
    fs.writeFileSync(path.join(out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  }
  return { steps: records, evalLossBefore, evalLoss, summary };
}
