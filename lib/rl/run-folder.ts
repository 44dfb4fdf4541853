/**
 * A run folder belongs to one run at a time:
 *   - a lock file `.rarlhf-lock` (pid, host, start time, command) taken atomically (link(2) of a
 *     complete temporary file, so nobody reads a half-written lock); a lock whose pid is dead on
 *     this host is stale and taken over with a message; a live holder makes the run refuse;
 *   - a fresh run into a folder that already holds a run refuses unless --resume (continue it) or
 *     --force (delete its contents and start over);
 *   - --resume refuses a config that differs from the folder's config.json in any key other
 *     than the few that may change (RESUME_MUTABLE), and names the keys.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { flatten, type Json } from '../config/index';

export const LOCK_FILE = '.rarlhf-lock';

export interface LockInfo {
  pid: number;
  host: string;
  started: string;
  command: string;
}

/** Locks this process holds (a second claim of the same folder from this process must refuse too). */
const held = new Set<string>();

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // alive, owned by another user
  }
}

function readLock(file: string): LockInfo | null {
  try {
    const o = JSON.parse(fs.readFileSync(file, 'utf8')) as LockInfo;
    return Number.isInteger(o.pid) && typeof o.host === 'string' ? o : null;
  } catch {
    return null;
  }
}

/** Holder of `file` is gone: same host and a dead pid (or this process, not holding it any more). */
function isStale(info: LockInfo | null, file: string): boolean {
  if (!info) return true; // unreadable: link() publishes only complete files, so it was not ours to respect
  if (info.host !== os.hostname()) return false; // cannot see another host's processes
  if (info.pid === process.pid) return !held.has(file);
  return !pidAlive(info.pid);
}

export interface RunLock {
  file: string;
  release(): void;
}

/**
 * Take `<dir>/.rarlhf-lock` for this process (creating `dir`). Throws, naming the holder, when a
 * live process holds it. Released by `release()` or when the process exits.
 */
export function acquireRunLock(dir: string, command: string, log: (line: string) => void = (l) => process.stderr.write(`[rarlhf] ${l}\n`)): RunLock {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.resolve(dir, LOCK_FILE);
  const me: LockInfo = { pid: process.pid, host: os.hostname(), started: new Date().toISOString(), command };
  const tmp = `${file}.${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(me) + '\n');
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        fs.linkSync(tmp, file); // atomic: fails with EEXIST when someone holds it
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot create the lock file ${file}: ${(e as Error).message}`);
      }
      const seen = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
      const info = readLock(file);
      if (attempt < 3 && isStale(info, file)) {
        log(`taking over the stale lock ${file}${info ? ` of pid ${info.pid} on ${info.host} (started ${info.started}, no longer running)` : ' (unreadable)'}`);
        // remove it only if it is still the stale one (another starter may have replaced it meanwhile)
        if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === seen) fs.rmSync(file, { force: true });
        continue;
      }
      const who = info ? `pid ${info.pid} on host ${info.host} (${info.command}, started ${info.started})` : 'another process';
      throw new Error(`run folder ${dir} is in use by ${who}; lock file ${file}. Wait for that run to finish, or use another --out` +
        (info && info.host !== os.hostname() ? '; if that process is gone, delete the lock file' : ''));
    }
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  held.add(file);
  const release = () => {
    process.off('exit', release);
    if (!held.delete(file)) return;
    // never delete a lock someone else took over
    if (readLock(file)?.pid === process.pid) fs.rmSync(file, { force: true });
  };
  process.on('exit', release);
  return { file, release };
}

/** What in `dir` marks a run (a --force clears only folders that hold one). */
const RUN_MARKERS = ['config.json', 'metrics.jsonl', 'summary.json', 'checkpoints'];

/** Entries of `dir` other than the lock (empty when `dir` does not exist). */
function contents(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((e) => e !== LOCK_FILE && !e.startsWith(`${LOCK_FILE}.`));
}

/**
 * An output path can be written: a `folder` (run folder, report) is a folder or does not exist
 * yet; a `file` is not a folder; the nearest existing ancestor is a writable folder. Commands call
 * it before any slow work, so a wrong --out fails at once instead of after hours.
 */
export function checkOutputPath(p: string, kind: 'file' | 'folder', flag = '--out'): void {
  let q = path.resolve(p);
  if (fs.existsSync(q)) {
    const isDir = fs.statSync(q).isDirectory();
    if (kind === 'folder' && !isDir) throw new Error(`${flag} ${p} is a file, not a folder`);
    if (kind === 'file' && isDir) throw new Error(`${flag} ${p} is a folder; give a file name`);
    if (kind === 'file') q = path.dirname(q); // an existing file is replaced: its folder must be writable
  }
  while (!fs.existsSync(q)) q = path.dirname(q);
  if (!fs.statSync(q).isDirectory()) throw new Error(`${flag} ${p}: ${q} is a file, so ${p} cannot be created`);
  try {
    fs.accessSync(q, fs.constants.W_OK);
  } catch {
    throw new Error(`${flag} ${p}: folder ${q} is not writable`);
  }
}

/** `--out` of a training run must be a folder (or not exist yet). */
export function checkRunDirPath(dir: string, flag = '--out'): void {
  checkOutputPath(dir, 'folder', flag);
}

/**
 * Take ownership of run folder `dir`: lock it, then (fresh run) refuse a folder that already holds
 * a run unless `force`, which deletes its contents. With `resume` the folder is kept as it is.
 */
export function claimRunFolder(dir: string, o: { resume?: boolean; force?: boolean; command: string; log?: (line: string) => void }): RunLock {
  if (o.resume && o.force) throw new Error('--resume and --force exclude each other: --resume continues the run in --out, --force deletes it');
  checkRunDirPath(dir);
  const lock = acquireRunLock(dir, o.command, o.log);
  try {
    const found = contents(dir);
    if (!o.resume && found.length > 0) {
      if (!o.force) {
        throw new Error(`run folder ${dir} is not empty (${found.slice(0, 5).join(', ')}${found.length > 5 ? ', ...' : ''}): continue its run with --resume, or delete it and start over with --force`);
      }
      if (!found.some((e) => RUN_MARKERS.includes(e))) {
        throw new Error(`--force: ${dir} does not look like a run folder (no ${RUN_MARKERS.join(', ')}); not deleting ${found.length} entries, choose another --out`);
      }
      for (const e of found) fs.rmSync(path.join(dir, e), { recursive: true, force: true });
      (o.log ?? ((l) => process.stderr.write(`[rarlhf] ${l}\n`)))(`--force: deleted the previous run in ${dir}`);
    }
  } catch (e) {
    lock.release();
    throw e;
  }
  return lock;
}

/**
 * Config keys that may differ on --resume: they change how long the run goes or how often it
 * saves, not what a step computes. Everything else must match the folder's config.json.
 */
export const RESUME_MUTABLE = {
  train: ['train.steps', 'train.epochs', 'train.save_every'],
  sft: ['sft.save_every', 'sft.keep_last'],
} as const;

/** Dotted keys whose values differ between two resolved configs, with both values (pure). */
export function configDiff(saved: Record<string, unknown>, next: Record<string, unknown>, mutable: readonly string[] = []): { key: string; saved: Json | undefined; next: Json | undefined }[] {
  const a = flatten(saved as Record<string, Json>);
  const b = flatten(next as Record<string, Json>);
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
  return keys
    .filter((k) => !mutable.includes(k) && JSON.stringify(a.get(k)) !== JSON.stringify(b.get(k)))
    .map((k) => ({ key: k, saved: a.get(k), next: b.get(k) }));
}

/** Throw, naming every differing key, when `next` may not resume the run configured by `saved`. */
export function checkResumeConfig(file: string, saved: Record<string, unknown>, next: Record<string, unknown>, mutable: readonly string[]): void {
  const diff = configDiff(saved, next, mutable);
  if (diff.length === 0) return;
  const fmt = (v: Json | undefined) => (v === undefined ? '(absent)' : JSON.stringify(v));
  throw new Error(`--resume: the config differs from the run's ${file} in ${diff.map((d) => d.key).join(', ')} (` +
    diff.map((d) => `${d.key}: ${fmt(d.saved)} -> ${fmt(d.next)}`).join('; ') +
    `); only ${mutable.join(', ')} may change on resume. Start a new run with another --out, or --force to replace this one`);
}
