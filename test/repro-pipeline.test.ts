import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runRepro, REPRO_MODELS } from '../lib/repro/pipeline';
import { reproConfig } from '../lib/repro/config';
import { getTaskSpec } from '../lib/data/tasks';
import { readGenerations, numberColumn } from '../lib/eval/generations';
import { main } from '../lib/cli/main';
import { assertSameRun } from './rl-fixtures';

const DATA = path.resolve(__dirname, '../../shared/data');

test('repro config follows the task spec (paper values scaled in task-specs)', () => {
  const imdb = reproConfig(getTaskSpec('imdb-mini'));
  assert.equal(imdb.ppo.batchSize, 32);
  assert.equal(imdb.ppo.steps, 30);
  assert.equal(imdb.ppo.lr, 1.41e-4);
  assert.deepEqual(imdb.risk, { alpha: 0.4, warmStart: 5, rho: 0.95 });
  assert.equal(imdb.ppo.minNewTokens, 0); // min_length 16 with 16-token prompts: no floor (as the paper's IMDB)
  assert.equal(imdb.eval.tail, -2.5);
  const jig = reproConfig(getTaskSpec('jigsaw-mini'));
  assert.equal(jig.ppo.minNewTokens, 18); // min_length 26 counts the 8 prompt tokens
  assert.equal(jig.eval.tail, 5);
  assert.equal(jig.eval.perplexityChars, 500);
});

test('repro --quick imdb-mini: 2 seeds end to end, shared stages cached across runs', { skip: !fs.existsSync(path.join(DATA, 'imdb')) && 'no IMDB data' }, async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-repro-'));
  const out = path.join(root, 'run');
  const r = await runRepro({ task: 'imdb-mini', dataDir: DATA, seeds: [0, 1], out, quick: true, quiet: true, png: false });
  const res = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')) as { table: { name: string; seeds: number; metrics: Record<string, { mean: number; std: number; n: number }> }[]; perplexity: Record<string, number[]> };
  assert.deepEqual(res.table.map((x) => x.name), [...REPRO_MODELS]);
  for (const row of res.table) {
    assert.equal(row.seeds, 2);
    for (const k of ['meanReward', 'cvar', 'perplexity', 'distinct1']) assert.ok(Number.isFinite(row.metrics[k].mean), `${row.name}.${k}`);
  }
  // GPT2/SFT perplexity does not depend on the PPO seed: identical per seed, std 0
  assert.equal(res.perplexity.gpt2[0], res.perplexity.gpt2[1]);
  assert.equal(res.table[0].metrics.perplexity.std, 0);
  for (const s of [0, 1]) {
    const t = readGenerations(path.join(out, `seed-${s}`, 'generations.jsonl'));
    assert.equal(t.rows.length, 16);
    for (const m of REPRO_MODELS) assert.ok(numberColumn(t, `${m}_reward`).every(Number.isFinite));
  }
  assert.match(fs.readFileSync(r.results, 'utf8'), /\| ra_rlhf \| .* ± /);
  assert.match(fs.readFileSync(r.results, 'utf8'), /## Risk frontier[\s\S]*\| rlhf \(reference\) \|/);
  // A second run in another out dir reuses the cached tokenizer / pretrain / SFT / reward model.
  const r2 = await runRepro({ task: 'imdb-mini', dataDir: DATA, seeds: [0], out: path.join(root, 'run2'), quick: true, quiet: true, png: false });
  const shared = r2.timings.filter((t) => ['tokenizer', 'pretrain', 'sft', 'reward-imdb'].includes(t.stage));
  assert.equal(shared.length, 4);
  assert.ok(shared.every((t) => t.cached));
  assert.ok(r2.timings.filter((t) => t.stage.includes('seed')).every((t) => !t.cached));

  // A stage's config.json replays it through the CLI: `rarlhf train --config <stage>/config.json`
  const stage = path.join(root, 'run2', 'seed-0', 'ra_rlhf');
  const replay = path.join(root, 'replay');
  await main(['train', '--config', path.join(stage, 'config.json'), '--out', replay, '--no-progress']);
  assertSameRun(replay, stage);
  fs.rmSync(root, { recursive: true, force: true });
});
