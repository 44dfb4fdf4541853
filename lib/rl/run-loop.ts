/**
 * The plumbing every resumable training loop of the kit shares (PPO / RA-RLHF in train-loop.ts,
 * SFT in sft.ts), so each algorithm file shows only its step:
 *   - the run folder: config.json and an empty metrics.jsonl on a fresh start, one metrics line per
 *     step with `seconds` and the memory fields (process RSS, live tensors: a leak is a rising line);
 *   - resume from checkpoints/latest (an interrupted swap repaired first, weights into the model,
 *     the algorithm's state handed back to it, metrics of steps that will rerun dropped);
 *   - Ctrl-C / SIGTERM / SIGHUP and `shouldStop`: finish the step, write checkpoints/latest, return;
 *   - the progress bar with ETA;
 *   - the NaN guard: a NumericError thrown by a step stops the run, and the message names the
 *     last good checkpoint (which the failed step never touched).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SingleBar } from 'cli-progress';
import { tf } from '../engine';
import type { GPT2Config } from '../models/gpt2';
import type { GPT2Tokenizer } from '../text/gpt2-tokenizer';
import { StopSignals, loadTrainingCheckpoint, recoverCheckpointFolder, saveTrainingCheckpoint, truncateMetrics, type StopSignal } from './checkpointing';

/** A non-finite reward, loss or statistic: the loop stops and keeps the last good checkpoint. */
export class NumericError extends Error {}

/** What every loop state holds; each algorithm adds its own fields (all JSON, saved in trainer_state.json). */
export interface LoopState {
  /** steps done (= index of the next step) */
  step: number;
  /** training seconds so far, across resumes */
  elapsed: number;
}

/** Fields the loop adds to every metrics line after the algorithm's own. */
export interface LoopFields {
  seconds: number;
  'memory/rss_mb': number;
  'memory/num_tensors': number;
}

type Tensors = Map<string, tf.Tensor>;

export interface LoopSpec<S extends LoopState, R extends object> {
  /** names the loop in errors ('trainPPO', 'trainSFT') */
  name: string;
  /** progress bar: its title and the metric it shows */
  bar: { title: string; metric: string };
  totalSteps: number;
  /** the model whose weights the checkpoints hold (resume loads into it) */
  model: { config: GPT2Config; namedWeights(): Map<string, tf.Variable>; loadWeights(w: Tensors, o: { strict?: boolean; source?: string }): void };
  tokenizer: GPT2Tokenizer;
  outDir?: string | null;
  resume?: boolean;
  /** written as config.json on a fresh start */
  config?: Record<string, unknown>;
  progress?: boolean;
  handleSigint?: boolean;
  shouldStop?: () => boolean;
  onStep?: (record: R & LoopFields) => void | Promise<void>;
  /** what to add to the "no checkpoint yet" message (e.g. which setting writes one) */
  noCheckpointHint: string;
  /** the state of a fresh run (metrics.jsonl has just been emptied) */
  fresh(): S | Promise<S>;
  /** a resumed run: check and restore `state` (trainer_state.json at `file`) and return the loop state */
  restore(state: Record<string, unknown>, tensors: Tensors, file: string): S | Promise<S>;
  /** one step: advances `st` (st.step += 1 at least) and returns its metrics and the bar's value */
  step(st: S): Promise<{ record: R; show: string }>;
  /** what checkpoints/<name> holds besides the weights (the caller's tensors are disposed after the write) */
  checkpoint(st: S): Promise<{ state: Record<string, unknown>; tensors: Tensors; extra: Record<string, unknown> }>;
  /** after each step's metrics line: periodic checkpoints (`save('latest')` writes checkpoints/latest) */
  afterStep?(st: S, save: (name: string) => Promise<void>): Promise<void>;
  /** after the last step of an uninterrupted run */
  finish?(st: S, save: (name: string) => Promise<void>): Promise<void>;
  /** frees the algorithm's tensors (trainer, optimizer); called once, also when set-up fails */
  dispose(): void;
}

export interface LoopResult<S, R> {
  state: S;
  records: (R & LoopFields)[];
  interrupted: boolean;
  /** the signal that stopped the run (the CLI exits with 128 + its number), null otherwise */
  signal: StopSignal | null;
  /** path of checkpoints/, null without an outDir */
  checkpointDir: string | null;
}

export async function runLoop<S extends LoopState, R extends object>(spec: LoopSpec<S, R>): Promise<LoopResult<S, R>> {
  const out = spec.outDir ?? null;
  const ckptDir = out ? path.join(out, 'checkpoints') : null;
  const metricsFile = out ? path.join(out, 'metrics.jsonl') : null;
  const records: (R & LoopFields)[] = [];
  let st: S;
  try {
    if (out) fs.mkdirSync(out, { recursive: true });
    if (ckptDir) recoverCheckpointFolder(ckptDir, spec.resume ?? false);
    if (spec.resume) {
      if (!ckptDir) throw new Error(`${spec.name}: resume needs outDir`);
      const latest = path.join(ckptDir, 'latest');
      const ts = loadTrainingCheckpoint(latest, spec.model);
      try {
        st = await spec.restore(ts.state, ts.tensors, path.join(latest, 'trainer_state.json'));
      } finally {
        for (const t of ts.tensors.values()) t.dispose();
      }
      if (metricsFile) records.push(...truncateMetrics<R & LoopFields>(metricsFile, st.step));
    } else {
      if (metricsFile) fs.writeFileSync(metricsFile, '');
      if (out && spec.config) fs.writeFileSync(path.join(out, 'config.json'), JSON.stringify(spec.config, null, 2) + '\n');
      st = await spec.fresh();
    }
  } catch (e) {
    spec.dispose();
    throw e;
  }

  let savedStep: number | null = spec.resume ? st.step : null; // the step checkpoints/latest holds
  const save = async (name: string) => {
    if (!ckptDir || (name === 'latest' && savedStep === st.step && fs.existsSync(path.join(ckptDir, name)))) return;
    const c = await spec.checkpoint(st);
    try {
      saveTrainingCheckpoint(path.join(ckptDir, name), { config: spec.model.config, weights: spec.model.namedWeights(), tokenizer: spec.tokenizer, extra: c.extra }, { state: c.state, tensors: c.tensors });
    } finally {
      for (const t of c.tensors.values()) t.dispose();
    }
    if (name === 'latest') savedStep = st.step;
  };

  const signals = new StopSignals(spec.handleSigint ?? false);
  const bar = spec.progress ?? Boolean(process.stderr.isTTY)
    ? new SingleBar({ stream: process.stderr, format: `${spec.bar.title} [{bar}] {value}/{total} steps | ETA {eta_formatted} | ${spec.bar.metric} {value_shown}` })
    : null;
  bar?.start(spec.totalSteps, st.step, { value_shown: 'n/a' });
  const t0 = performance.now() - st.elapsed * 1000;
  let interrupted = false;
  try {
    while (st.step < spec.totalSteps) {
      const { record, show } = await spec.step(st);
      st.elapsed = (performance.now() - t0) / 1000;
      const rec = { ...record, seconds: st.elapsed, 'memory/rss_mb': process.memoryUsage().rss / 2 ** 20, 'memory/num_tensors': tf.memory().numTensors };
      records.push(rec);
      if (metricsFile) fs.appendFileSync(metricsFile, JSON.stringify(rec) + '\n');
      await spec.onStep?.(rec);
      bar?.update(st.step, { value_shown: show });
      await spec.afterStep?.(st, save);
      const stop = (await signals.poll()) || (spec.shouldStop?.() ?? false);
      if (stop && st.step < spec.totalSteps) {
        await save('latest');
        interrupted = true;
        break;
      }
    }
    if (!interrupted) await spec.finish?.(st, save);
  } catch (e) {
    if (!(e instanceof NumericError)) throw e;
    const latest = ckptDir ? path.join(ckptDir, 'latest') : null;
    const where = / at step \d+/.test(e.message) ? '' : ` at step ${st.step}`; // PPO counts steps from 0 (its metrics lines do); SFT names its step itself
    const last = latest && fs.existsSync(latest)
      ? `; the last good checkpoint is ${latest} (after ${savedStep ?? '?'} steps; continue with --resume)`
      : `; no checkpoint was written yet (${ckptDir ? spec.noCheckpointHint : 'no outDir'})`;
    throw new Error(`${spec.name}: training stopped${where}: ${e.message}${last}`);
  } finally {
    bar?.stop();
    signals.dispose();
    spec.dispose();
  }
  return { state: st, records, interrupted, signal: interrupted ? signals.signal : null, checkpointDir: ckptDir };
}
