/**
 * Risk frontier (lib/eval/risk-frontier.ts, `rarlhf eval --frontier`): CVaR at several α per model
 * and model − reference with the paired bootstrap, on the handmade table of test/eval-fixtures.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { evaluateTable, promptView, type EvalSpec } from '../lib/eval/evaluate';
import { readGenerations, writeGenerations } from '../lib/eval/generations';
import {
  checkAlphas, DEFAULT_FRONTIER_ALPHAS, defaultReference, frontierFigure, frontierMarkdown, parseFrontierAlphas, riskFrontier,
} from '../lib/eval/risk-frontier';
import { figureToSvgFallback } from '../lib/eval/svg';
import { evalCli, evalOk, HANDMADE_WIDE_CSV, tempDir, write } from './eval-fixtures';

const tmp = tempDir('rarlhf-eval-frontier-');
const file = write(tmp, 'handmade.csv', HANDMADE_WIDE_CSV);
// the same table plus a model rlhf whose rewards and responses are sft's
const withRlhf = path.join(tmp, 'with-rlhf.csv');
writeGenerations(withRlhf, readGenerations(file).rows.map((r) => ({ ...r, rlhf_response: r.sft_response, rlhf_reward: r.sft_reward })));
// a second seed file: ra one higher on every prompt
const seed2 = path.join(tmp, 'seed2.csv');
writeGenerations(seed2, readGenerations(file).rows.map((r) => ({ ...r, ra_reward: Number(r.ra_reward) + 1 })));

const spec = (names: string[]): EvalSpec => ({
  promptCol: 'prompt', promptScoreCol: 'prompt_score', models: names.map((n) => ({ name: n, responseCol: `${n}_response`, rewardCol: `${n}_reward` })),
});
const view = (f: string, names: string[]) => promptView(readGenerations(f), spec(names));
const opts = { resamples: 300, seed: 0 };

// By hand: sft rewards -1, 0, -2, 1, 2 (sorted -2, -1, 0, 1, 2); ra 1, 2, 0, 3, 1 (sorted 0, 1, 1, 2, 3).
// N = 5, worst ceil(α·5): α 0.05, 0.1, 0.2 -> 1 reward, α 0.4 -> 2, α 1 -> all 5.
const SFT = [-2, -2, -2, -1.5, 0];
const RA = [0, 0, 0, 0.5, 1.4];

test('CVaR at each default α against hand-computed values; reference sft (no rlhf): diff 0, interval exactly [0, 0]', () => {
  const f = riskFrontier([view(file, ['sft', 'ra'])], ['sft', 'ra'], opts);
  assert.deepEqual(f.alphas, [...DEFAULT_FRONTIER_ALPHAS]);
  assert.equal(f.reference, 'sft');
  const [sft, ra] = f.models;
  assert.deepEqual(sft.points.map((p) => p.cvar), SFT);
  assert.deepEqual(ra.points.map((p) => p.cvar), RA);
  assert.ok(sft.reference && !ra.reference);
  for (const p of sft.points) { assert.equal(p.diff, 0); assert.deepEqual(p.ci95, [0, 0]); }
  ra.points.forEach((p, i) => {
    assert.ok(Math.abs(p.diff - (RA[i] - SFT[i])) < 1e-12, `α=${p.alpha}: ${p.diff}`);
    assert.ok(p.ci95[0] <= p.diff && p.diff <= p.ci95[1], `α=${p.alpha}: ${p.ci95}`);
  });
});

test('α = 1 is the mean reward of the results table', () => {
  const r = evaluateTable(readGenerations(file), spec(['sft', 'ra']));
  const f = riskFrontier([view(file, ['sft', 'ra'])], ['sft', 'ra'], { ...opts, alphas: [1] });
  assert.deepEqual(f.models.map((m) => m.points[0].cvar), r.models.map((m) => m.meanReward));
});

test('a model identical to the reference (rlhf, the default): difference 0, interval [0, 0]', () => {
  const names = ['sft', 'ra', 'rlhf'];
  assert.equal(defaultReference(names), 'rlhf');
  assert.equal(defaultReference(['A', 'RLHF']), 'RLHF');
  const f = riskFrontier([view(withRlhf, names)], names, opts);
  assert.equal(f.reference, 'rlhf');
  for (const p of f.models[0].points) { assert.equal(p.diff, 0); assert.deepEqual(p.ci95, [0, 0]); }
  assert.deepEqual(f.models[2].points.map((p) => p.cvar), SFT);
  const md = frontierMarkdown(f);
  assert.match(md, /^\| Model \| CVaR α=0\.05 ↑ \| Δ vs rlhf α=0\.05 \[95% CI\] \|/);
  assert.match(md, /\| sft \| -2\.000 \| \+0\.000 \[\+0\.000, \+0\.000\] \|/);
  assert.match(md, /\| rlhf \(reference\) \| -2\.000 \| — \|/);
});

test('two seed files: CVaR and difference are means over seeds; levels sorted; custom reference', () => {
  const f = riskFrontier([view(file, ['sft', 'ra']), view(seed2, ['sft', 'ra'])], ['sft', 'ra'], { ...opts, alphas: [1, 0.2], reference: 'ra' });
  assert.deepEqual(f.alphas, [0.2, 1]);
  assert.equal(f.seeds, 2);
  const ra = f.models[1];
  assert.deepEqual(ra.points.map((p) => p.perSeed), [[0, 1], [1.4, 2.4]]);
  assert.deepEqual(ra.points.map((p) => p.cvar), [0.5, 1.9]);
  const sft = f.models[0];
  assert.ok(Math.abs(sft.points[1].diff - (0 - 1.9)) < 1e-12);
  assert.throws(() => riskFrontier([view(file, ['sft', 'ra'])], ['sft', 'ra'], { reference: 'rlhf' }), /--reference: no model named 'rlhf' \(models: sft, ra\)/);
});

test('bad levels give an error naming the flag', () => {
  assert.deepEqual(parseFrontierAlphas('0.2, 0.05,1'), [0.05, 0.2, 1]);
  assert.throws(() => parseFrontierAlphas('0,0.5'), /--frontier: CVaR level 0 is not in \(0, 1\]/);
  assert.throws(() => parseFrontierAlphas('0.5,1.5'), /--frontier: CVaR level 1\.5 is not in \(0, 1\]/);
  assert.throws(() => parseFrontierAlphas('0.1,x'), /--frontier "0\.1,x": 'x' is not a number/);
  assert.throws(() => parseFrontierAlphas('0.1,'), /--frontier "0\.1,": '' is not a number/);
  assert.throws(() => parseFrontierAlphas('0.1,0.1'), /--frontier: CVaR level given twice/);
  assert.throws(() => checkAlphas([]), /--frontier: no CVaR level given/);
  assert.throws(() => riskFrontier([view(file, ['sft', 'ra'])], ['sft', 'ra'], { alphas: [-0.1] }), /--frontier: CVaR level -0\.1/);
});

test('the figure: one line per model, x = α, y = CVaR; the browser-free SVG draws each line', () => {
  const f = riskFrontier([view(file, ['sft', 'ra'])], ['sft', 'ra'], opts);
  const fig = frontierFigure(f);
  assert.equal(fig.data.length, 2);
  assert.deepEqual(fig.data[1].x, [...DEFAULT_FRONTIER_ALPHAS]);
  assert.deepEqual(fig.data[1].y, RA);
  const svg = figureToSvgFallback(fig);
  for (const name of ['SFT (reference)', 'ra']) {
    const g = svg.match(new RegExp(`<g class="trace" data-name="${name.replace(/[()]/g, '\\$&')}"[^>]*>(.*?)</g>`));
    assert.ok(g, name);
    assert.equal((g[1].match(/<path d="M[^"]*"/g) ?? []).length, 1, `${name}: one line`);
    assert.equal((g[1].match(/<circle /g) ?? []).length, 5, `${name}: one marker per α`);
  }
});

test('CLI --frontier: writes frontier.md, frontier.json and the figure; bare flag = default levels; bad levels name the flag', () => {
  const out = path.join(tmp, 'out');
  const seed2Rlhf = path.join(tmp, 'seed2-rlhf.csv');
  writeGenerations(seed2Rlhf, readGenerations(withRlhf).rows.map((r) => ({ ...r, ra_reward: Number(r.ra_reward) + 1 })));
  const r = evalOk(['--generations', withRlhf, '--generations', seed2Rlhf, '--model', 'sft', '--model', 'ra', '--model', 'rlhf',
    '--tail', '-2.5', '--out', out, '--no-png', '--resamples', '200', '--frontier']);
  assert.match(r.stdout, /Risk frontier\. CVaR_α[\s\S]*\| rlhf \(reference\) \|/);
  for (const name of ['frontier.md', 'frontier.json', 'frontier.svg', 'frontier.html']) assert.ok(fs.existsSync(path.join(out, name)), name);
  const j = JSON.parse(fs.readFileSync(path.join(out, 'frontier.json'), 'utf8'));
  assert.equal(j.reference, 'rlhf');
  assert.deepEqual(j.alphas, [...DEFAULT_FRONTIER_ALPHAS]);
  assert.equal(j.seeds, 2);
  assert.equal(j.resamples, 200);
  assert.match(fs.readFileSync(path.join(out, 'frontier.md'), 'utf8'), /Δ vs rlhf α=0\.05 \[95% CI\][\s\S]*!\[Risk frontier: CVaR vs α\]\(frontier\.svg\)/);
  const bad = evalCli(['--generations', file, '--frontier', '0.05,1.2']);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /--frontier: CVaR level 1\.2 is not in \(0, 1\]/);
});
