/**
 * A checkpoint folder swap that survives a kill at any point, and the recovery that goes with it.
 *
 * Writing `checkpoints/<name>`:
 *   1. fill `.<name>.tmp-<pid>-…` (model files, trainer state), then write `rarlhf_manifest.json`
 *      (name, size, sha256 of every file) LAST: a temporary folder with a valid manifest is complete;
 *   2. rename `<name>` -> `.<name>.old-<pid>-…`; 3. rename the temporary folder -> `<name>`;
 *   4. remove the old copy (steps 1-4 are models/atomic-dir.ts, the kit's one folder writer).
 * A kill between 2 and 3 leaves no `<name>` but two complete copies; `recoverCheckpoints` (run at
 * resume) puts the newer one back: a temporary folder verified against its manifest, else the old
 * copy. Leftover temporaries (killed writes, half-deleted old copies) are removed.
 *
 * RARLHF_FAULT_AT=k makes the process SIGKILL itself at the k-th filesystem step of checkpoint
 * writing (counted over the whole process), so tests can kill at every step of a swap.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeDirAtomic } from '../models/atomic-dir';

export const MANIFEST = 'rarlhf_manifest.json';
const MANIFEST_FORMAT = 'rarlhf-checkpoint-manifest';

let faultCount = 0;

/** One filesystem step of a checkpoint write; with RARLHF_FAULT_AT=k the k-th one kills the process. */
export function faultPoint(label: string): void {
  faultCount += 1;
  const at = process.env.RARLHF_FAULT_AT;
  if (at !== undefined && Number(at) === faultCount) {
    process.stderr.write(`[rarlhf] RARLHF_FAULT_AT=${at}: killing the process after "${label}"\n`);
    process.kill(process.pid, 'SIGKILL');
  }
}

/** Fault points passed so far in this process (tests size their loop with it). */
export function faultPointsPassed(): number {
  return faultCount;
}

function sha256(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

interface ManifestEntry { size: number; sha256: string }

/** Write the manifest of every regular file in `dir` (call it after the last file is written). */
export function writeManifest(dir: string): void {
  const files: Record<string, ManifestEntry> = {};
  for (const name of fs.readdirSync(dir).sort()) {
    if (name === MANIFEST) continue;
    const f = path.join(dir, name);
    const st = fs.statSync(f);
    if (st.isFile()) files[name] = { size: st.size, sha256: sha256(f) };
  }
  fs.writeFileSync(path.join(dir, MANIFEST), JSON.stringify({ format: MANIFEST_FORMAT, version: 1, files }, null, 2) + '\n');
}

/**
 * Check `dir` against its manifest. Returns null when every listed file has its size and sha256,
 * else why not (missing / unreadable manifest, missing, truncated or changed file).
 */
export function manifestProblem(dir: string): string | null {
  const mf = path.join(dir, MANIFEST);
  if (!fs.existsSync(mf)) return `${mf} is missing`;
  let m: { format?: unknown; files?: Record<string, ManifestEntry> };
  try {
    m = JSON.parse(fs.readFileSync(mf, 'utf8'));
  } catch (e) {
    return `${mf} is not valid JSON (${(e as Error).message})`;
  }
  if (m?.format !== MANIFEST_FORMAT || !m.files || typeof m.files !== 'object') return `${mf}: field "format" or "files" is missing`;
  for (const [name, want] of Object.entries(m.files)) {
    const f = path.join(dir, name);
    if (!fs.existsSync(f)) return `${f} is listed in ${MANIFEST} but missing`;
    const size = fs.statSync(f).size;
    if (size !== want.size) return `${f} has ${size} bytes, ${MANIFEST} says ${want.size}`;
    if (sha256(f) !== want.sha256) return `${f} does not match its sha256 in ${MANIFEST}`;
  }
  return null;
}

/**
 * Write `dir` with `fill` (which writes files into the folder it is given and calls `step` after
 * each), seal it with its manifest and swap it in (models/atomic-dir.ts), every step a fault point.
 */
export function writeCheckpointDir(dir: string, fill: (tmp: string, step: (label: string) => void) => void): void {
  const name = path.basename(dir);
  writeDirAtomic(dir, fill, {
    step: (label) => faultPoint(`${name}: ${label}`),
    seal: (tmp) => {
      writeManifest(tmp);
      faultPoint(`${name}: ${MANIFEST}`);
    },
  });
}

/** `.<name>.tmp-…` / `.<name>.old-…`: models/atomic-dir.ts temporaries. */
const TEMP_RE = /^\.(.+)\.(tmp|old)-(\d+)(?:-.*)?$/;

/** A copy that was complete before it was moved aside: verified by its manifest when it has one. */
function usableOld(dir: string): boolean {
  if (fs.existsSync(path.join(dir, MANIFEST))) return manifestProblem(dir) === null;
  // checkpoints written before manifests existed (and writeDirAtomic's) were complete once renamed in
  return fs.existsSync(path.join(dir, 'config.json')) && fs.existsSync(path.join(dir, 'model.safetensors'));
}

/**
 * Repair `ckptDir` after a kill: for every checkpoint name with temporaries, restore a missing
 * `<name>` from a verified temporary folder (newer) or an old copy, then remove the leftovers.
 * `restore: false` (a fresh run) only removes. Returns one line per action taken (the caller prints
 * them). Call it only while owning the run folder (its lock): a concurrent writer's temporaries
 * would look stale.
 */
export function recoverCheckpoints(ckptDir: string, o: { restore?: boolean } = {}): string[] {
  if (!fs.existsSync(ckptDir)) return [];
  const byName = new Map<string, { tmp: string[]; old: string[] }>();
  for (const entry of fs.readdirSync(ckptDir)) {
    const m = TEMP_RE.exec(entry);
    if (!m) continue;
    const g = byName.get(m[1]) ?? { tmp: [], old: [] };
    g[m[2] as 'tmp' | 'old'].push(path.join(ckptDir, entry));
    byName.set(m[1], g);
  }
  const notes: string[] = [];
  for (const [name, g] of byName) {
    const dir = path.join(ckptDir, name);
    if (o.restore !== false && !fs.existsSync(dir)) {
      // a verified temporary folder is newer than the copy moved aside for it
      const pick = g.tmp.find((t) => manifestProblem(t) === null) ?? g.old.find(usableOld);
      if (pick) {
        fs.renameSync(pick, dir);
        notes.push(`recovered ${dir} from ${path.basename(pick)} (a kill interrupted the checkpoint swap)`);
      }
    }
    for (const t of [...g.tmp, ...g.old]) {
      if (!fs.existsSync(t)) continue;
      fs.rmSync(t, { recursive: true, force: true });
      notes.push(`removed stale temporary ${t}`);
    }
  }
  return notes;
}

/** Remove all but the newest `keep` folders `<prefix><N>` in `dir` (numbered checkpoints). */
export function pruneNumbered(dir: string, prefix: string, keep: number): string[] {
  if (!fs.existsSync(dir)) return [];
  const re = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\d+)$`);
  const numbered = fs.readdirSync(dir).map((e) => ({ e, m: re.exec(e) })).filter((x) => x.m).map((x) => ({ e: x.e, n: Number(x.m![1]) })).sort((a, b) => a.n - b.n);
  const drop = numbered.slice(0, Math.max(0, numbered.length - keep));
  for (const d of drop) fs.rmSync(path.join(dir, d.e), { recursive: true, force: true });
  return drop.map((d) => path.join(dir, d.e));
}
