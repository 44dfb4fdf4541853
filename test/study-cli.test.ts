/**
 * `rarlhf study`: spec validation, `--quick` end to end (results.json arms[] / paired[]), and
 * resume after a SIGKILL mid-way (RARLHF_FAULT_AT kills the CLI inside an arm-seed's checkpoint
 * write): the rerun skips finished arm-seeds, restarts the half-finished one and ends with the
 * uninterrupted run's results.json (timings aside).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadStudySpec, parseStudySpec } from '../lib/study/spec';
import { ppoTrainConfig } from '../lib/pipeline/ppo-adapter';
import { reproConfig } from '../lib/repro/config';
import { getTaskSpec } from '../lib/data/task-specs';
import { runStudy } from '../lib/study/run';
import { tailThreshold } from '../lib/study/report';
import { writeGenerations } from '../lib/eval/generations';
import { acquireRunLock } from '../lib/rl/run-folder';

const DATA = path.resolve(__dirname, '../../shared/data');
const MAIN = path.resolve(__dirname, '../lib/cli/main.ts');

test('study spec: defaults, and errors naming the file and field', () => {
  const s = parseStudySpec({ task: 'imdb-mini', seeds: 2, arms: [{ name: 'RA prompt value', algo: 'ra-rlhf', set: ['risk.rank_by=prompt_value'] }, { name: 'RLHF', algo: 'rlhf' }] }, 's.json');
  assert.deepEqual(s.seeds, [0, 1]);
  assert.equal(s.reward, 'linear');
  assert.equal(s.baseline, 'RLHF'); // the first rlhf arm
  assert.deepEqual(s.bootstrap, { resamples: 2000, seed: 0 });
  assert.equal(s.arms[0].slug, 'ra-prompt-value');
  const bad = (v: unknown, re: RegExp) => assert.throws(() => parseStudySpec(v as never, 's.json'), re);
  const arms = [{ name: 'RLHF', algo: 'rlhf' }];
  bad({ task: 'imdb-gen', seeds: 1, arms }, /s\.json: task: must be one of imdb-mini.*got "imdb-gen"/);
  bad({ task: 'imdb-mini', seeds: [0, 0], arms }, /s\.json: seeds: must be distinct/);
  bad({ task: 'imdb-mini', seeds: 1, arms: [{ name: 'x', algo: 'ppo' }] }, /s\.json: arms\[0\]\.algo: must be "rlhf" or "ra-rlhf", got "ppo"/);
  bad({ task: 'imdb-mini', seeds: 1, arms: [...arms, { name: 'rlhf!', algo: 'rlhf' }] }, /arms\[1\]\.name: "rlhf!" gives the same folder name "rlhf" as arms\[0\]/);
  bad({ task: 'imdb-mini', seeds: 1, arms: [{ name: 'RA', algo: 'ra-rlhf' }] }, /s\.json: baseline: no arm has algo "rlhf"/);
  bad({ task: 'imdb-mini', seeds: 1, arms: [{ name: 'RA', algo: 'ra-rlhf', set: 'risk.alpha=1' }] }, /arms\[0\]\.set: must be a list of "key=value" strings/);
  bad({ task: 'imdb-mini', seeds: 1, arms, bootstrap: { resamples: 0 } }, /s\.json: bootstrap\.resamples: must be a positive integer, got 0/);
  bad({ task: 'imdb-mini', seeds: 1, arms, rewards: 'linear' }, /s\.json: rewards: unknown field/);
});

test('configs/study-imdb-mini.json: the issue-13 arms, 5 seeds, every override valid', () => {
  const s = loadStudySpec(path.resolve(__dirname, '../configs/study-imdb-mini.json'));
  assert.deepEqual(s.seeds, [0, 1, 2, 3, 4]);
  const cfg = reproConfig(getTaskSpec(s.task));
  const got = s.arms.map((a) => {
    const t = ppoTrainConfig({ task: cfg.task, ppo: cfg.ppo, risk: cfg.risk, seed: 0, sets: a.set });
    return `${a.algo} ${t.risk.rank_by} ${t.risk.kl_input} ${t.ppo.horizon_scale}`;
  });
  for (const want of ['rlhf lambda_return_first_response_token sum_selected_over_B null', 'ra-rlhf lambda_return_first_response_token sum_selected_over_B null',
    'ra-rlhf env_score sum_selected_over_B null', 'ra-rlhf random sum_selected_over_B null', 'ra-rlhf prompt_value sum_selected_over_B null',
    'ra-rlhf prompt_score sum_selected_over_B null', 'ra-rlhf lambda_return_first_response_token mean_selected null',
    'ra-rlhf lambda_return_first_response_token sum_selected_over_B paper']) assert.ok(got.includes(want), want);
});

test('study --quick end to end; SIGKILL mid-way then rerun gives the same results.json', { skip: !fs.existsSync(path.join(DATA, 'imdb')) && 'no IMDB data' }, async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-study-'));
  const specFile = path.join(root, 'spec.json');
  fs.writeFileSync(specFile, JSON.stringify({
    task: 'imdb-mini', seeds: 2,
    arms: [{ name: 'RLHF', algo: 'rlhf' }, { name: 'RA-RLHF', algo: 'ra-rlhf' }, { name: 'RA random', algo: 'ra-rlhf', set: ['risk.rank_by=random', 'ppo.horizon_scale=paper'] }],
  }));
  const badSet = path.join(root, 'bad.json');
  fs.writeFileSync(badSet, JSON.stringify({ task: 'imdb-mini', seeds: 1, arms: [{ name: 'RLHF', algo: 'rlhf' }, { name: 'RA', algo: 'ra-rlhf', set: ['risk.rank_by=worst'] }] }));
  await assert.rejects(runStudy({ specFile: badSet, out: path.join(root, 'x'), dataDir: DATA, quick: true, quiet: true, png: false }), /bad\.json: arms\[1\]\.set \("RA"\): --set risk\.rank_by=worst: field "risk\.rank_by" must be one of/);

  fs.writeFileSync(badSet, JSON.stringify({ task: 'imdb-mini', seeds: 1, reward: 'constructor', arms: [{ name: 'RLHF', algo: 'rlhf' }] }));
  await assert.rejects(runStudy({ specFile: badSet, out: path.join(root, 'x'), dataDir: DATA, quick: true, quiet: true }), /bad\.json: reward: unknown reward-model kind "constructor" \(known: linear/);

  // uninterrupted, in process (trains the shared stages into <root>/cache)
  const a = await runStudy({ specFile, out: path.join(root, 'a'), dataDir: DATA, quick: true, quiet: true, png: false });
  const ra = JSON.parse(fs.readFileSync(a.json, 'utf8'));
  assert.deepEqual(ra.arms.map((x: { name: string }) => x.name), ['RLHF', 'RA-RLHF', 'RA random']);
  assert.deepEqual(ra.arms[2].overrides, ['risk.rank_by=random', 'ppo.horizon_scale=paper']);
  for (const arm of ra.arms) {
    assert.deepEqual(arm.perSeed.map((r: { seed: number }) => r.seed), [0, 1]);
    for (const r of arm.perSeed) for (const k of ['meanReward', 'cvar', 'perplexity']) assert.ok(Number.isFinite(r[k]), `${arm.name} ${k}`);
    for (const f of ['config.json', 'metrics.jsonl', 'generations.jsonl']) assert.ok(fs.existsSync(path.join(root, 'a', arm.slug, 'seed-0', f)), `${arm.slug} ${f}`);
  }
  assert.equal(ra.arms[2].perSeed[0].finalKlCoef < ra.arms[1].perSeed[0].finalKlCoef, true); // scaled horizon: beta moves (down: KL below target)
  assert.ok('risk/spearman_rank_score' in ra.arms[1].summary && !('risk/spearman_rank_score' in ra.arms[0].summary));
  assert.equal(ra.paired.length, 2 * 3);
  for (const p of ra.paired) {
    assert.equal(p.vs, 'RLHF');
    assert.equal(p.resamples, 2000);
    assert.ok(p.ci95[0] <= p.ci95[1], JSON.stringify(p));
  }
  assert.deepEqual(ra.paired.map((p: { arm: string; metric: string }) => `${p.arm}:${p.metric}`), ['RA-RLHF:meanReward', 'RA-RLHF:tailReward', 'RA-RLHF:cvar', 'RA random:meanReward', 'RA random:tailReward', 'RA random:cvar']);
  const md = fs.readFileSync(a.results, 'utf8');
  assert.match(md, /\| RA random \| ra-rlhf \| `risk\.rank_by=random` `ppo\.horizon_scale=paper` \| -?\d\.\d\d ± /);
  assert.match(md, /\| RA-RLHF \| -?\d\.\d\d \[-?\d\.\d\d, -?\d\.\d\d\]/);
  assert.ok(fs.existsSync(path.join(root, 'a', 'figures', 'paired_differences.html')));

  // the CLI into another folder (same cache), killed inside the 3rd arm-seed (RA random seed 0):
  // 16 checkpoint fault points per arm-seed (latest + final, 8 steps each), so #43 is in its final save
  const cli = (env: Record<string, string> = {}) => spawnSync(process.execPath, ['--import', 'tsx', MAIN, 'study', '--spec', specFile, '--out', path.join(root, 'b'), '--data-dir', DATA, '--quick', '--no-png'], { env: { ...process.env, ...env }, encoding: 'utf8' });
  const killed = cli({ RARLHF_FAULT_AT: '43' });
  assert.equal(killed.signal, 'SIGKILL', killed.stderr);
  const b = path.join(root, 'b');
  assert.ok(!fs.existsSync(path.join(b, 'results.json')));
  assert.ok(fs.existsSync(path.join(b, 'ra-rlhf', 'seed-0', 'eval', 'done.json')));
  assert.ok(fs.existsSync(path.join(b, 'ra-random', 'seed-0', 'metrics.jsonl')) && !fs.existsSync(path.join(b, 'ra-random', 'seed-0', 'done.json')), 'killed inside RA random seed 0');
  const rerun = cli();
  assert.equal(rerun.status, 0, rerun.stderr);
  assert.match(rerun.stderr, /\[RLHF seed 0\] cached/);
  const rb = JSON.parse(fs.readFileSync(path.join(b, 'results.json'), 'utf8'));
  const cached = (r: { timings: { stage: string; cached: boolean }[] }, stage: string) => r.timings.find((t) => t.stage === stage)!.cached;
  assert.equal(cached(rb, 'RA-RLHF seed 0'), true);
  assert.equal(cached(rb, 'RA random seed 0'), false);
  for (const r of [ra, rb]) {
    delete r.timings;
    delete r.totalSeconds;
  }
  assert.deepEqual(rb, ra);
  fs.rmSync(root, { recursive: true, force: true });
});

test('a second study into a folder another process holds is refused, naming the holder', async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-study-lock-'));
  const lock = acquireRunLock(out, 'rarlhf study (test holder)');
  try {
    await assert.rejects(runStudy({ specFile: path.join(__dirname, '..', 'configs', 'study-imdb-mini.json'), out, quick: true, quiet: true, png: false }), new RegExp(`pid ${process.pid}`));
    assert.ok(!fs.existsSync(path.join(out, 'study.json')), 'nothing written into the held folder');
  } finally {
    lock.release();
  }
});

test('tail_quantile: the tail is the q-quantile of the test prompts\' scores (hand-computed), else the task\'s threshold', () => {
  const arms = [{ name: 'RLHF', algo: 'rlhf' }];
  assert.equal(parseStudySpec({ task: 'imdb-mini', seeds: 1, arms } as never, 's.json').tail_quantile, null);
  assert.throws(() => parseStudySpec({ task: 'imdb-mini', seeds: 1, arms, tail_quantile: 1 } as never, 's.json'), /s\.json: tail_quantile: must be null or a number in \(0, 1\), got 1/);
  const spec = parseStudySpec({ task: 'imdb-mini', seeds: 1, arms, tail_quantile: 0.25 } as never, 's.json');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-study-tail-'));
  const genFile = path.join(dir, 'generations.jsonl');
  // prompt scores 4, 0, 2, -1, 3: sorted -1 0 2 3 4; 0.25-quantile at h = 1 -> 0 (numpy linear)
  writeGenerations(genFile, [4, 0, 2, -1, 3].map((ps, i) => ({ prompt: `p${i}`, prompt_score: ps, rlhf_response: 'r', rlhf_reward: i })));
  const runs = [{ arm: spec.arms[0], seed: 0, dir, genFile, perplexity: 1 }];
  assert.equal(tailThreshold(spec, runs, -2.5), 0);
  assert.equal(tailThreshold({ ...spec, tail_quantile: null }, runs, -2.5), -2.5);
});

test('extra_pairs: validated against the arm names', () => {
  const arms = [{ name: 'RLHF', algo: 'rlhf' }, { name: 'RA', algo: 'ra-rlhf' }, { name: 'RLHF b', algo: 'rlhf' }];
  assert.deepEqual(parseStudySpec({ task: 'imdb-mini', seeds: 1, arms, extra_pairs: [['RA', 'RLHF b']] } as never, 's.json').extra_pairs, [['RA', 'RLHF b']]);
  assert.throws(() => parseStudySpec({ task: 'imdb-mini', seeds: 1, arms, extra_pairs: [['RA', 'nope']] } as never, 's.json'), /s\.json: extra_pairs\[0\]: must be two different arm names/);
});
