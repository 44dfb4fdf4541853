import { test } from 'node:test';
import assert from 'node:assert/strict';
import { curveGroup, debiasedEma, seedBand } from '../lib/eval/curves';
import { curveKeys, distributionShiftFigure, quantileFigure, trainingCurvesFigure } from '../lib/eval/figures';
import { canonicalId, displayName, EXTRA_PALETTE, figureColors, FONT, modelColor } from '../lib/eval/style';
import { frontierFigure, type FrontierResult } from '../lib/eval/risk-frontier';
import type { EvalResult } from '../lib/eval/evaluate';

const close = (a: readonly number[], b: readonly number[]) => {
  assert.equal(a.length, b.length);
  a.forEach((x, i) => assert.ok(Math.abs(x - b[i]) < 1e-12, `[${i}] ${x} vs ${b[i]}`));
};

test('style: paper display names, one fixed colour per model, stable colours for other names', () => {
  assert.deepEqual(['gpt2', 'sft', 'rlhf', 'ra_rlhf', 'ra-rlhf', 'RA-RLHF'].map(displayName), ['GPT2', 'SFT', 'RLHF', 'RA-RLHF', 'RA-RLHF', 'RA-RLHF']);
  assert.equal(displayName('RA random'), 'RA random');
  assert.equal(canonicalId(' RA-RLHF '), 'ra_rlhf');
  assert.equal(modelColor('ra-rlhf'), modelColor('ra_rlhf'));
  assert.equal(new Set(['gpt2', 'sft', 'rlhf', 'ra_rlhf'].map(modelColor)).size, 4);
  const c = modelColor('RA random');
  assert.ok(EXTRA_PALETTE.includes(c));
  assert.equal(modelColor('RA random'), c); // by name, not by order of appearance
  assert.ok(FONT.size >= 14);
});

test('the same model has the same colour and name in every figure', () => {
  const q = [1, 2, 3];
  const qf = quantileFigure(q, { sft: [1, 2, 3], ra_rlhf: [0, 1, 2] }, 't', { inset: false });
  const order2 = quantileFigure(q, { ra_rlhf: [0, 1, 2], sft: [1, 2, 3] }, 't', { inset: false });
  const color = (f: typeof qf, name: string) => (f.data.find((d) => d.name === name)!.line as { color: string }).color;
  assert.equal(color(qf, 'RA-RLHF'), color(order2, 'RA-RLHF'));
  const tc = trainingCurvesFigure([{ name: 'ra_rlhf seed 1', records: [{ step: 1, 'env/reward_mean': 1 }] }]);
  assert.equal(tc.data[0].name, 'RA-RLHF');
  assert.equal((tc.data[0].line as { color: string }).color, modelColor('ra_rlhf'));
  assert.equal((qf.layout.font as { size: number }).size, FONT.size);
});

test('figureColors: arms of one figure never share a colour, whatever the trace order', () => {
  const arms = ['rlhf', 'ra-cvar-batch', 'ra-cvar-per-prompt', 'ra-entropic', 'ra-mean-variance', 'ra-cesor-sampler'];
  const hashed = arms.map(modelColor);
  assert.ok(new Set(hashed).size < arms.length, 'the hashed colours of these six names collide (the case this guards)');
  const color = figureColors(arms);
  assert.equal(new Set(arms.map(color)).size, arms.length);
  assert.equal(color('rlhf'), modelColor('rlhf')); // the paper's four keep their fixed colours
  assert.equal(color('RA-CVaR batch'), color('ra-cvar-batch')); // by canonical id
  const reversed = figureColors([...arms].reverse());
  assert.deepEqual(arms.map(reversed), arms.map(color));
  assert.equal(figureColors(['RA random', 'sft'])('RA random'), modelColor('RA random')); // no collision: the hashed colour
  // the frontier figure applies it
  const point = { alpha: 1, cvar: 0, perSeed: [0], diff: 0, ci95: [0, 0] as [number, number] };
  const f: FrontierResult = {
    alphas: [1], reference: 'rlhf', resamples: 0, seed: 0, seeds: 1, prompts: [1], notes: [],
    models: arms.map((name) => ({ name, reference: name === 'rlhf', points: [point] })),
  };
  const lines = frontierFigure(f).data.map((d) => (d.line as { color: string }).color);
  assert.equal(new Set(lines).size, arms.length);
});

test('debiased EMA matches hand-computed values', () => {
  // w = 0.5: m = 0.5, 1.25, 2.125; divided by 1 - 0.5^t = 0.5, 0.75, 0.875
  close(debiasedEma([1, 2, 3], 0.5), [1, 5 / 3, 17 / 7]);
  // w = 0.9 on [10, 0]: m = 1, 0.9; / 0.1, 0.19 -> 10, 90/19
  close(debiasedEma([10, 0], 0.9), [10, 90 / 19]);
  // a constant stays constant from the first step (the plain EMA's start-up bias is gone)
  close(debiasedEma([4, 4, 4, 4], 0.97), [4, 4, 4, 4]);
  // non-finite points pass through and do not advance t
  const y = debiasedEma([1, NaN, 3], 0.5);
  assert.ok(Number.isNaN(y[1]));
  close([y[0], y[2]], [1, (0.25 + 1.5) / 0.75]);
  close(debiasedEma([2, 5], 0), [2, 5]);
  assert.throws(() => debiasedEma([1], 1), /weight must be in \[0, 1\)/);
});

test('seed band: pointwise mean and sample std aligned on step; seed names grouped', () => {
  const b = seedBand([{ x: [1, 2, 3], y: [1, 2, 3] }, { x: [1, 2], y: [3, 4] }]);
  assert.deepEqual(b.x, [1, 2, 3]);
  close(b.mean, [2, 3, 3]);
  close(b.std, [Math.SQRT2, Math.SQRT2, 0]);
  assert.deepEqual(b.n, [2, 2, 1]);
  assert.deepEqual(['rlhf seed 3', 'ra_rlhf/seed-2', 'RLHF_seed1', 'RA random'].map(curveGroup), ['rlhf', 'ra_rlhf', 'RLHF', 'RA random']);
});

test('training curves over seeds: mean line ± std band per algorithm, smoothing stated, kept raw', () => {
  const run = (name: string, off: number) => ({
    name, records: [1, 2, 3].map((s) => ({ step: s, 'env/reward_mean': s + off, 'objective/kl': 9, 'objective/kl_all': 0.1 * s, 'risk/kept': 10 - s })),
  });
  const runs = [run('rlhf seed 1', 0), run('rlhf seed 2', 2), run('ra_rlhf seed 1', 1), run('ra_rlhf seed 2', 1)];
  // full-batch KL replaces the kept-only one when both are logged
  assert.deepEqual(curveKeys(runs), ['env/reward_mean', 'objective/kl_all', 'risk/kept']);
  const fig = trainingCurvesFigure(runs, { smoothing: 0.9 });
  // 3 panels x 2 algorithms x (lower, upper band edge, mean)
  assert.equal(fig.data.length, 18);
  const [lo, hi, mid] = fig.data.slice(0, 3);
  assert.equal(hi.fill, 'tonexty');
  assert.equal(mid.name, 'RLHF (2 seeds)');
  close(mid.y as number[], debiasedEma([2, 3, 4], 0.9)); // mean of the smoothed seeds
  close((hi.y as number[]).map((v, i) => v - (lo.y as number[])[i]), [1, 1, 1].map(() => 2 * Math.SQRT2));
  assert.deepEqual(fig.data[17].y, [9, 8, 7]); // kept count: raw
  assert.equal(fig.data.filter((d) => d.showlegend !== false && d.name).length, 2); // one legend entry per algorithm
  assert.equal((fig.layout.title as { text: string }).text, 'Training curves (seed mean ± std; EMA 0.9, bias-corrected; kept-episode count unsmoothed)');
  assert.equal((fig.layout.yaxis2 as { title: { text: string } }).title.text, 'KL(π‖π_ref), full batch (EMA 0.9)');
  // only the kept-only KL logged: labelled so
  const kept = trainingCurvesFigure([{ name: 'x', records: [{ step: 1, 'objective/entropy': 2 }] }]);
  assert.equal((kept.layout.yaxis as { title: { text: string } }).title.text, 'Entropy, kept episodes only');
});

test('distribution shift: tail threshold line on the prompt-score panel, paper names', () => {
  const r = {
    file: 'g.csv', rows: 2, prompts: 2, samplesPerPrompt: { min: 1, max: 1 }, tail: -2.5, cvarAlpha: 0.2, classes: ['all'],
    promptsPerClass: { all: 2 }, meanPromptScore: 0, edges: [-5, 0, 5], promptScoreHistograms: { all: [1, 1] }, quantiles: { q: [50, 100], n: [1, 2] },
    models: [{ name: 'ra_rlhf', histograms: { all: [0, 2] }, quantileReward: [1, 2] }],
  } as unknown as EvalResult;
  const fig = distributionShiftFigure(r);
  const line = (fig.layout.shapes as Record<string, unknown>[])[0];
  assert.deepEqual([line.type, line.xref, line.x0, line.x1], ['line', 'x', -2.5, -2.5]);
  assert.match(JSON.stringify(fig.layout.annotations), /tail ≤ -2\.5/);
  assert.equal((fig.layout.xaxis2 as { title: { text: string } }).title.text, 'RA-RLHF reward');
});
