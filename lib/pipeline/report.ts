/**
 * Evaluation + report for a run folder: metrics from a generations table (lib/eval), perplexity of
 * held-out human text under each model, the paper's figures (training curves, quantile curve and
 * its tail zoom, distribution-shift histograms) as HTML and SVG and, when Chromium exists, PNG.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { evaluateTable, aggregateSeeds, type EvalResult, type EvalSpec, type AggregateRow } from '../eval/evaluate';
import { readGenerations, type GenerationsTable } from '../eval/generations';
import { markdownTable } from '../eval/tables';
import { distributionShiftFigure, quantileFigure, quantileTailFigure, trainingCurvesFigure, type CurveRun, type Figure } from '../eval/figures';
import { writeFigureHtml, writeFigureImages, closeRenderer } from '../eval/render';
import { perplexity, causalLMLogprobs, type CausalLM } from '../eval/perplexity';
import type { GPT2Tokenizer } from '../text/gpt2-tokenizer';
import { modelColumns } from './generations';
import { promptView } from '../eval/evaluate';
import { riskFrontier, type FrontierResult } from '../eval/risk-frontier';
import { writeFrontier } from '../eval/frontier-report';

/**
 * The risk frontier of per-seed generations tables (one per seed, every model in each):
 * CVaR at alpha 0.05 .. 1 of each model minus `reference` (default rlhf, else the first) with
 * paired bootstrap intervals, written to <dir>/frontier.{md,json,svg,png}.
 */
export async function seedFrontier(dir: string, tables: readonly GenerationsTable[], spec: EvalSpec, o: { reference?: string; png?: boolean } = {}): Promise<FrontierResult> {
  const names = spec.models.map((m) => m.name);
  const views = tables.map((t) => promptView(t, spec));
  const frontier = riskFrontier(views, names, { reference: o.reference ?? (names.includes('rlhf') ? 'rlhf' : names[0]) });
  await writeFrontier(dir, frontier, { png: o.png ?? true });
  return frontier;
}

export function evalSpec(names: readonly string[], tail: number, cvarAlpha: number, sample: boolean): EvalSpec {
  return {
    promptCol: 'prompt', promptScoreCol: 'prompt_score', classCol: 'class', sampleCol: sample ? 'sample' : undefined,
    models: names.map((name) => ({ name, responseCol: modelColumns(name).response, rewardCol: modelColumns(name).reward })),
    tail, cvarAlpha,
  };
}

export function evaluateFile(file: string, spec: EvalSpec): EvalResult {
  return evaluateTable(readGenerations(file), spec);
}

/**
 * Mean per-text perplexity (the paper's number) of human texts under a model, BOS prepended. Texts
 * are cut to maxChars first (the paper: 500 / 1000 chars), then to the model's context
 * (n_positions - 1 tokens + BOS): a small-context model cannot score longer text at all.
 */
export async function modelPerplexity(
  model: CausalLM & { config: { n_positions: number } }, tokenizer: GPT2Tokenizer, texts: readonly string[], maxChars?: number,
): Promise<{ mean: number; truncated: number }> {
  const maxTokens = model.config.n_positions - 1;
  let truncated = 0;
  const fitted = texts.map((t) => {
    const s = maxChars === undefined ? t : Array.from(t).slice(0, maxChars).join('');
    const ids = tokenizer.encode(s);
    if (ids.length <= maxTokens) return s;
    truncated++;
    return tokenizer.decode(ids.slice(0, maxTokens));
  });
  const r = await perplexity(causalLMLogprobs(model), tokenizer, fitted, { batchSize: 16, bosTokenId: tokenizer.bosTokenId, padTokenId: tokenizer.padTokenId });
  return { mean: r.meanPerplexity, truncated };
}

/** `images`: per figure the file a report should embed, the PNG or (no Chromium) the SVG. */
export interface FigureOutputs { html: string[]; png: string[]; svg: string[]; images: string[] }

export function emptyFigureOutputs(): FigureOutputs { return { html: [], png: [], svg: [], images: [] }; }

/** Write a figure as <name>.html (Plotly beside it), <name>.svg, and <name>.png when Chromium renders. */
export async function writeFigure(dir: string, name: string, fig: Figure, png: boolean, out: FigureOutputs): Promise<void> {
  out.html.push(writeFigureHtml(path.join(dir, `${name}.html`), fig, 'beside', name));
  const img = await writeFigureImages(dir, name, fig, { png });
  if (img.png) out.png.push(img.png);
  out.svg.push(img.svg);
  out.images.push(img.png ?? img.svg);
}

export interface ReportFigures {
  curves?: CurveRun[];
  quantiles?: { q: number[]; curves: Record<string, number[]> };
  shift?: { result: EvalResult; classNames?: Record<string, string>; quantileCurves?: Record<string, number[]> };
}

export async function writeFigures(dir: string, figs: ReportFigures, png: boolean): Promise<FigureOutputs> {
  const out = emptyFigureOutputs();
  fs.mkdirSync(dir, { recursive: true });
  try {
    if (figs.curves && figs.curves.some((c) => c.records.length > 0)) await writeFigure(dir, 'training_curves', trainingCurvesFigure(figs.curves, { smoothing: 0.6 }), png, out);
    if (figs.quantiles) {
      await writeFigure(dir, 'quantile_curve', quantileFigure(figs.quantiles.q, figs.quantiles.curves), png, out);
      await writeFigure(dir, 'quantile_tail', quantileTailFigure(figs.quantiles.q, figs.quantiles.curves), png, out);
    }
    if (figs.shift) {
      await writeFigure(dir, 'distribution_shift', distributionShiftFigure(figs.shift.result, { classNames: figs.shift.classNames, quantileCurves: figs.shift.quantileCurves }), png, out);
    }
  } finally {
    await closeRenderer();
  }
  return out;
}

/** Results table (paper Table 2 columns) as markdown, from per-seed eval results + perplexities. */
export function resultsTable(results: readonly EvalResult[], ppl: Record<string, number[]>): { rows: AggregateRow[]; markdown: string } {
  const rows = aggregateSeeds(results, ppl);
  return { rows, markdown: markdownTable(rows, { tail: results[0].tail, cvarAlpha: results[0].cvarAlpha }) };
}

/** A few example generations per model on the lowest-scored (tail) prompts, as markdown. */
export function exampleGenerations(file: string, names: readonly string[], n: number): string {
  const t = readGenerations(file);
  const rows = [...t.rows].sort((a, b) => Number(a.prompt_score) - Number(b.prompt_score)).slice(0, n);
  const lines: string[] = [];
  for (const r of rows) {
    lines.push(`- **prompt** (score ${Number(r.prompt_score).toFixed(2)}): ${String(r.prompt)}`);
    for (const name of names) {
      const c = modelColumns(name);
      lines.push(`  - *${name}* (reward ${Number(r[c.reward]).toFixed(2)}): ${String(r[c.response]).replace(/\n/g, ' ')}`);
    }
  }
  return lines.join('\n');
}
