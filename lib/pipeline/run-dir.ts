/**
 * Run folder bookkeeping shared by the demo and the miniature reproduction: one sub-folder per
 * stage with its config.json, metrics.jsonl and a done.json marker (written last, so a stage is
 * either complete or redone), a timings table, and progress bars that degrade to plain log lines
 * when stderr is not a terminal (CI logs, tests).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as crypto from 'node:crypto';
import { SingleBar, Presets } from 'cli-progress';

/** Stable JSON (sorted keys) so equal configs hash equally regardless of key order. */
export function stableStringify(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${JSON.stringify(k)}:${stableStringify(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** Short content hash of a config: the cache key of a stage's output. */
export function configHash(v: unknown): string {
  return crypto.createHash('sha256').update(stableStringify(v)).digest('hex').slice(0, 12);
}

export function writeJson(file: string, v: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(v, null, 2) + '\n');
  fs.renameSync(tmp, file);
}

export function readJson<T>(file: string): T {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch (e) {
    throw new Error(`${file}: cannot read JSON (${e instanceof Error ? e.message : String(e)})`);
  }
}

export interface StageRecord {
  stage: string;
  seconds: number;
  cached: boolean;
}

/** A stage folder: dir/<name>/ with config.json, metrics.jsonl, done.json. */
export class Stage {
  constructor(readonly dir: string, readonly name: string, readonly config: unknown) {}

  get doneFile(): string {
    return path.join(this.dir, 'done.json');
  }

  /** True when the stage completed earlier with the same config (hash in done.json). */
  isDone(): boolean {
    if (!fs.existsSync(this.doneFile)) return false;
    return readJson<{ hash: string }>(this.doneFile).hash === configHash(this.config);
  }

  /** Fresh start: clears metrics of a previous incomplete or differently configured attempt. */
  begin(): void {
    fs.mkdirSync(this.dir, { recursive: true });
    for (const f of ['metrics.jsonl', 'done.json']) fs.rmSync(path.join(this.dir, f), { force: true });
    writeJson(path.join(this.dir, 'config.json'), this.config);
  }

  log(row: Record<string, unknown>): void {
    fs.appendFileSync(path.join(this.dir, 'metrics.jsonl'), JSON.stringify(row) + '\n');
  }

  finish(summary: Record<string, unknown>): void {
    writeJson(this.doneFile, { hash: configHash(this.config), finishedAt: new Date().toISOString(), ...summary });
  }

  summary<T = Record<string, unknown>>(): T {
    return readJson<T>(this.doneFile);
  }

  metrics(): Record<string, unknown>[] {
    const f = path.join(this.dir, 'metrics.jsonl');
    if (!fs.existsSync(f)) return [];
    return fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}

/**
 * Progress reporting: a cli-progress bar on a TTY, otherwise one log line per ~10% (and at the
 * end) so logs stay short. `quiet` silences everything (tests).
 */
export class Progress {
  private bar: SingleBar | null = null;
  private lastPct = -1;
  private label = '';
  private total = 0;
  constructor(private readonly quiet = false) {}

  start(label: string, total: number): void {
    this.stop();
    this.label = label;
    this.total = total;
    this.lastPct = -1;
    if (this.quiet) return;
    if (process.stderr.isTTY) {
      this.bar = new SingleBar({ format: `${label.padEnd(12)} [{bar}] {value}/{total} {info}`, stream: process.stderr, hideCursor: true }, Presets.shades_classic);
      this.bar.start(total, 0, { info: '' });
    }
  }

  update(value: number, info = ''): void {
    if (this.quiet) return;
    if (this.bar) {
      this.bar.update(value, { info });
      return;
    }
    const pct = this.total > 0 ? Math.floor((10 * value) / this.total) : 10;
    if (pct !== this.lastPct) {
      this.lastPct = pct;
      process.stderr.write(`  ${this.label} ${value}/${this.total} ${info}\n`);
    }
  }

  stop(): void {
    if (this.bar) {
      this.bar.stop();
      this.bar = null;
    }
  }

  log(msg: string): void {
    if (!this.quiet) process.stderr.write(`${msg}\n`);
  }
}

/** Run `fn` as a cached stage: skip when done with the same config, else run and time it. */
export async function runStage<T extends Record<string, unknown>>(
  stage: Stage,
  progress: Progress,
  fn: (stage: Stage) => Promise<T>,
  timings: StageRecord[],
): Promise<T & { seconds?: number }> {
  if (stage.isDone()) {
    const prev = stage.summary<T & { seconds?: number }>();
    progress.log(`[${stage.name}] cached (${stage.dir})`);
    timings.push({ stage: stage.name, seconds: prev.seconds ?? 0, cached: true });
    return prev;
  }
  progress.log(`[${stage.name}] ...`);
  const t0 = performance.now();
  stage.begin();
  const out = await fn(stage);
  progress.stop();
  const seconds = (performance.now() - t0) / 1000;
  stage.finish({ ...out, seconds });
  timings.push({ stage: stage.name, seconds, cached: false });
  progress.log(`[${stage.name}] done in ${seconds.toFixed(1)} s`);
  return { ...out, seconds };
}
