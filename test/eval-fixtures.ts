/** Shared helpers of the eval-*.test.ts files: a temp folder and the CLI as a child process. */
import { after } from 'node:test';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..');

export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface CliResult { status: number | null; stdout: string; stderr: string }

/** `rarlhf eval ...args` in a child process; never throws. */
export function evalCli(args: readonly string[]): CliResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'lib/cli/main.ts'), 'eval', ...args], { cwd: ROOT, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Same, expecting success; returns stdout parsed as JSON when `json`. */
export function evalOk(args: readonly string[]): CliResult {
  const r = evalCli(args);
  if (r.status !== 0) throw new Error(`eval ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return r;
}

export function write(dir: string, name: string, text: string): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
}
