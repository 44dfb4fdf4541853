import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..');

// npx runs the bin through node_modules/.bin/rarlhf, a symlink: the CLI must start from any path.
test('the rarlhf bin prints usage when started through a symlink, as npx does', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-bin-'));
  const link = path.join(dir, 'rarlhf');
  fs.symlinkSync(path.join(ROOT, 'bin/rarlhf.js'), link);
  const out = execFileSync(process.execPath, [link, '--help'], { encoding: 'utf8' });
  assert.match(out, /^usage: rarlhf <command>/);
  assert.match(out, /\bdemo\b/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('an unknown command exits 1 with a one-line message', () => {
  assert.throws(
    () => execFileSync(process.execPath, [path.join(ROOT, 'bin/rarlhf.js'), 'nope'], { encoding: 'utf8', stdio: 'pipe' }),
    (err: { status: number; stderr: string }) => err.status === 1 && /rarlhf: unknown command "nope"/.test(err.stderr),
  );
});
