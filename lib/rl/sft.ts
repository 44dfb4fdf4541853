/**
 * Supervised fine-tuning as the authors ran it (trl SFTTrainer + HF Trainer defaults, spec §4):
 * causal-LM loss on texts truncated to max_seq_length tokens (no packing), right padding with
 * pad = eos and pad positions ignored, AdamW (weight decay 0.0 by default, decay not applied to
 * biases / LayerNorm as HF), linear LR decay to 0 with no warmup, gradient accumulation,
 * grad-norm clipping at 1.0 (HF max_grad_norm default), seeded shuffling and dropout.
 * Resumable bit-exactly like the PPO loop (lib/rl/checkpointing.ts): checkpoints/latest holds the
 * weights, Adam moments, Rng state, step (= LR-schedule position), epoch and position in the
 * epoch's shuffled order; Ctrl-C, SIGTERM and SIGHUP finish the current optimizer step and write
 * it; a NaN/Inf loss stops before the update without touching the last good checkpoint. Numbered
 * checkpoints (save_every) keep the newest `keep_last`. Metrics lines log RSS and live tensors.
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
import { StopSignals, checkStateFields, loadTrainingCheckpoint, recoverCheckpointFolder, saveTrainingCheckpoint, truncateMetrics, type StopSignal } from './checkpointing';
import { pruneNumbered } from './checkpoint-swap';
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
interface SFTLoopState {
  step: number; // optimizer steps done; the LR schedule is lr * (1 - step / total_steps)
  total_steps: number;
  epoch: number;
  order: number[]; // shuffled training order of the current epoch
  update: number; // next update (group of grad_accum micro-batches) within `order`
  rng: ReturnType<Rng['getState']>; // after the last completed step (shuffles + dropout)
  n_train: number;
  eval_loss_before: number | null;
  elapsed: number;
}

class SFTNumericError extends Error {}

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
  const ckptDir = out ? path.join(out, 'checkpoints') : null;
  const metricsFile = out ? path.join(out, 'metrics.jsonl') : null;
  const records: SFTStepRecord[] = [];
  let st: SFTLoopState;
  try {
    if (out) fs.mkdirSync(out, { recursive: true });
    if (ckptDir) recoverCheckpointFolder(ckptDir, deps.resume ?? false);
    if (deps.resume) {
      if (!ckptDir) throw new Error('trainSFT: resume needs outDir');
      const latest = path.join(ckptDir, 'latest');
      const ts = loadTrainingCheckpoint(latest, deps.model);
      try {
        const s = ts.state as { trainer?: string; loop: SFTLoopState; adam: Parameters<NamedAdam['setState']>[0]['state'] };
        const file = path.join(latest, 'trainer_state.json');
        if (s.trainer !== 'sft' || !s.loop || !s.adam) throw new Error(`--resume: ${file} was not written by rarlhf sft (field "trainer" is ${JSON.stringify(s.trainer)})`);
        checkStateFields(s.loop, { step: 'int', total_steps: 'int', epoch: 'int', order: 'array', update: 'int', rng: 'object', n_train: 'int', elapsed: 'number' }, file, 'loop.');
        checkStateFields(s.adam, { iterations: 'int', accBeta1: 'number', accBeta2: 'number' }, file, 'adam.');
        if (s.loop.total_steps !== total || s.loop.n_train !== train.length) {
          throw new Error(`--resume: ${latest} is a run of ${s.loop.total_steps} steps over ${s.loop.n_train} texts, but this config gives ${total} steps over ${train.length} texts (change neither the data nor sft.* when resuming)`);
        }
        await adam.setState({ state: s.adam, tensors: ts.tensors });
        st = s.loop;
      } finally {
        for (const t of ts.tensors.values()) t.dispose();
      }
      rng.setState(st.rng);
      if (metricsFile) records.push(...truncateMetrics<SFTStepRecord>(metricsFile, st.step));
    } else {
      if (metricsFile) fs.writeFileSync(metricsFile, '');
      const evalLossBefore = held.length ? heldOutLoss(deps.model, held, o.batch_size) : null;
      const order = rng.shuffle(train.map((_, i) => i));
      st = { step: 0, total_steps: total, epoch: 0, order, update: 0, rng: rng.getState(), n_train: train.length, eval_loss_before: evalLossBefore, elapsed: 0 };
    }
  } catch (e) {
    adam.dispose();
    throw e;
  }

  let savedStep: number | null = deps.resume ? st.step : null; // held by checkpoints/latest (error messages)
  const save = async (name: string) => {
    if (!ckptDir) return;
    const a = await adam.getState();
    if (name === 'latest') savedStep = st.step;
    try {
      saveTrainingCheckpoint(path.join(ckptDir, name), { config: deps.model.config, weights: vars, tokenizer: deps.tokenizer, extra: { trainer: 'sft', step: st.step } }, { state: { trainer: 'sft', loop: st, adam: a.state }, tensors: a.tensors });
    } finally {
      for (const t of a.tensors.values()) t.dispose();
    }
  };

  const signals = new StopSignals(deps.handleSigint ?? false);
  const bar = deps.progress ?? Boolean(process.stderr.isTTY) ? new SingleBar({ stream: process.stderr, format: 'sft [{bar}] {value}/{total} steps | ETA {eta_formatted} | loss {loss}' }) : null;
  bar?.start(total, st.step, { loss: 'n/a' });
  const t0 = performance.now() - st.elapsed * 1000;
  let interrupted = false;
  try {
    while (st.step < total) {
      if (st.update >= updatesPerEpoch) {
        st.epoch += 1;
        st.order = rng.shuffle(train.map((_, i) => i));
        st.update = 0;
      }
      const tU = performance.now();
      const acc = new Map<string, tf.Tensor>();
      let lossSum = 0;
      let tokens = 0;
      const firstMicro = st.update * o.grad_accum;
      const lastMicro = Math.min(micro, firstMicro + o.grad_accum);
      for (let mb = firstMicro; mb < lastMicro; mb++) {
        const seqs = st.order.slice(mb * o.batch_size, (mb + 1) * o.batch_size).map((i) => train[i]);
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
      let grads = acc;
      let gradNorm = NaN;
      if (Number.isFinite(lossSum) && o.max_grad_norm !== null) {
        const c = clipByGlobalNorm(Object.fromEntries(acc), o.max_grad_norm);
        grads = new Map(Object.entries(c.grads));
        gradNorm = c.norm;
      }
      const bad = !Number.isFinite(lossSum) ? `loss is ${lossSum}` : o.max_grad_norm !== null && !Number.isFinite(gradNorm) ? `gradient norm is ${gradNorm}` : null;
      if (bad) {
        tf.dispose([...new Set([...acc.values(), ...grads.values()])]);
        throw new SFTNumericError(`${bad} at step ${st.step + 1} (epoch ${st.epoch})`);
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
      st.elapsed = (performance.now() - t0) / 1000;
      const rec: SFTStepRecord = {
        step: st.step, epoch: st.epoch, loss: lossSum, learning_rate: lr, grad_norm: gradNorm, tokens_per_s: tokens / ((performance.now() - tU) / 1000), seconds: st.elapsed,
        'memory/rss_mb': process.memoryUsage().rss / 2 ** 20, 'memory/num_tensors': tf.memory().numTensors,
      };
      records.push(rec);
      if (metricsFile) fs.appendFileSync(metricsFile, JSON.stringify(rec) + '\n');
      deps.onStep?.(rec);
      bar?.update(st.step, { loss: lossSum.toFixed(3) });
      if (out && o.save_every && st.step % o.save_every === 0) {
        saveCheckpoint(path.join(ckptDir!, `checkpoint-${st.step}`), { config: deps.model.config, weights: vars, tokenizer: deps.tokenizer });
        const keep = o.keep_last === undefined ? 2 : o.keep_last;
        if (keep !== null) pruneNumbered(ckptDir!, 'checkpoint-', keep);
        if (st.step < total) await save('latest');
      }
      const stop = (await signals.poll()) || (deps.shouldStop?.() ?? false);
      if (stop && st.step < total) {
        await save('latest');
        interrupted = true;
        break;
      }
    }
  } catch (e) {
    if (e instanceof SFTNumericError) {
      const latest = ckptDir ? path.join(ckptDir, 'latest') : null;
      const where = latest && fs.existsSync(latest) ? `; the last good checkpoint is ${latest} (after ${savedStep ?? '?'} steps; resume with --resume)` : '; no checkpoint was written (set sft.save_every to keep one)';
      throw new Error(`trainSFT: training stopped: ${e.message}${where}`);
    }
    throw e;
  } finally {
    bar?.stop();
    signals.dispose();
    adam.dispose();
  }
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
    seconds: (performance.now() - t0) / 1000,
    checkpoint: ckptDir ? path.join(ckptDir, interrupted ? 'latest' : 'final') : null,
  };
  if (out) {
    if (!interrupted) saveCheckpoint(path.join(ckptDir!, 'final'), { config: deps.model.config, weights: vars, tokenizer: deps.tokenizer });
    fs.writeFileSync(path.join(out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  }
  return { steps: records, evalLossBefore: st.eval_loss_before, evalLoss, summary, interrupted, signal: interrupted ? signals.signal : null };
}
