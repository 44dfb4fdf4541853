/**
 * Write an evaluation run folder: results.json, results.md, results.html (tables + figures),
 * one HTML page, one PNG (Chromium) and one SVG (always) per figure, and plotly.min.js beside them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { aggregateSeeds, meanQuantileCurves, type AggregateRow, type EvalResult } from './evaluate';
import type { PairedSeeds } from './bootstrap';
import {
  distributionShiftFigure, quantileDiffFigure, quantileFigure, quantileTailFigure, trainingCurvesFigure, type CurveRun, type Figure,
} from './figures';
import { quantileDiffBootstrap, seedDiffBootstrap } from './quantile-diff';
import { figureDiv, htmlPage, plotlyScriptTag, writeFigureHtml, writeFigureImages, type PlotlyMode } from './render';
import { canonicalId } from './style';
import { escapeHtml, htmlTable, markdownTable } from './tables';

export interface ReportOptions {
  outDir: string;
  title?: string;
  /** 'beside' (default): one plotly.min.js in outDir; 'inline': every page self-contained */
  plotly?: PlotlyMode;
  /** render PNGs (default true; skipped with a warning when Chromium is absent) */
  png?: boolean;
  classNames?: Record<string, string>;
  /** zoom inset in the distribution-shift histograms, e.g. {x: [-7, 5], y: [0, 150]} (paper's Jigsaw) */
  zoom?: { x: [number, number]; y: [number, number] };
  /** precomputed perplexities: model name -> one value per seed */
  perplexity?: Record<string, number[]>;
  /** training runs (metrics.jsonl) to plot */
  curves?: CurveRun[];
  /** bias-corrected EMA weight for training curves (paper 0.97) */
  smoothing?: number;
  /**
   * per-prompt rewards of RA-RLHF (a) and RLHF (b) per seed, for the two-level bootstrap band of
   * the difference curve; without it the band resamples the seed files' quantile curves
   */
  paired?: PairedSeeds;
  /** difference-curve bootstrap (default 1000 resamples, seed 0) */
  bootstrap?: { resamples?: number; seed?: number };
}

export interface ReportResult {
  files: string[];
  /** figures whose PNG could not be rendered (no Chromium) */
  pngSkipped: string[];
  table: AggregateRow[];
  markdown: string;
}

/** Everything the eval command prints with --json and stores in results.json. */
export function resultsJson(results: readonly EvalResult[], table: AggregateRow[]): Record<string, unknown> {
  return {
    tail: results[0]?.tail,
    cvarAlpha: results[0]?.cvarAlpha,
    seeds: results.length,
    table,
    quantileCurveMean: results.length ? { q: results[0].quantiles.q, ...meanQuantileCurves(results) } : undefined,
    perSeed: results,
  };
}

export async function writeReport(results: readonly EvalResult[], opts: ReportOptions): Promise<ReportResult> {
  const out = opts.outDir;
  fs.mkdirSync(out, { recursive: true });
  const files: string[] = [];
  const pngSkipped: string[] = [];
  const figures: { name: string; title: string; fig: Figure }[] = [];
  let table: AggregateRow[] = [];
  let markdown = '';

  if (results.length > 0) {
    table = aggregateSeeds(results, opts.perplexity);
    const r0 = results[0];
    const tOpts = { tail: r0.tail, cvarAlpha: r0.cvarAlpha };
    const curves = meanQuantileCurves(results);
    const seedNote = results.length > 1 ? `mean ± sample std over ${results.length} seed files` : 'one seed file';
    markdown = [
      `# ${opts.title ?? 'Evaluation'}`, '',
      `${r0.prompts} prompts (${r0.rows} rows; ${fmtK(r0)}), ${seedNote}. Tail: prompt score ≤ ${r0.tail}` +
        ` (${r0.models[0].tailN} prompts). CVaR: mean of the worst ⌈${r0.cvarAlpha}·N⌉ rewards. Dist-n: unique/all n-grams, whitespace tokens, corpus level.`,
      '', markdownTable(table, tOpts), '',
    ].join('\n');
    figures.push({
      name: 'distribution_shift', title: 'Distribution shift',
      fig: distributionShiftFigure(r0, { classNames: opts.classNames, zoom: opts.zoom, quantileCurves: curves, title: `Distribution shift (${path.basename(r0.file)})` }),
    });
    figures.push({ name: 'quantile', title: 'Reward vs quantile', fig: quantileFigure(r0.quantiles.q, curves) });
    figures.push({ name: 'quantile_tail', title: 'Reward vs quantile: tail zoom', fig: quantileTailFigure(r0.quantiles.q, curves) });
    const diff = raMinusRlhf(results, opts);
    if (diff) figures.push({ name: 'quantile_diff', title: `${diff.a} − ${diff.b} vs quantile`, fig: quantileDiffFigure([diff]) });
    fs.writeFileSync(path.join(out, 'results.json'), JSON.stringify(resultsJson(results, table), null, 1));
    files.push(path.join(out, 'results.json'));
  }
  if (opts.curves && opts.curves.length > 0) {
    figures.push({ name: 'training_curves', title: 'Training curves', fig: trainingCurvesFigure(opts.curves, { smoothing: opts.smoothing }) });
  }

  const mode = opts.plotly ?? 'beside';
  const images = new Map<string, string>(); // figure -> the image results.md shows (PNG, else SVG)
  for (const f of figures) {
    files.push(writeFigureHtml(path.join(out, `${f.name}.html`), f.fig, mode, f.title));
    const img = await writeFigureImages(out, f.name, f.fig, { png: opts.png ?? true });
    if (img.png) files.push(img.png);
    else if (opts.png ?? true) pngSkipped.push(f.name);
    files.push(img.svg);
    images.set(f.name, path.basename(img.png ?? img.svg));
  }

  if (markdown) {
    fs.writeFileSync(path.join(out, 'results.md'), markdown + figures.map((f) => `\n![${f.title}](${images.get(f.name)})\n`).join(''));
    files.push(path.join(out, 'results.md'));
  }
  const r0 = results[0];
  const body = [
    `<h1>${escapeHtml(opts.title ?? 'Evaluation')}</h1>`,
    r0 ? `<p>${r0.prompts} prompts, ${results.length} seed file(s); tail: prompt score ≤ ${r0.tail}; CVaR α = ${r0.cvarAlpha}.</p>` : '',
    r0 ? htmlTable(table, { tail: r0.tail, cvarAlpha: r0.cvarAlpha }) : '',
    ...figures.map((f, i) => `<h2>${escapeHtml(f.title)}</h2>\n${figureDiv(f.fig, `fig${i}`)}`),
  ].join('\n');
  fs.writeFileSync(path.join(out, 'results.html'), htmlPage(opts.title ?? 'Evaluation', plotlyScriptTag(mode, out), body));
  files.push(path.join(out, 'results.html'));
  return { files, pngSkipped, table, markdown };
}

/** The RA-RLHF − RLHF difference band, when both models are in the results (by canonical id). */
function raMinusRlhf(results: readonly EvalResult[], opts: ReportOptions) {
  const names = results[0].models.map((m) => m.name);
  const a = names.find((n) => canonicalId(n) === 'ra_rlhf');
  const b = names.find((n) => canonicalId(n) === 'rlhf');
  if (!a || !b) return null;
  const q = results[0].quantiles.q;
  if (opts.paired) return { a, b, band: quantileDiffBootstrap(opts.paired, { qs: q, ...opts.bootstrap }) };
  const perSeed = results.map((r) => {
    const ra = r.models.find((m) => m.name === a)!.quantileReward;
    const rl = r.models.find((m) => m.name === b)!.quantileReward;
    return ra.map((x, i) => x - rl[i]);
  });
  return { a, b, band: seedDiffBootstrap(perSeed, q, opts.bootstrap) };
}

function fmtK(r: EvalResult): string {
  const { min, max } = r.samplesPerPrompt;
  return min === max ? `${min} sample${min > 1 ? 's' : ''} per prompt` : `${min}-${max} samples per prompt`;
}
