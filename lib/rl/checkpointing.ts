/**
 * Resumable-run plumbing shared by the PPO loop (train-loop.ts) and SFT (sft.ts):
 *   - a training checkpoint = HF-layout weights + trainer_state.json + optimizer.safetensors +
 *     rarlhf_manifest.json, written into a temporary sibling and swapped in (checkpoint-swap.ts),
 *     so a kill at any point leaves a complete checkpoint that resume finds;
 *   - resume: repair an interrupted swap, verify the manifest, weights into the model, trainer
 *     state back to the caller;
 *   - metrics.jsonl truncated to the steps the checkpoint covers (rerun steps are not duplicated);
 *   - stop signals: SIGINT, SIGTERM (Slurm, docker, systemd) and SIGHUP finish the step and
 *     checkpoint; a second one exits at once with 128 + the signal number.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { tf } from '../engine';
import { loadCheckpoint, loadTrainerState, saveTrainerState, writeCheckpointFiles, type CheckpointData, type TrainerState } from '../models/checkpoint';
import { MANIFEST, manifestProblem, recoverCheckpoints, writeCheckpointDir } from './checkpoint-swap';

/** Write `dir` = weights (HF layout) + trainer state, replacing an existing `dir` only once complete. */
export function saveTrainingCheckpoint(dir: string, model: CheckpointData, trainer: TrainerState): void {
  writeCheckpointDir(dir, (tmp, step) => {
    writeCheckpointFiles(tmp, model, { afterFile: step });
    saveTrainerState(tmp, trainer);
    step('trainer state');
  });
}

/**
 * At the start of a run: repair interrupted swaps in `ckptDir` (resume) or just drop leftover
 * temporaries (fresh run), printing what was done.
 */
export function recoverCheckpointFolder(ckptDir: string, resume: boolean, log: (line: string) => void = (l) => process.stderr.write(`[rarlhf] ${l}\n`)): void {
  for (const note of recoverCheckpoints(ckptDir, { restore: resume })) log(note);
}

type FieldKind = 'int' | 'number' | 'string' | 'object' | 'array';

/**
 * Check the fields a resume reads from trainer_state.json, so a malformed file fails with its
 * name and the field instead of a TypeError deep in setState (pure).
 */
export function checkStateFields(obj: unknown, spec: Record<string, FieldKind>, file: string, prefix = ''): void {
  const o = (obj ?? {}) as Record<string, unknown>;
  for (const [k, kind] of Object.entries(spec)) {
    const v = o[k];
    const ok = kind === 'int' ? Number.isInteger(v) && (v as number) >= 0
      : kind === 'number' ? typeof v === 'number' && Number.isFinite(v)
      : kind === 'string' ? typeof v === 'string'
      : kind === 'array' ? Array.isArray(v)
      : v !== null && typeof v === 'object' && !Array.isArray(v);
    if (!ok) throw new Error(`--resume: ${file}: field "${prefix}${k}" ${v === undefined ? 'is missing' : `must be ${kind === 'int' ? 'a non-negative integer' : `a${kind === 'object' || kind === 'array' ? 'n' : ''} ${kind}`} (got ${JSON.stringify(v)?.slice(0, 60)})`}`);
  }
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
  // checkpoints written before manifests existed have none; a present one must match
  const bad = fs.existsSync(path.join(dir, MANIFEST)) ? manifestProblem(dir) : null;
  if (bad) throw new Error(`--resume: checkpoint ${dir} is damaged: ${bad}`);
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

export type StopSignal = 'SIGINT' | 'SIGTERM' | 'SIGHUP';
/** Exit codes of a run stopped by a signal: 128 + the signal number, as a shell reports it. */
export const SIGNAL_EXIT_CODE: Record<StopSignal, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

/**
 * While installed, the first SIGINT / SIGTERM / SIGHUP only records the signal (the loop finishes
 * its step, checkpoints and returns); a second one exits at once with 128 + its number.
 */
export class StopSignals {
  signal: StopSignal | null = null;
  private readonly handlers = new Map<StopSignal, () => void>();

  constructor(private readonly installed: boolean) {
    if (!installed) return;
    for (const sig of Object.keys(SIGNAL_EXIT_CODE) as StopSignal[]) {
      const h = () => {
        if (this.signal) process.exit(SIGNAL_EXIT_CODE[sig]);
        this.signal = sig;
        const again = sig === 'SIGINT' ? 'Ctrl-C again' : `${sig} again`;
        process.stderr.write(`\n[rarlhf] ${sig}: finishing the current step, then checkpointing (${again} to abort)\n`);
      };
      this.handlers.set(sig, h);
      process.on(sig, h);
    }
  }

  get requested(): boolean {
    return this.signal !== null;
  }

  /** A training step is synchronous tensor work: let the event loop run so a pending signal is delivered. */
  async poll(): Promise<boolean> {
    await new Promise((r) => setImmediate(r));
    return this.requested;
  }

  dispose(): void {
    for (const [sig, h] of this.handlers) process.off(sig, h);
    this.handlers.clear();
  }
}
