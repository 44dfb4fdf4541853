import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';

// Runs in a child process: the backend is process-wide, and the child must also exit on its own
// (pool workers are unref'd) — a hang would hit the timeout and fail the test.
test('threaded wasm (RARLHF_WASM_THREADS=2): 2 threads, same matmul and gather-gradient results, process exits', () => {
  const root = path.resolve(__dirname, '..');
  const script = `
    const { initEngine, tf, matmul } = require('./lib/engine');
    initEngine({ quiet: true }).then((info) => {
      const a = tf.randomNormal([64, 96], 0, 1, 'float32', 1), b = tf.randomNormal([96, 80], 0, 1, 'float32', 2);
      const x = a.arraySync(), y = b.arraySync(), c = matmul(a, b).arraySync();
      let maxDiff = 0;
      for (let i = 0; i < 64; i++) for (let j = 0; j < 80; j++) {
        let s = 0; for (let k = 0; k < 96; k++) s += x[i][k] * y[k][j];
        maxDiff = Math.max(maxDiff, Math.abs(s - c[i][j]));
      }
      const g = tf.grad((t) => tf.gather(t, tf.tensor1d([1, 1, 3], 'int32')).sum())(tf.ones([5, 2]));
      console.log(JSON.stringify({ ...info, maxDiff, grad: Array.from(g.dataSync()) }));
    });`;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], {
    cwd: root, env: { ...process.env, RARLHF_WASM_THREADS: '2', RARLHF_BACKEND: 'wasm' }, timeout: 60000, encoding: 'utf8',
  });
  const r = JSON.parse(out.trim().split('\n').pop()!);
  assert.equal(r.backend, 'wasm');
  assert.equal(r.threads, 2);
  assert.ok(r.maxDiff < 1e-3, `maxDiff ${r.maxDiff}`);
  assert.deepEqual(r.grad, [0, 0, 2, 2, 0, 0, 1, 1, 0, 0]);
});
