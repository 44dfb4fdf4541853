import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { run } from '../lib/cli/commands/reward';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-reward-cli-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

async function capture(fn: () => Promise<void>): Promise<string> {
  const lines: string[] = [];
  const orig = console.log;
  console.log = (...a: unknown[]) => void lines.push(a.join(' '));
  try {
    await fn();
  } finally {
    console.log = orig;
  }
  return lines.join('\n');
}

test('reward train/eval/score round trip through the CLI (toxicity, small subset)', async () => {
  const out = path.join(root, 'tox');
  const trainOut = await capture(() => run(['train', '--task', 'toxicity', '--limit', '3000', '--epochs', '2', '--out', out, '--json']));
  const ev = JSON.parse(trainOut.trim().split('\n').pop()!);
  assert.equal(ev.task, 'toxicity');
  assert.ok(ev.jigsawHeldOut.n > 3000 && ev.jigsawHeldOut.auc > 0.8, `AUC ${ev.jigsawHeldOut.auc}`);
  const cfg = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
  assert.equal(cfg.training.trainRows, 3000);
  assert.deepEqual(cfg.metrics.jigsawHeldOut, ev.jigsawHeldOut);
  const again = JSON.parse((await capture(() => run(['eval', '--model', out, '--task', 'toxicity', '--json']))).trim());
  assert.deepEqual(again.jigsawHeldOut, ev.jigsawHeldOut); // the saved model scores exactly as the trained one
  const scored = (await capture(() => run(['score', '--model', out, '--json', '--text', 'Thanks for your help!', '--text', 'shut up you idiot']))).split('\n').map((l) => JSON.parse(l));
  assert.equal(scored.length, 2);
  assert.ok(scored[0].score > scored[1].score);
});

test('reward CLI argument errors are clear', async () => {
  await assert.rejects(run(['train', '--task', 'sst2', '--out', root]), /--task must be imdb or toxicity/);
  await assert.rejects(run(['train', '--task', 'imdb']), /--out <dir> is required/);
  await assert.rejects(run(['eval', '--task', 'imdb', '--model', path.join(root, 'missing')]), /neither a folder nor a Hugging Face id/);
  await assert.rejects(run(['frobnicate']), /unknown reward subcommand/);
});

test('reward train refuses an --out that already holds a model unless --force', async () => {
  const out = path.join(root, 'occupied');
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, 'config.json'), '{}');
  await assert.rejects(run(['train', '--task', 'toxicity', '--limit', '50', '--out', out]), /run folder .*occupied is not empty \(config\.json\).*--force/);
  assert.equal(fs.readFileSync(path.join(out, 'config.json'), 'utf8'), '{}', 'the existing model is untouched');
});
