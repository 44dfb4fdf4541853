import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../lib/engine/rng';
import { randomDraw } from '../lib/eval/bootstrap';
import { autoQuantileInset, quantileDiffFigure, quantileFigure, quantileTailFigure } from '../lib/eval/figures';
import { quantileCurve } from '../lib/eval/metrics';
import { quantileDiffBootstrap, seedDiffBootstrap } from '../lib/eval/quantile-diff';
import { modelColor } from '../lib/eval/style';

const q = Array.from({ length: 100 }, (_, i) => i + 1);
// Jigsaw-like: a low tail, then every model bunched near the top
const bunched = { rlhf: q.map((x) => (x < 10 ? -5 + x * 0.5 : 9 + x / 1000)), ra_rlhf: q.map((x) => (x < 10 ? -3 + x * 0.5 : 9.02 + x / 1000)) };

test('quantile plot: automatic zoom inset (plotly inset axes) where curves bunch near the top', () => {
  assert.deepEqual(autoQuantileInset(q, bunched), { x: [20, 100] });
  const fig = quantileFigure(q, bunched);
  assert.equal(fig.data.length, 4); // main lines + the same lines on the inset axes
  assert.deepEqual(fig.data.slice(2).map((d) => [d.xaxis, d.yaxis, d.showlegend]), [['x2', 'y2', false], ['x2', 'y2', false]]);
  const x2 = fig.layout.xaxis2 as { domain: number[]; range: number[]; anchor: string };
  const y2 = fig.layout.yaxis2 as { range: number[] };
  assert.deepEqual(x2.range, [20, 100]);
  assert.equal(x2.anchor, 'y2');
  assert.ok(y2.range[0] > 8.9 && y2.range[1] < 9.2, `inset y range ${y2.range}`);
  assert.equal((fig.layout.shapes as { type: string }[])[0].type, 'rect'); // zoomed region outlined
  // spread-out curves: no inset; explicit inset wins; false switches it off
  const spread = { rlhf: q.map((x) => x), ra_rlhf: q.map((x) => x + 1) };
  assert.equal(quantileFigure(q, spread).data.length, 2);
  assert.deepEqual((quantileFigure(q, spread, 't', { inset: { x: [50, 60], y: [0, 1] } }).layout.yaxis2 as { range: number[] }).range, [0, 1]);
  assert.equal(quantileFigure(q, bunched, 't', { inset: false }).data.length, 2);
});

test('tail-zoom quantile plot: lowest quantiles, y range fitted to them only', () => {
  const fig = quantileTailFigure(q, bunched, { maxQ: 9 });
  assert.deepEqual((fig.layout.xaxis as { range: number[] }).range, [0.5, 9.5]);
  const yr = (fig.layout.yaxis as { range: number[] }).range; // q <= 9 spans [-4.5, 1.5]; the top (9+) is left out
  assert.ok(yr[0] < -4.5 && yr[0] > -5.5 && yr[1] > 1.5 && yr[1] < 2.5, `${yr}`);
  assert.match((fig.layout.title as { text: string }).text, /tail zoom \(q ≤ 9%\)/);
});

function data(seeds: number, P: number) {
  const rng = new Rng(7);
  const a: number[][] = [];
  const b: number[][] = [];
  const s: number[][] = [];
  for (let k = 0; k < seeds; k++) {
    s.push(Array.from({ length: P }, (_, i) => i * 0.37 - rng.uniform())); // distinct scores
    a.push(Array.from({ length: P }, () => rng.normal() + 0.5));
    b.push(Array.from({ length: P }, () => rng.normal()));
  }
  return { a, b, promptScores: s };
}

test('difference band: point estimate = mean over seeds of the per-seed quantile-curve difference', () => {
  const d = data(3, 40);
  const band = quantileDiffBootstrap(d, { resamples: 200, seed: 3 });
  const expected = q.map((_, j) => {
    const per = d.a.map((a, k) => quantileCurve(d.promptScores[k], a).reward[j] - quantileCurve(d.promptScores[k], d.b[k]).reward[j]);
    const ok = per.filter(Number.isFinite);
    return ok.length ? ok.reduce((x, y) => x + y, 0) / ok.length : NaN;
  });
  band.diff.forEach((v, j) => (Number.isNaN(expected[j]) ? assert.ok(Number.isNaN(v)) : assert.ok(Math.abs(v - expected[j]) < 1e-9, `q${j + 1}`)));
  band.lo.forEach((lo, j) => { if (Number.isFinite(lo)) assert.ok(lo <= band.hi[j]); });
  assert.equal(band.q.length, 100);
  assert.match(band.method, /3 seed\(s\).*200 resamples, seed 3/);
  // seeded: the same band again
  assert.deepEqual(quantileDiffBootstrap(d, { resamples: 200, seed: 3 }), band);
});

test('difference band: one resample = the quantile curves of that exact draw (same draws as bootstrap.ts)', () => {
  const d = data(2, 25);
  const draw = randomDraw(d, new Rng(11));
  const curve = q.map((_, j) => {
    const per = draw.seeds.map((s, k) => {
      const idx = draw.prompts[k];
      const sc = idx.map((i) => d.promptScores[s][i]);
      return quantileCurve(sc, idx.map((i) => d.a[s][i])).reward[j] - quantileCurve(sc, idx.map((i) => d.b[s][i])).reward[j];
    }).filter(Number.isFinite);
    return per.length ? per.reduce((x, y) => x + y, 0) / per.length : NaN;
  });
  const band = quantileDiffBootstrap(d, { resamples: 1, seed: 11 });
  band.lo.forEach((v, j) => (Number.isNaN(curve[j]) ? assert.ok(Number.isNaN(v)) : assert.ok(Math.abs(v - curve[j]) < 1e-9 && v === band.hi[j], `q${j + 1}: ${v} vs ${curve[j]}`)));
});

test('difference figure: band + line + zero line, resamples stated; seed-only band needs 2 seeds', () => {
  const band = quantileDiffBootstrap(data(2, 30), { resamples: 50, seed: 0 });
  const fig = quantileDiffFigure([{ a: 'ra_rlhf', b: 'rlhf', band }]);
  assert.equal(fig.data.length, 3);
  assert.equal(fig.data[1].fill, 'tonexty');
  assert.equal(fig.data[2].name, 'RA-RLHF − RLHF');
  assert.equal((fig.data[2].line as { color: string }).color, modelColor('ra_rlhf'));
  assert.match((fig.layout.title as { text: string }).text, /95% band: paired bootstrap .*50 resamples, seed 0/);
  assert.equal((fig.layout.shapes as { y0: number }[])[0].y0, 0);
  const one = seedDiffBootstrap([[1, 2]], [50, 100]);
  assert.ok(one.lo.every(Number.isNaN));
  assert.equal(quantileDiffFigure([{ a: 'ra_rlhf', b: 'rlhf', band: one }]).data.length, 1); // no band drawn
  const two = seedDiffBootstrap([[1, 2], [3, 4]], [50, 100], { resamples: 100, seed: 1 });
  assert.deepEqual(two.diff, [2, 3]);
  assert.ok(two.lo[0] >= 1 && two.hi[0] <= 3 && two.lo[0] < two.hi[0]);
});
