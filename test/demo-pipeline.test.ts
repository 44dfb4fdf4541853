import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runDemo, DEMO_MODELS, MEASURE_ARMS } from '../lib/demo/pipeline';
import { readGenerations, numberColumn } from '../lib/eval/generations';
import { main } from '../lib/cli/main';
import { assertSameRun } from './rl-fixtures';

test('demo --quick runs end to end offline, writes every stage and the report, and resumes from cache', async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-demo-'));
  const r = await runDemo({ out, quick: true, quiet: true, png: false });
  for (const stage of ['corpus', 'tokenizer', 'pretrain', 'sft', 'reward', 'rlhf', 'ra_rlhf', 'generations']) {
    assert.ok(fs.existsSync(path.join(out, stage, 'done.json')), `${stage}/done.json`);
  }
  for (const f of ['pretrain/checkpoints/final/model.safetensors', 'sft/checkpoints/final/vocab.json', 'pretrain/metrics.jsonl', 'reward/model/config.json', 'rlhf/checkpoints/final/model.safetensors',
    'ra_rlhf/checkpoints/final/model.safetensors', 'rlhf/metrics.jsonl', 'report.md', 'results.json', 'figures/quantile_curve.html', 'figures/training_curves.html']) {
    assert.ok(fs.existsSync(path.join(out, f)), f);
  }
  // PPO logged one line per step for both algorithms; RA-RLHF kept fewer episodes after the warm start
  const lines = (f: string) => fs.readFileSync(path.join(out, f), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
  const rl = lines('rlhf/metrics.jsonl');
  const ra = lines('ra_rlhf/metrics.jsonl');
  assert.equal(rl.length, 4);
  assert.equal(ra.length, 4);
  // soft-risk schedule, B 16, alpha 0.4, n 1, rho 0.95, M 4 (hand-computed): ceil(rho M) = 4,
  // K = 0.6 / 3 = 0.2; m = 0, 1 -> 16; m = 2 -> ceil(16 * 0.8) = 13; m = 3 -> ceil(16 * 0.6) = 10
  assert.deepEqual(ra.map((x) => x['risk/alpha_n']), [16, 16, 13, 10]);
  assert.ok(rl.every((x) => x['risk/alpha_n'] === undefined || x['risk/alpha_n'] === 16));
  const t = readGenerations(path.join(out, 'generations.jsonl'));
  assert.equal(t.rows.length, 40);
  for (const m of DEMO_MODELS) assert.ok(numberColumn(t, `${m}_reward`).every(Number.isFinite));
  // the held-out prompts include the hostile tail
  assert.ok(t.rows.some((row) => row.hostile === true));
  for (const m of DEMO_MODELS) {
    for (const k of ['meanReward', 'cvar', 'perplexity', 'distinct1', 'hostileReward']) assert.ok(Number.isFinite(r.metrics[m][k]), `${m}.${k}`);
  }
  const report = fs.readFileSync(r.report, 'utf8');
  assert.match(report, /\| ra_rlhf \|/);
  assert.match(report, /Tail reward/);
  // png: false (as on a machine without Chromium): the report still embeds figures, as browser-free SVG
  const svgs = [...report.matchAll(/!\[[^\]]*\]\(([^)]+\.svg)\)/g)].map((m) => m[1]);
  assert.ok(svgs.length >= 2, `report embeds SVG figures, got ${svgs.length}`);
  for (const f of svgs) assert.match(fs.readFileSync(path.join(out, f), 'utf8'), /^<svg|^<\?xml/);

  // A rerun reuses every stage (same config -> same hashes) and regenerates only the report.
  const r2 = await runDemo({ out, quick: true, quiet: true, png: false });
  assert.ok(r2.timings.filter((x) => x.stage !== 'eval+report').every((x) => x.cached));
  assert.deepEqual(r2.metrics, r.metrics);

  // A stage's config.json replays it through the CLI (its prompts: train.prompts_file = the corpus' train.jsonl)
  const replay = path.join(out, 'replay');
  await main(['train', '--config', path.join(out, 'ra_rlhf', 'config.json'), '--out', replay, '--no-progress']);
  assertSameRun(replay, path.join(out, 'ra_rlhf'));

  // --measures: the four extra RA-RLHF arms train beside the cached paper stages and join the tables
  const r3 = await runDemo({ out, quick: true, quiet: true, png: false, arms: MEASURE_ARMS });
  const trained = r3.timings.filter((x) => !x.cached).map((x) => x.stage);
  assert.deepEqual(trained.filter((x) => x !== 'eval+report' && x !== 'generations'), MEASURE_ARMS.map((a) => a.name));
  for (const m of ['rlhf', 'ra_rlhf', ...MEASURE_ARMS.map((a) => a.name)]) assert.ok(Number.isFinite(r3.metrics[m].meanReward), m);
  assert.deepEqual(r3.metrics.ra_rlhf.perplexity, r.metrics.ra_rlhf.perplexity);
  const pp = lines('ra_per_prompt/metrics.jsonl');
  assert.ok(pp.every((x) => x['risk/kept'] >= 4)); // at least one of each prompt's 4 responses
  assert.ok(lines('ra_cesor/metrics.jsonl').every((x) => Number.isFinite(x['sampler/q_0'])));
  assert.ok(lines('ra_entropic/metrics.jsonl').some((x) => x['risk/ess'] < 16));
  assert.match(fs.readFileSync(r3.report, 'utf8'), /\| ra_mean_variance \|/);
  fs.rmSync(out, { recursive: true, force: true });
});
