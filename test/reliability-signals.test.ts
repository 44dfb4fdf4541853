/**
 * Signals and concurrent runs through the real CLI process: while `rarlhf train` runs, a second
 * run into the same folder is refused naming the holder's pid and host; SIGTERM (Slurm, docker,
 * systemd) checkpoints after the current step and exits 143, releasing the lock, and --resume
 * finishes the run; `rarlhf sft` stops on SIGHUP with 129.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { initEngine } from '../lib/engine';
import { loadTrainerState } from '../lib/models/checkpoint';
import { LOCK_FILE } from '../lib/rl/run-folder';
import { run as train } from '../lib/cli/commands/train';
import { MAIN, ROOT, cliTrainFixture, tmpDir, waitForContent } from './reliability-fixtures';

let trainArgs: string[] = [];

before(async () => {
  await initEngine({ quiet: true });
  trainArgs = await cliTrainFixture(tmpDir('sig'));
});

/** Start `rarlhf <args>`, wait for its first metrics line, send `signal`; resolve with exit code and stderr. */
async function stopAfterFirstStep(args: string[], runDir: string, signal: NodeJS.Signals, whileRunning?: (pid: number) => Promise<void>): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += String(d)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  const kill = setTimeout(() => child.kill('SIGKILL'), 90_000); // a run that ignores the signal must not hang the suite
  try {
    await waitForContent(path.join(runDir, 'metrics.jsonl'));
    await whileRunning?.(child.pid!);
    child.kill(signal);
    return { code: await exited, stderr };
  } finally {
    clearTimeout(kill);
  }
}

test('a second run into a running folder is refused naming pid and host; SIGTERM checkpoints (exit 143); --resume finishes', async () => {
  const runDir = path.join(tmpDir('term'), 'run');
  const { code, stderr } = await stopAfterFirstStep(['train', '--algo', 'rlhf', '--out', runDir, ...trainArgs, '--set', 'train.steps=500'], runDir, 'SIGTERM', async (pid) => {
    await assert.rejects(train(['--algo', 'rlhf', '--out', runDir, '--resume']), new RegExp(`run folder .* is in use by pid ${pid} on host ${os.hostname()} \\(rarlhf train --algo rlhf`));
  });
  assert.equal(code, 143, stderr);
  assert.match(stderr, /SIGTERM: finishing the current step, then checkpointing/);
  assert.match(stderr, /SIGTERM: interrupted at step \d+; continue with: rarlhf train --algo rlhf --out .* --resume/);
  assert.ok(!fs.existsSync(path.join(runDir, LOCK_FILE)), 'the lock outlived the run');
  const done = (loadTrainerState(path.join(runDir, 'checkpoints', 'latest'))!.state as { loop: { step: number } }).loop.step;
  assert.ok(done >= 1 && done < 500, `stopped after ${done} steps`);
  const log = console.log;
  console.log = () => {};
  try {
    await train(['--algo', 'rlhf', '--out', runDir, '--resume', '--no-progress', '--set', `train.steps=${done + 1}`]);
  } finally {
    console.log = log;
  }
  assert.equal(JSON.parse(fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8')).steps_done, done + 1);
  assert.deepEqual(fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).step), Array.from({ length: done + 1 }, (_, i) => i));
});

test('rarlhf sft stops on SIGHUP after checkpointing (exit 129)', async () => {
  const runDir = path.join(tmpDir('hup'), 'run');
  const sets = ['model.scratch.n_layer=1', 'model.scratch.n_embd=16', 'model.scratch.n_head=2', 'model.scratch.n_positions=48', 'sft.max_texts=40', 'sft.batch_size=4', 'sft.epochs=50', 'sft.max_seq_length=16'];
  const args = ['sft', '--config', path.join(ROOT, 'configs', 'sft-imdb-mini.json'), '--out', runDir, '--no-progress', ...sets.flatMap((s) => ['--set', s])];
  const { code, stderr } = await stopAfterFirstStep(args, runDir, 'SIGHUP');
  assert.equal(code, 129, stderr);
  assert.match(stderr, /SIGHUP: interrupted at step \d+; continue with: rarlhf sft --out .* --resume/);
  const done = (loadTrainerState(path.join(runDir, 'checkpoints', 'latest'))!.state as { loop: { step: number } }).loop.step;
  assert.equal(fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').length, done);
});
