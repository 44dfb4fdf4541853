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

/**
 * The handmade wide table of eval-cli.test.ts (its hand-computed numbers are there): five prompts,
 * p3 and p5 tie at prompt score -2.5 (the tail threshold).
 */
export const HANDMADE_WIDE_CSV = `prompt,label,prompt_score,sft_response,sft_reward,ra_response,ra_reward
p1,0,-3,a b c,-1,good good,1
p2,1,2,a b,0,very good,2
p3,0,-2.5,a b c d,-2,x,0
"p4, with comma",1,4,a a a,1,nice one,3
p5,0,-2.5,b c,2,ok,1
`;
