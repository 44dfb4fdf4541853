/**
 * Keeps the no-addon path alive: a subset of the suite (engine, GPT-2 invariants, generation, PPO
 * math and one trainer file) runs in a child process with RARLHF_NATIVE=0, i.e. on the stock
 * tfjs-wasm kernels that machines without a compiler or OpenBLAS use.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const SUBSET = ['engine-kernels', 'model-gpt2', 'model-generate', 'rl-core', 'rl-trainer'].map((f) => path.join(__dirname, `${f}.test.ts`));

test('the fallback path (RARLHF_NATIVE=0) passes the engine, model and PPO tests', () => {
  // NODE_TEST_CONTEXT would make the child report to this runner in its binary protocol
  const { NODE_TEST_CONTEXT: _ctx, ...env } = process.env;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=tap', ...SUBSET], {
    env: { ...env, RARLHF_NATIVE: '0' },
    encoding: 'utf8',
    timeout: 600_000,
  });
  const out = `${r.stdout}${r.stderr}`;
  const failed = /# fail (\d+)/.exec(out)?.[1];
  assert.equal(r.status, 0, `fallback subset failed (exit ${r.status}):\n${out.split('\n').filter((l) => /^not ok|error:/.test(l.trim())).slice(0, 20).join('\n')}`);
  assert.equal(failed, '0');
  assert.ok(Number(/# pass (\d+)/.exec(out)?.[1]) > 20, 'the subset ran its tests');
});
