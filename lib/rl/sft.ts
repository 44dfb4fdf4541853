/**
 * Supervised fine-tuning as the authors ran it (trl SFTTrainer + HF Trainer defaults, spec §4):
 * causal-LM loss on texts truncated to max_seq_length tokens (no packing), right padding with
 * pad = eos and pad positions ignored, AdamW (weight decay 0.0 by default, decay not applied to
 * biases / LayerNorm as HF), linear LR decay to 0 with no warmup, gradient accumulation,
 * grad-norm clipping at 1.0 (HF max_grad_norm default), seeded shuffling and dropout.
 * Resumable bit-exactly through the loop PPO uses too (run-loop.ts): checkpoints/latest holds the
 * weights, Adam moments, Rng state, step (= LR-schedule position), epoch and position in the
 * epoch's shuffled order; Ctrl-C, SIGTERM and SIGHUP finish the current optimizer step and write
 * it; a NaN/Inf loss stops before the update without touching the last good checkpoint. Numbered
 * checkpoints (save_every) keep the newest `keep_last`. Metrics lines log RSS and live tensors.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf, Rng } from '../engine';
import { saveCheckpoint } from '../models/checkpoint';
import { lmLoss } from '../models/generate';
import type { GPT2LMHeadModel } from '../models/gpt2';
import type { GPT2Tokenizer } from '../text/gpt2-tokenizer';
import { NamedAdam } from './adam';
import { checkStateFields, type StopSignal } from './checkpointing';
import { pruneNumbered } from './checkpoint-swap';
import { clipByGlobalNorm } from './core';
import { NumericError, runLoop, type LoopFields, type LoopState } from './run-loop';

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
  /** numbered checkpoints to keep (oldest deleted first); null = all. Default 2 */
  keep_last?: number | null;
}

export interface SFTDeps {
  model: GPT2LMHeadModel;
  tokenizer: GPT2Tokenizer;
  texts: string[];
  evalTexts?: string[];
  outDir?: string | null;
  progress?: boolean;
  onStep?: (r: SFTStepRecord) => void;
  /** continue from <outDir>/checkpoints/latest */
  resume?: boolean;
  /** polled after every optimizer step; true = write checkpoints/latest and return (SIGINT sets it too) */
  shouldStop?: () => boolean;
  /** install SIGINT / SIGTERM / SIGHUP handlers for the duration of the run (CLI). Default false. */
  handleSigint?: boolean;
}

export interface SFTStepRecord {
  step: number;
  epoch: number;
  loss: number;
  learning_rate: number;
  grad_norm: number;
  tokens_per_s: number;
  seconds: number;
  'memory/rss_mb': number;
  'memory/num_tensors': number;
}

export interface SFTResult {
  steps: SFTStepRecord[];
  evalLossBefore: number | null;
  evalLoss: number | null;
  summary: Record<string, unknown>;
  /** stopped early (SIGINT / shouldStop) after writing checkpoints/latest */
  interrupted: boolean;
  /** the signal that stopped the run (the CLI exits with 128 + its number), null otherwise */
  signal: StopSignal | null;
}

/** What checkpoints/latest/trainer_state.json holds besides the Adam state. */
interface SFTLoopState extends LoopState {
  // step: optimizer steps done; the LR schedule is lr * (1 - step / total_steps)
  total_steps: number;
  epoch: number;
  order: number[]; // shuffled training order of the current epoch
  update: number; // next update (group of grad_accum micro-batches) within `order`
  rng: ReturnType<Rng['getState']>; // after the last completed step (shuffles + dropout)
  n_train: number;
  eval_loss_before: number | null;
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
  const saveModel = (dir: string) => saveCheckpoint(dir, { config: deps.model.config, weights: vars, tokenizer: deps.tokenizer });

  /** Summed gradients of one update (grad_accum micro-batches of st.order); HF divides each micro-batch loss by grad_accum. */
  const accumulate = (st: SFTLoopState) => {
    const acc = new Map<string, tf.Tensor>();
    let loss = 0;
    let tokens = 0;
    const first = st.update * o.grad_accum;
    for (let mb = first; mb < Math.min(micro, first + o.grad_accum); mb++) {
      const seqs = st.order.slice(mb * o.batch_size, (mb + 1) * o.batch_size).map((i) => train[i]);
      const b = padBatch(seqs, deps.model.config.eos_token_id);
      const { value, grads } = tf.variableGrads(() => tf.div(lmLoss(deps.model, b.ids, b.att, { training: true, rng }), o.grad_accum) as tf.Scalar, varList);
      loss += value.dataSync()[0];
      tokens += b.tokens;
      for (const [k, g] of Object.entries(grads)) {
        const n = hfName.get(k)!;
        const prev = acc.get(n);
        acc.set(n, prev ? tf.add(prev, g) : g);
        if (prev) tf.dispose([prev, g]);
      }
      tf.dispose([value, b.ids, b.att]);
    }
    return { acc, loss, tokens };
  };

  // one optimizer step: accumulate, clip, stop on NaN before touching the weights, decay, Adam
  const step = async (st: SFTLoopState) => {
    if (st.update >= updatesPerEpoch) {
      st.epoch += 1;
      st.order = rng.shuffle(train.map((_, i) => i));
      st.update = 0;
    }
    const t0 = performance.now();
    const { acc, loss, tokens } = accumulate(st);
    let grads = acc;
    let gradNorm = NaN;
    if (Number.isFinite(loss) && o.max_grad_norm !== null) {
      const c = clipByGlobalNorm(Object.fromEntries(acc), o.max_grad_norm);
      grads = new Map(Object.entries(c.grads));
      gradNorm = c.norm;
    }
    const bad = !Number.isFinite(loss) ? `loss is ${loss}` : o.max_grad_norm !== null && !Number.isFinite(gradNorm) ? `gradient norm is ${gradNorm}` : null;
    if (bad) {
      tf.dispose([...new Set([...acc.values(), ...grads.values()])]);
      throw new NumericError(`${bad} at step ${st.step + 1} (epoch ${st.epoch})`);
    }
    const lr = o.learning_rate * (1 - st.step / total); // HF get_linear_schedule_with_warmup, 0 warmup
    adam.learningRate = lr;
    if (o.weight_decay > 0) {
      tf.tidy(() => {
        for (const n of decayed) vars.get(n)!.assign(tf.mul(vars.get(n)!, 1 - lr * o.weight_decay));
      });
    }
    adam.apply(grads);
    tf.dispose([...grads.values()]);
    st.step += 1;
    st.update += 1;
    st.rng = rng.getState();
    const record = { step: st.step, epoch: st.epoch, loss, learning_rate: lr, grad_norm: gradNorm, tokens_per_s: tokens / ((performance.now() - t0) / 1000) };
    return { record, show: loss.toFixed(3) };
  };

  const run = await runLoop<SFTLoopState, Omit<SFTStepRecord, keyof LoopFields>>({
    name: 'trainSFT',
    bar: { title: 'sft', metric: 'loss' },
    totalSteps: total,
    model: deps.model,
    tokenizer: deps.tokenizer,
    outDir: deps.outDir,
    resume: deps.resume,
    progress: deps.progress,
    handleSigint: deps.handleSigint,
    shouldStop: deps.shouldStop,
    onStep: deps.onStep,
    noCheckpointHint: 'set sft.save_every to keep one',
    fresh: () => {
      const evalLossBefore = held.length ? heldOutLoss(deps.model, held, o.batch_size) : null;
      const order = rng.shuffle(train.map((_, i) => i));
      return { step: 0, total_steps: total, epoch: 0, order, update: 0, rng: rng.getState(), n_train: train.length, eval_loss_before: evalLossBefore, elapsed: 0 };
    },
    restore: async (state, tensors, file) => {
      const s = state as { trainer?: string; loop: SFTLoopState; adam: Parameters<NamedAdam['setState']>[0]['state'] };
      if (s.trainer !== 'sft' || !s.loop || !s.adam) throw new Error(`--resume: ${file} was not written by rarlhf sft (field "trainer" is ${JSON.stringify(s.trainer)})`);
      checkStateFields(s.loop, { step: 'int', total_steps: 'int', epoch: 'int', order: 'array', update: 'int', rng: 'object', n_train: 'int', elapsed: 'number' }, file, 'loop.');
      checkStateFields(s.adam, { iterations: 'int', accBeta1: 'number', accBeta2: 'number' }, file, 'adam.');
      if (s.loop.total_steps !== total || s.loop.n_train !== train.length) {
        throw new Error(`--resume: ${path.dirname(file)} is a run of ${s.loop.total_steps} steps over ${s.loop.n_train} texts, but this config gives ${total} steps over ${train.length} texts (change neither the data nor sft.* when resuming)`);
      }
      await adam.setState({ state: s.adam, tensors });
      rng.setState(s.loop.rng);
      return s.loop;
    },
    step,
    checkpoint: async (st) => {
      const a = await adam.getState();
      return { state: { trainer: 'sft', loop: st, adam: a.state }, tensors: a.tensors, extra: { trainer: 'sft', step: st.step } };
    },
    // HF save_steps: numbered weights-only checkpoints (the newest keep_last kept) and checkpoints/latest to resume from
    afterStep: async (st, save) => {
      if (!deps.outDir || !o.save_every || st.step % o.save_every !== 0) return;
      const ckptDir = path.join(deps.outDir, 'checkpoints');
      saveModel(path.join(ckptDir, `checkpoint-${st.step}`));
      const keep = o.keep_last === undefined ? 2 : o.keep_last;
      if (keep !== null) pruneNumbered(ckptDir, 'checkpoint-', keep);
      if (st.step < total) await save('latest');
    },
    finish: async () => {
      if (deps.outDir) saveModel(path.join(deps.outDir, 'checkpoints', 'final'));
    },
    dispose: () => adam.dispose(),
  });

  const { state: st, records, interrupted } = run;
  const tEval = performance.now();
  const evalLoss = held.length && !interrupted ? heldOutLoss(deps.model, held, o.batch_size) : null;
  const summary = {
    steps: st.step,
    total_steps: total,
    interrupted,
    epochs: o.epochs,
    train_texts: train.length,
    eval_texts: held.length,
    eval_loss_before: st.eval_loss_before,
    eval_loss: evalLoss,
    eval_ppl: evalLoss === null ? null : Math.exp(evalLoss),
    final_train_loss: records.at(-1)?.loss ?? null,
    seconds: st.elapsed + (performance.now() - tEval) / 1000,
    checkpoint: run.checkpointDir ? path.join(run.checkpointDir, interrupted ? 'latest' : 'final') : null,
  };
  if (deps.outDir) fs.writeFileSync(path.join(deps.outDir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  return { steps: records, evalLossBefore: st.eval_loss_before, evalLoss, summary, interrupted, signal: run.signal };
}
