/**
 * The kit's one atomic folder writer (model checkpoints, training checkpoints): `fill` writes into
 * a fresh temporary sibling `.<name>.tmp-<pid>-…`, which then replaces `<name>`. Since rename()
 * cannot replace a non-empty folder, an existing `<name>` is moved aside to `.<name>.old-<pid>-…`
 * first and removed last. Rollback: a failing `fill` removes the temporary folder and leaves
 * `<name>` untouched; a failing swap puts the old copy back. A kill between the two renames leaves
 * two complete copies and no `<name>`: lib/rl/checkpoint-swap.ts `recoverCheckpoints` repairs that.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface AtomicDirOptions {
  /** called after each filesystem step (fault-injection tests kill the process there); `fill` gets it too */
  step?: (label: string) => void;
  /** last write into the finished temporary folder before the swap (a manifest) */
  seal?: (tmp: string) => void;
}

export function writeDirAtomic(dir: string, fill: (tmp: string, step: (label: string) => void) => void, o: AtomicDirOptions = {}): void {
  const step = o.step ?? (() => {});
  const parent = path.dirname(path.resolve(dir));
  const name = path.basename(dir);
  fs.mkdirSync(parent, { recursive: true });
  const stamp = `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  const tmp = path.join(parent, `.${name}.tmp-${stamp}`);
  const old = path.join(parent, `.${name}.old-${stamp}`);
  fs.mkdirSync(tmp);
  try {
    fill(tmp, step);
    if (o.seal) o.seal(tmp);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const hadOld = fs.existsSync(dir);
  if (hadOld) {
    fs.renameSync(dir, old);
    step(`rename ${name} -> ${path.basename(old)}`);
  }
  try {
    fs.renameSync(tmp, dir);
  } catch (e) {
    if (hadOld) fs.renameSync(old, dir);
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  step(`rename ${path.basename(tmp)} -> ${name}`);
  if (hadOld) fs.rmSync(old, { recursive: true, force: true });
  step(`remove ${path.basename(old)}`); // also without an old copy, so every write has the same steps
}
