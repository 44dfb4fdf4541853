/**
 * Run-folder ownership (lib/rl/run-folder.ts) through `rarlhf train` / `rarlhf sft`: the lock
 * (live holder refused with pid and host, stale lock taken over), a fresh run into a non-empty
 * folder refused and --force clearing it, --resume with a changed config refused naming the keys,
 * and errors that arrive before anything slow: --out naming a file, a corrupt config.json,
 * `generate --out <folder>`, `eval --out <file>`.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initEngine } from '../lib/engine';
import { loadTrainerState } from '../lib/models/checkpoint';
import { LOCK_FILE, acquireRunLock, configDiff } from '../lib/rl/run-folder';
import { run as train } from '../lib/cli/commands/train';
import { run as sft } from '../lib/cli/commands/sft';
import { run as generate } from '../lib/cli/commands/generate';
import { run as evalCmd } from '../lib/cli/commands/eval';
import { cliTrainFixture, runNode, tmpDir } from './reliability-fixtures';

let trainArgs: string[] = [];
let runDir = ''; // a finished 2-step rlhf run
const quiet = async <T>(fn: () => Promise<T>): Promise<T> => {
  const log = console.log;
  console.log = () => {};
  try {
    return await fn();
  } finally {
    console.log = log;
  }
};

before(async () => {
  await initEngine({ quiet: true });
  const root = tmpDir('folder');
  trainArgs = await cliTrainFixture(root);
  runDir = path.join(root, 'run');
  await quiet(() => train(['--algo', 'rlhf', '--out', runDir, ...trainArgs]));
  assert.ok(!fs.existsSync(path.join(runDir, LOCK_FILE)), 'lock released after the run');
});

test('configDiff names the differing dotted keys and skips the mutable ones', () => {
  const a = { seed: 1, ppo: { batch_size: 8, lr: 1 }, train: { steps: 3 } };
  const b = { seed: 2, ppo: { batch_size: 4, lr: 1 }, train: { steps: 9 }, extra: true };
  assert.deepEqual(configDiff(a, b, ['train.steps']).map((d) => d.key), ['extra', 'ppo.batch_size', 'seed']);
  assert.deepEqual(configDiff(a, a), []);
});

test('a live lock refuses naming pid and host; a dead pid\'s lock is taken over with a message', async () => {
  const dir = tmpDir('lock');
  const held = acquireRunLock(dir, 'test holder', () => {});
  assert.throws(() => acquireRunLock(dir, 'second'), new RegExp(`in use by pid ${process.pid} on host ${os.hostname()} \\(test holder`));
  await assert.rejects(quiet(() => train(['--algo', 'rlhf', '--out', dir, ...trainArgs])), /run folder .* is in use by pid \d+ on host/);
  held.release();
  assert.ok(!fs.existsSync(path.join(dir, LOCK_FILE)));
  // a lock left by a process that died (SIGKILL leaves it behind)
  const dead = await runNode(['-e', 'console.log(process.pid)']);
  const pid = Number(dead.stdout.trim());
  fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid, host: os.hostname(), started: '2024-01-01T00:00:00Z', command: 'rarlhf train' }));
  const notes: string[] = [];
  const mine = acquireRunLock(dir, 'taker', (l) => notes.push(l));
  assert.match(notes.join('\n'), new RegExp(`taking over the stale lock .* of pid ${pid} on ${os.hostname()}`));
  assert.equal(JSON.parse(fs.readFileSync(mine.file, 'utf8')).pid, process.pid);
  mine.release();
  // another host's lock cannot be checked: refused, with how to clear it
  fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: 1, host: 'elsewhere', started: 'x', command: 'rarlhf sft' }));
  assert.throws(() => acquireRunLock(dir, 'x'), /in use by pid 1 on host elsewhere .*delete the lock file/);
});

test('a fresh run into a folder holding a run is refused; --force deletes it and starts over', async () => {
  await assert.rejects(train(['--algo', 'rlhf', '--out', runDir, ...trainArgs]), /run folder .*run is not empty \(.*config\.json.*\): continue its run with --resume, or delete it and start over with --force/);
  await assert.rejects(train(['--algo', 'rlhf', '--out', runDir, '--resume', '--force', ...trainArgs]), /--resume and --force exclude each other/);
  // --force never empties a folder that does not look like a run
  const other = tmpDir('notarun');
  fs.writeFileSync(path.join(other, 'thesis.tex'), 'precious');
  await assert.rejects(train(['--algo', 'rlhf', '--out', other, '--force', ...trainArgs]), /does not look like a run folder .*not deleting 1 entries/);
  assert.ok(fs.existsSync(path.join(other, 'thesis.tex')));

  const dir = tmpDir('force');
  fs.cpSync(runDir, dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'checkpoints', 'stale-marker'), 'x');
  await quiet(() => train(['--algo', 'ra-rlhf', '--out', dir, '--force', ...trainArgs, '--set', 'train.steps=1']));
  assert.ok(!fs.existsSync(path.join(dir, 'checkpoints', 'stale-marker')), '--force kept files of the old run');
  assert.equal(fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').length, 1);
  assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).algo, 'ra-rlhf');
  assert.equal((loadTrainerState(path.join(dir, 'checkpoints', 'latest'))!.state as { loop: { step: number } }).loop.step, 1);
});

test('--resume with a changed config is refused naming the keys; more steps are allowed and recorded', async () => {
  const before = fs.readFileSync(path.join(runDir, 'config.json'), 'utf8');
  await assert.rejects(
    train(['--algo', 'rlhf', '--out', runDir, '--resume', '--set', 'ppo.batch_size=2', '--set', 'ppo.mini_batch_size=2', '--set', 'seed=7']),
    /--resume: the config differs from the run's .*config\.json in ppo\.batch_size, ppo\.mini_batch_size, seed \(ppo\.batch_size: 4 -> 2; .*seed: 42 -> 7\); only train\.steps, train\.epochs, train\.save_every may change/,
  );
  await assert.rejects(train(['--algo', 'ra-rlhf', '--out', runDir, '--resume']), /differs .* in algo \(algo: "rlhf" -> "ra-rlhf"\)/);
  assert.equal(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8'), before, 'a refused resume rewrote config.json');
  const dir = tmpDir('extend');
  fs.cpSync(runDir, dir, { recursive: true });
  await quiet(() => train(['--algo', 'rlhf', '--out', dir, '--resume', '--no-progress', '--set', 'train.steps=3']));
  assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')).steps_done, 3);
  assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).train.steps, 3, 'config.json keeps the old train.steps');

  // sft: the same rule (sft.save_every may change, sft.learning_rate may not)
  const sdir = tmpDir('sft');
  const sets = ['model.scratch.n_layer=1', 'model.scratch.n_embd=16', 'model.scratch.n_head=2', 'model.scratch.n_positions=48', 'sft.max_texts=12', 'sft.batch_size=4', 'sft.epochs=1', 'sft.max_seq_length=12'];
  await quiet(() => sft(['--config', path.join(__dirname, '..', 'configs', 'sft-imdb-mini.json'), '--out', sdir, '--no-progress', ...sets.flatMap((s) => ['--set', s])]));
  await assert.rejects(sft(['--out', sdir, '--resume', '--set', 'sft.learning_rate=0.5']), /differs from the run's .*config\.json in sft\.learning_rate \(sft\.learning_rate: 0\.001 -> 0\.5\)/);
});

test('errors that come before any loading: --out a file, a corrupt config.json, generate --out a folder', async () => {
  const dir = tmpDir('early');
  const file = path.join(dir, 'a-file');
  fs.writeFileSync(file, 'x');
  // model.policy does not exist: the --out error must come first
  await assert.rejects(train(['--algo', 'rlhf', '--out', file, ...trainArgs, '--set', 'model.policy=/nonexistent']), /--out .*a-file is a file, not a folder/);
  await assert.rejects(train(['--algo', 'rlhf', '--out', path.join(file, 'sub'), ...trainArgs]), /a-file is a file, so .* cannot be created/);
  await assert.rejects(generate(['--task', 'imdb-mini', '--model', 'A=/nonexistent', '--out', dir]), /generate: --out .* is a folder; give a file name/);
  // an existing file is fine (it is replaced), a file under a file is not
  await assert.rejects(generate(['--task', 'imdb-mini', '--model', 'A=/nonexistent', '--out', file]), /--model A=\/nonexistent: folder not found/);
  await assert.rejects(generate(['--task', 'imdb-mini', '--model', 'A=/nonexistent', '--out', path.join(file, 'g.csv')]), /generate: --out .*a-file is a file, so .* cannot be created/);
  await assert.rejects(evalCmd(['--generations', '/nonexistent.jsonl', '--task', 'imdb', '--out', file]), /eval: --out .*a-file is a file, not a folder/);
  const corrupt = tmpDir('corrupt');
  fs.cpSync(runDir, corrupt, { recursive: true });
  fs.writeFileSync(path.join(corrupt, 'config.json'), '{"task": "imdb-mini",\n  "seed": }');
  await assert.rejects(train(['--algo', 'rlhf', '--out', corrupt, '--resume']), /corrupt\S*\/config\.json(:2:\d+)?: invalid JSON/);
  fs.rmSync(path.join(corrupt, 'config.json'));
  await assert.rejects(train(['--algo', 'rlhf', '--out', corrupt, '--resume', ...trainArgs]), /--resume: .*config\.json is missing, so the run's config cannot be checked/);
});
