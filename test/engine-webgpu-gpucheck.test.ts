/**
 * scripts/gpu-check.sh: the paper-scale GPU check cannot run here (no GPU), so its --dry-run (the
 * same script and lib/bench/gpu.ts code path on a tiny model, any adapter) must start, run both
 * parts and print every line of the summary.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { needWebGPU, setupWebGPU } from './engine-webgpu-helpers';

before(async () => {
  await setupWebGPU();
});

test('scripts/gpu-check.sh --dry-run runs bench engine and bench ppo and prints the summary', (t) => {
  if (!needWebGPU(t)) return;
  const { NODE_TEST_CONTEXT: _c, ...env } = process.env;
  const r = spawnSync('bash', [path.join(__dirname, '..', 'scripts', 'gpu-check.sh'), '--dry-run'], { env, encoding: 'utf8', timeout: 180_000 });
  const out = r.stdout + r.stderr;
  assert.equal(r.status, 0, out);
  for (const re of [/backend webgpu \(adapter: /, /train tokens\/s\s+\d+/, /generation tokens\/s\s+\d+/, /seconds per PPO step\s+[\d.]+ \(rollout/, /one paper run \(194 steps\)\s+~[\d.]+ h/, /peak tfjs GPU allocation\s+\d+ MiB/]) {
    assert.match(out, re);
  }
});

test('scripts/gpu-check.sh rejects unknown arguments', () => {
  const r = spawnSync('bash', [path.join(__dirname, '..', 'scripts', 'gpu-check.sh'), '--paper-scale-please'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /usage: .*--dry-run/);
});
