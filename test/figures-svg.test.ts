import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { quantileDiffFigure, quantileFigure, trainingCurvesFigure } from '../lib/eval/figures';
import { seedDiffBootstrap } from '../lib/eval/quantile-diff';
import { figureToSvgFallback, niceTicks } from '../lib/eval/svg';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-svg-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Well-formed XML check, enough for our output: tags nest, attributes quoted, text escaped. */
function assertWellFormedXml(xml: string): void {
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/y;
  let i = 0;
  let roots = 0;
  while (i < body.length) {
    const lt = body.indexOf('<', i);
    const textPart = body.slice(i, lt < 0 ? body.length : lt);
    assert.doesNotMatch(textPart, /&(?!(amp|lt|gt|quot|apos|#\d+);)|>/, `unescaped text near ${i}: ${textPart.slice(0, 40)}`);
    if (lt < 0) break;
    tag.lastIndex = lt;
    const m = tag.exec(body);
    assert.ok(m, `bad tag at ${lt}: ${body.slice(lt, lt + 60)}`);
    for (const a of m[3].matchAll(/"([^"]*)"/g)) assert.doesNotMatch(a[1], /&(?!(amp|lt|gt|quot|apos|#\d+);)/, `unescaped attribute ${a[1]}`);
    if (m[1]) assert.equal(stack.pop(), m[2], `mismatched </${m[2]}>`);
    else if (!m[4]) { if (stack.length === 0) roots++; stack.push(m[2]); } else if (stack.length === 0) roots++;
    i = tag.lastIndex;
  }
  assert.deepEqual(stack, [], 'unclosed tags');
  assert.equal(roots, 1, 'one root element');
}

test('XML checker itself rejects broken documents', () => {
  assertWellFormedXml('<?xml version="1.0"?>\n<svg a="1"><g><text>a &amp; b</text></g><rect/></svg>');
  for (const bad of ['<svg><g></svg>', '<svg>a & b</svg>', '<svg a=1></svg>', '<svg></svg><svg></svg>']) assert.throws(() => assertWellFormedXml(bad));
});

test('nice ticks', () => {
  assert.deepEqual(niceTicks(0, 100), [0, 20, 40, 60, 80, 100]);
  assert.deepEqual(niceTicks(-0.03, 0.12), [0, 0.05, 0.1]);
  assert.deepEqual(niceTicks(0.1, 0.7), [0.2, 0.4, 0.6]); // no 0.6000000000000001
  assert.deepEqual(niceTicks(3, 3), [3]);
});

test('browser-free SVG: line, band, inset and legend of our figures; valid XML; names escaped', () => {
  const runs = [1, 2].flatMap((s) => ['rlhf', 'ra_rlhf'].map((a) => ({ name: `${a} seed ${s}`, records: [1, 2, 3].map((t) => ({ step: t, 'env/reward_mean': t * s, 'risk/kept': 4 - t })) })));
  const svg = figureToSvgFallback(trainingCurvesFigure(runs, { smoothing: 0.9 }));
  assertWellFormedXml(svg);
  assert.match(svg, /data-name="RLHF \(2 seeds\)"/);
  assert.match(svg, /data-name="RA-RLHF \(2 seeds\)"/);
  assert.match(svg, /<path d="M[^"]+Z" fill="rgba\(/); // the ± std band
  assert.match(svg, />Training curves \(seed mean ± std; EMA 0\.9, bias-corrected; kept-episode count unsmoothed\)</);
  assert.equal((svg.match(/<clipPath /g) ?? []).length, 2); // two panels
  const q = Array.from({ length: 100 }, (_, i) => i + 1);
  const inset = figureToSvgFallback(quantileFigure(q, { rlhf: q.map((x) => (x < 10 ? x - 10 : 9 + x / 1000)), 'a<b&c': q.map((x) => (x < 10 ? x - 8 : 9.01)) }));
  assertWellFormedXml(inset);
  assert.match(inset, /data-name="a&lt;b&amp;c"/);
  assert.equal((inset.match(/<clipPath /g) ?? []).length, 2); // main axes + inset
  const diff = figureToSvgFallback(quantileDiffFigure([{ a: 'ra_rlhf', b: 'rlhf', band: seedDiffBootstrap([q.map(() => 1), q.map(() => 2)], q, { resamples: 20 }) }]));
  assertWellFormedXml(diff);
  assert.match(diff, /RA-RLHF − RLHF 95% band/);
  assert.match(diff, /stroke-dasharray/); // zero line
});

test('without Chromium a report still gets SVG figures, linked from results.md', () => {
  const out = path.join(tmp, 'report');
  const gen = path.join(tmp, 'g.csv');
  fs.writeFileSync(gen, 'prompt,prompt_score,rlhf_response,rlhf_reward,ra_rlhf_response,ra_rlhf_reward\n' +
    Array.from({ length: 20 }, (_, i) => `p${i},${i - 10},a b,${i / 3},a c,${i / 3 + (i < 5 ? 1 : 0)}`).join('\n') + '\n');
  const root = path.resolve(__dirname, '..');
  const script = `const {writeReport}=require(${JSON.stringify(path.join(root, 'lib/eval/report.ts'))});
    const {evaluateTable}=require(${JSON.stringify(path.join(root, 'lib/eval/evaluate.ts'))});
    const {readGenerations}=require(${JSON.stringify(path.join(root, 'lib/eval/generations.ts'))});
    const spec = {promptCol: 'prompt', promptScoreCol: 'prompt_score', tail: -5,
      models: ['rlhf', 'ra_rlhf'].map((n) => ({name: n, responseCol: n + '_response', rewardCol: n + '_reward'}))};
    const r = evaluateTable(readGenerations(${JSON.stringify(gen)}), spec);
    writeReport([r, r], {outDir: ${JSON.stringify(out)}, curves: [{name: 'rlhf seed 1', records: [{step: 1, 'objective/kl_all': 1}, {step: 2, 'objective/kl_all': 2}]}]})
      .then((x) => console.log(JSON.stringify(x.pngSkipped)));`;
  const res = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8', env: { ...process.env, RARLHF_CHROMIUM: '/nonexistent' } });
  assert.equal(res.status, 0, res.stderr);
  const skipped = JSON.parse(res.stdout.trim()) as string[];
  assert.deepEqual(skipped, ['distribution_shift', 'quantile', 'quantile_tail', 'quantile_diff', 'training_curves']);
  const md = fs.readFileSync(path.join(out, 'results.md'), 'utf8');
  for (const name of skipped) {
    assert.match(md, new RegExp(`\\]\\(${name}\\.svg\\)`));
    assert.ok(!fs.existsSync(path.join(out, `${name}.png`)));
    const svg = fs.readFileSync(path.join(out, `${name}.svg`), 'utf8');
    assertWellFormedXml(svg);
    assert.match(svg, /<g class="trace/);
  }
  assert.match(fs.readFileSync(path.join(out, 'quantile.svg'), 'utf8'), /data-name="RA-RLHF"[\s\S]*data-name="RLHF"|data-name="RLHF"[\s\S]*data-name="RA-RLHF"/);
  assert.match(fs.readFileSync(path.join(out, 'training_curves.svg'), 'utf8'), /data-name="RLHF"/);
  assert.match(fs.readFileSync(path.join(out, 'quantile_diff.svg'), 'utf8'), /RA-RLHF − RLHF/);
});

test('niceTicks: a constant series within float noise gets one tick, not an endless loop', () => {
  assert.deepEqual(niceTicks(12, 12.000000000000002), [12]);
  assert.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(0, Infinity), []);
});
