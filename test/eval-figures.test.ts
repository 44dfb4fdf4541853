import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { evaluateTable } from '../lib/eval/evaluate';
import { distributionShiftFigure, quantileFigure, readMetricsJsonl, trainingCurvesFigure } from '../lib/eval/figures';
import { readGenerations } from '../lib/eval/generations';
import { chromiumPath, closeRenderer, figureToPng, writeFigureHtml } from '../lib/eval/render';
import { writeReport } from '../lib/eval/report';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-fig-'));
after(async () => { await closeRenderer(); fs.rmSync(tmp, { recursive: true, force: true }); });
const HAS_CHROMIUM = chromiumPath() !== null;

function smallResult() {
  const f = path.join(tmp, 'g.csv');
  fs.writeFileSync(f, 'prompt,toxic,prompt_score,a_response,a_reward,b_response,b_reward\n' +
    'x,0,6,u,5,u,6\ny,1,-4,v,-3,v,0\nz,1,-2,w,-1,w,2\nq,0,7,t,6,t,7\n');
  return evaluateTable(readGenerations(f), {
    promptCol: 'prompt', promptScoreCol: 'prompt_score', classCol: 'toxic', tail: 5,
    models: [{ name: 'a', responseCol: 'a_response', rewardCol: 'a_reward' }, { name: 'b', responseCol: 'b_response', rewardCol: 'b_reward' }],
  });
}

test('distribution-shift figure: panels per model split by class, shared y-limits, quantile panel', () => {
  const r = smallResult();
  const fig = distributionShiftFigure(r, { classNames: { 0: 'non-toxic', 1: 'toxic' } });
  // (prompt score + 2 models) x 2 classes bars + 2 quantile lines
  assert.equal(fig.data.length, 3 * 2 + 2);
  assert.deepEqual(fig.data.slice(0, 6).map((d) => d.xaxis), ['x', 'x', 'x2', 'x2', 'x3', 'x3']);
  assert.equal(fig.data[7].xaxis, 'x4');
  assert.equal(fig.data[0].name, 'class non-toxic');
  const yr = [fig.layout.yaxis, fig.layout.yaxis2, fig.layout.yaxis3].map((a) => (a as { range: number[] }).range);
  assert.deepEqual(yr[0], yr[1]);
  assert.deepEqual(yr[1], yr[2]);
  // 30 shared bins over [-4, 7]: each histogram counts every prompt once
  assert.equal((fig.data[0].y as number[]).length, 30);
  const total = (fig.data[2].y as number[]).reduce((a, b) => a + b, 0) + (fig.data[3].y as number[]).reduce((a, b) => a + b, 0);
  assert.equal(total, 4);
  // zoom inset (paper's Jigsaw figure): one inset axis pair per histogram panel, same bars
  const z = distributionShiftFigure(r, { zoom: { x: [-7, 5], y: [0, 150] } });
  assert.equal(z.data.length, 8 + 3 * 2);
  assert.deepEqual((z.layout.xaxis5 as { range: number[] }).range, [-7, 5]);
  assert.deepEqual((z.layout.yaxis7 as { range: number[] }).range, [0, 150]);
  assert.equal(z.data.filter((d) => d.xaxis === 'x5').length, 2);
});

test('training curves from metrics.jsonl: bias-corrected EMA, kept count raw', () => {
  const f = path.join(tmp, 'metrics.jsonl');
  fs.writeFileSync(f, [1, 2, 3].map((s) => JSON.stringify({ step: s, 'env/reward_mean': s, 'objective/kl': 0.1 * s, 'risk/kept': 128 - s })).join('\n') + '\n');
  const recs = readMetricsJsonl(f);
  const fig = trainingCurvesFigure([{ name: 'ra_rlhf', records: recs }, { name: 'rlhf', records: recs }], { smoothing: 0.5 });
  // 3 keys x 2 algorithms x one mean line (one seed each: no band)
  assert.equal(fig.data.length, 6);
  const y = fig.data[0].y as number[];
  [1, 5 / 3, 17 / 7].forEach((v, i) => assert.ok(Math.abs(y[i] - v) < 1e-12, `${y[i]} vs ${v}`)); // debiased EMA 0.5
  assert.deepEqual(fig.data[5].y, [127, 126, 125]); // risk/kept: never smoothed
  assert.equal((fig.layout.yaxis3 as { title: { text: string } }).title.text, 'Kept episodes (raw)');
  assert.match((fig.layout.yaxis2 as { title: { text: string } }).title.text, /kept episodes only \(EMA 0\.5\)/);
  fs.writeFileSync(f, '{"step": 1}\nnot json\n');
  assert.throws(() => readMetricsJsonl(f), /metrics\.jsonl:2: invalid JSON/);
  assert.throws(() => trainingCurvesFigure([{ name: 'x', records: [{ step: 1 }] }]), /none of the expected metric keys/);
});

test('figure HTML: one page per figure, plotly inline or copied beside', () => {
  const fig = quantileFigure([1, 2], { a: [1, NaN] });
  assert.deepEqual(fig.data[0].y, [1, null]); // NaN -> gap
  const beside = writeFigureHtml(path.join(tmp, 'html', 'q.html'), fig, 'beside');
  assert.match(fs.readFileSync(beside, 'utf8'), /<script src="plotly.min.js"><\/script>[\s\S]*Plotly\.newPlot\("fig"/);
  assert.ok(fs.statSync(path.join(tmp, 'html', 'plotly.min.js')).size > 1e6);
  const inline = writeFigureHtml(path.join(tmp, 'inline', 'q.html'), fig, 'inline');
  assert.ok(fs.statSync(inline).size > 1e6);
  assert.ok(!fs.existsSync(path.join(tmp, 'inline', 'plotly.min.js')));
});

test(`PNG bytes via headless Chromium${HAS_CHROMIUM ? '' : ' (SKIPPED: no chromium at /usr/bin/chromium or $RARLHF_CHROMIUM)'}`, { skip: !HAS_CHROMIUM }, async () => {
  const png = await figureToPng(quantileFigure([1, 2, 3], { a: [1, 2, 3] }), { width: 320, height: 200 });
  assert.ok(png);
  assert.equal(png.subarray(0, 8).toString('hex'), '89504e470d0a1a0a');
  assert.equal(png.readUInt32BE(16), 320);
  assert.equal(png.readUInt32BE(20), 200);
  // report with training curves only (no generations)
  const rep = await writeReport([], { outDir: path.join(tmp, 'curves'), curves: [{ name: 'r', records: [{ step: 1, 'objective/kl': 1 }, { step: 2, 'objective/kl': 2 }] }] });
  assert.ok(fs.existsSync(path.join(tmp, 'curves', 'training_curves.png')));
  assert.match(fs.readFileSync(path.join(tmp, 'curves', 'training_curves.svg'), 'utf8'), /<svg[\s\S]*class="main-svg"/); // plotly's own SVG
  assert.deepEqual(rep.pngSkipped, []);
});

test('without Chromium PNG is skipped with a warning, HTML still written (never crashes)', async () => {
  const { spawnSync } = await import('node:child_process');
  const out = path.join(tmp, 'nochrome');
  const script = `const {writeReport}=require(${JSON.stringify(path.resolve(__dirname, '../lib/eval/report.ts'))});
    writeReport([], {outDir: ${JSON.stringify(out)}, curves: [{name: 'r', records: [{step: 1, 'objective/kl': 1}]}]}).then((r) => console.log(JSON.stringify(r.pngSkipped)));`;
  const res = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], {
    encoding: 'utf8', env: { ...process.env, RARLHF_CHROMIUM: '/nonexistent' },
  });
  assert.equal(res.status, 0, res.stderr);
  assert.equal(res.stdout.trim(), '["training_curves"]');
  assert.match(res.stderr, /Chromium not found/);
  assert.ok(fs.existsSync(path.join(out, 'training_curves.html')));
  assert.ok(fs.existsSync(path.join(out, 'training_curves.svg'))); // the built-in renderer's (test/figures-svg.test.ts)
});
