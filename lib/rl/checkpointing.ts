/**
 * Resumable-run plumbing shared by the PPO loop (train-loop.ts) and SFT (sft.ts):
 *   - a training checkpoint = HF-layout weights + trainer_state.json + optimizer.safetensors,
 *     written into a temporary sibling and swapped in, so a crash mid-write never leaves a
 *     half-written checkpoints/latest;
 *   - resume: weights into the model, trainer state back to the caller;
 *   - metrics.jsonl truncated to the steps the checkpoint covers (rerun steps are not duplicated);
 *   - a SIGINT flag (first Ctrl-C = finish the step and checkpoint, second = exit 130 now).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { tf } from '../engine';
import { loadCheckpoint, loadTrainerState, saveCheckpoint, saveTrainerState, type CheckpointData, type TrainerState } from '../models/checkpoint';

/** Write `dir` = weights (HF layout) + trainer state, replacing an existing `dir` only once complete. */
export function saveTrainingCheckpoint(dir: string, model: CheckpointData, trainer: TrainerState): void {
  const parent = path.dirname(dir);
  const name = path.basename(dir);
  fs.mkdirSync(parent, { recursive: true });
  const tmp = path.join(parent, `.${name}.tmp-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  saveCheckpoint(tmp, model);
  saveTrainerState(tmp, trainer);
  const old = path.join(parent, `.${name}.old-${process.pid}`);
  if (fs.existsSync(dir)) fs.renameSync(dir, old);
  fs.renameSync(tmp, dir);
  fs.rmSync(old, { recursive: true, force: true });
}

/**
 * Load `dir` (written by saveTrainingCheckpoint) into `model` (strict: every parameter must be
 * there) and return the trainer state; the caller disposes its tensors.
 */
export function loadTrainingCheckpoint(
  dir: string,
  model: { loadWeights(w: Map<string, tf.Tensor>, o: { strict?: boolean; source?: string }): void },
): TrainerState {
  if (!fs.existsSync(dir)) throw new Error(`--resume: no checkpoint at ${dir}`);
  const ts = loadTrainerState(dir);
  if (!ts) throw new Error(`--resume: ${path.join(dir, 'trainer_state.json')} is missing`);
  const ck = loadCheckpoint(dir);
  try {
    model.loadWeights(ck.weights, { strict: true, source: dir });
  } finally {
    for (const t of ck.weights.values()) t.dispose();
  }
  return ts;
}

/** Keep the first `steps` lines of metrics.jsonl (the steps a checkpoint covers) and return them parsed. */
export function truncateMetrics<T>(file: string, steps: number): T[] {
  if (!fs.existsSync(file)) return [];
  const kept = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).slice(0, steps);
  fs.writeFileSync(file, kept.map((l) => l + '\n').join(''));
  return kept.map((l) => JSON.parse(l) as T);
}

/**
 * While installed, the first SIGINT only sets `requested` (the loop finishes its step, checkpoints
 * and returns); a second one exits with 130 at once.
 */
export class SigintStop {
  requested = false;
  private readonly handler = () => {
    if (this.requested) process.exit(130);
    this.requested = true;
    process.stderr.write('\n[rarlhf] SIGINT: finishing the current step, then checkpointing (Ctrl-C again to abort)\n');
  };

  constructor(private readonly installed: boolean) {
    if (installed) process.on('SIGINT', this.handler);
  }

  /** A training step is synchronous tensor work: let the event loop run so a pending SIGINT is delivered. */
  async poll(): Promise<boolean> {
    await new Promise((r) => setImmediate(r));
    return this.requested;
  }

  dispose(): void {
    if (this.installed) process.off('SIGINT', this.handler);
  }
}
