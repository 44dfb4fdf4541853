/**
 * Plotly figure specs (plain JSON {data, layout}) for the paper's figures. Rendering to HTML/PNG/SVG
 * is in render.ts, so these stay pure and testable. Names, colours and fonts come from style.ts;
 * training curves live in training-figures.ts (re-exported here).
 */
import { checkInputFile, stripBom } from '../data/strict';
import { decodeUtf8Strict } from '../data/utf8';
import * as fs from 'node:fs';
import type { EvalResult } from './evaluate';
import type { DiffBand } from './quantile-diff';
import { axisStyle, baseLayout, CLASS_PALETTE, displayName, FONT, figureColors, INSET_TICK_SIZE, withAlpha } from './style';
import type { MetricsRecord } from './training-figures';

export { DEFAULT_CURVE_KEYS, RAW_KEYS, curveKeys, preferFullBatch, trainingCurvesFigure } from './training-figures';
export type { CurveRun, MetricsRecord, TrainingCurvesOptions } from './training-figures';

import type { Figure } from './style';
export type { Figure } from './style';

function axisName(kind: 'x' | 'y', i: number): string { return i === 0 ? kind : `${kind}${i + 1}`; }
function axisKey(kind: 'x' | 'y', i: number): string { return i === 0 ? `${kind}axis` : `${kind}axis${i + 1}`; }
const title = (text: string) => ({ text, font: { size: FONT.size } });

export interface DistributionShiftOptions {
  /** display names for class values, e.g. {"0": "non-toxic", "1": "toxic"} */
  classNames?: Record<string, string>;
  /** per-model quantile curves to draw (default: result's own); e.g. the mean over seeds */
  quantileCurves?: Record<string, number[]>;
  title?: string;
  /** zoom inset in every histogram panel (the paper's Jigsaw figure: x [-7, 5], y [0, 150]) */
  zoom?: { x: [number, number]; y: [number, number] };
}

/**
 * The paper's distribution-shift figure: histograms (30 shared bins, split by class, shared
 * y-limits) of the prompt score (with the tail threshold drawn) and of each model's reward, plus
 * the reward-vs-quantile panel.
 */
export function distributionShiftFigure(r: EvalResult, opts: DistributionShiftOptions = {}): Figure {
  const panels: { title: string; hist: Record<string, number[]> }[] = [
    { title: 'Prompt score', hist: r.promptScoreHistograms },
    ...r.models.map((m) => ({ title: `${displayName(m.name)} reward`, hist: m.histograms })),
  ];
  const nPanels = panels.length + 1;
  const centers = r.edges.slice(0, -1).map((e, i) => (e + r.edges[i + 1]) / 2);
  const width = r.edges[1] - r.edges[0];
  const yMax = Math.max(1, ...panels.flatMap((p) => Object.values(p.hist).flat()));
  const data: Record<string, unknown>[] = [];
  const layout: Record<string, unknown> = {
    title: { text: opts.title ?? 'Distribution shift' },
    barmode: 'overlay',
    width: 330 * nPanels, // test/eval-cli.test.ts checks the PNG width (layout width x PNG scale 2)
    height: 460,
    margin: { b: 120, t: 80 },
    legend: { orientation: 'h', y: -0.3 },
    // the tail threshold on the prompt-score panel: the prompts left of it are the tail
    shapes: [{ type: 'line', xref: 'x', yref: 'paper', x0: r.tail, x1: r.tail, y0: 0, y1: 1, line: { color: '#333', width: 2, dash: 'dash' } }],
    annotations: [{ text: `tail ≤ ${r.tail}`, showarrow: false, xref: 'x', yref: 'paper', x: r.tail, y: 1.0, xanchor: 'right', yanchor: 'bottom', font: { size: FONT.size - 1 } }],
  };
  const bar = (c: string, ci: number, hist: Record<string, number[]>, k: number) => ({
    type: 'bar', x: centers, y: hist[c], width, opacity: 0.6, legendgroup: `class-${c}`,
    marker: { color: CLASS_PALETTE[ci % CLASS_PALETTE.length] }, xaxis: axisName('x', k), yaxis: axisName('y', k),
  });
  panels.forEach((p, i) => {
    r.classes.forEach((c, ci) => {
      data.push({ ...bar(c, ci, p.hist, i), name: r.classes.length === 1 ? 'all prompts' : `class ${opts.classNames?.[c] ?? c}`, showlegend: i === 0 });
    });
    const dom = panelDomain(i, nPanels);
    layout[axisKey('x', i)] = axisStyle({ title: title(p.title), range: [r.edges[0], r.edges[r.edges.length - 1]], domain: dom, anchor: axisName('y', i) });
    layout[axisKey('y', i)] = axisStyle({ range: [0, yMax * (opts.zoom ? 2.2 : 1.05)], title: i === 0 ? title('count') : undefined, domain: [0, 1], anchor: axisName('x', i) });
    if (opts.zoom) {
      // inset axes (index nPanels + i) in the panel's upper-right corner, same bars, zoomed ranges;
      // the main y-range is doubled above so the full histogram stays below the inset
      const k = nPanels + i;
      r.classes.forEach((c, ci) => data.push({ ...bar(c, ci, p.hist, k), showlegend: false, hoverinfo: 'x+y' }));
      const w = dom[1] - dom[0];
      layout[axisKey('x', k)] = axisStyle({ domain: [dom[0] + 0.5 * w, dom[1]], range: opts.zoom.x, anchor: axisName('y', k), tickfont: { size: INSET_TICK_SIZE } });
      layout[axisKey('y', k)] = axisStyle({ domain: [0.56, 1], range: opts.zoom.y, anchor: axisName('x', k), tickfont: { size: INSET_TICK_SIZE } });
    }
  });
  const qi = panels.length;
  const curves = opts.quantileCurves ?? Object.fromEntries(r.models.map((m) => [m.name, m.quantileReward]));
  const curveColor = figureColors(Object.keys(curves));
  for (const [name, ys] of Object.entries(curves)) {
    data.push({
      type: 'scatter', mode: 'lines', x: r.quantiles.q, y: ys.map(nullIfNaN), name: displayName(name), legendgroup: `model-${name}`,
      line: { color: curveColor(name), width: 2.5 }, xaxis: axisName('x', qi), yaxis: axisName('y', qi),
    });
  }
  layout[axisKey('x', qi)] = axisStyle({ title: title('Prompt-score quantile (%)'), range: [0, 100], domain: panelDomain(qi, nPanels), anchor: axisName('y', qi) });
  layout[axisKey('y', qi)] = axisStyle({ title: title('mean reward'), domain: [0, 1], anchor: axisName('x', qi) });
  return { data, layout: baseLayout(layout) };
}

export interface QuantileInset { x: [number, number]; y?: [number, number] }
export interface QuantileFigureOptions {
  /**
   * zoom inset (plotly inset axes, lower right): explicit q-range (y from the data unless given),
   * 'auto' (default: only where the curves bunch in a small band above q = 20, as on Jigsaw), or false
   */
  inset?: QuantileInset | 'auto' | false;
}

/** [min, max] of the finite curve values with q in [q0, q1], padded by `pad` of the span. */
function yRange(q: readonly number[], curves: Record<string, number[]>, q0: number, q1: number, pad = 0.08): [number, number] | null {
  const ys = Object.values(curves).flatMap((c) => c.filter((y, i) => q[i] >= q0 && q[i] <= q1 && Number.isFinite(y)));
  if (!ys.length) return null;
  const lo = Math.min(...ys);
  const hi = Math.max(...ys);
  const span = hi - lo || Math.abs(hi) || 1;
  return [lo - pad * span, hi + pad * span];
}

/** The automatic inset: q ≥ 20 when those values fill less than a quarter of the full y-range. */
export function autoQuantileInset(q: readonly number[], curves: Record<string, number[]>): QuantileInset | null {
  const full = yRange(q, curves, -Infinity, Infinity, 0);
  const top = yRange(q, curves, 20, Infinity, 0);
  if (!full || !top || full[1] === full[0]) return null;
  return top[1] - top[0] < 0.25 * (full[1] - full[0]) ? { x: [20, Math.max(...q)] } : null;
}

function quantileLines(q: readonly number[], curves: Record<string, number[]>, extra: Record<string, unknown> = {}) {
  const color = figureColors(Object.keys(curves));
  return Object.entries(curves).map(([name, ys]) => ({
    type: 'scatter', mode: 'lines', x: [...q], y: ys.map(nullIfNaN), name: displayName(name), legendgroup: name,
    line: { color: color(name), width: 2.5 }, ...extra,
  }));
}

/** Reward vs prompt-score quantile, one line per model (cumulative slices, spec section 6). */
export function quantileFigure(q: readonly number[], curves: Record<string, number[]>, titleText = 'Reward vs prompt-score quantile', opts: QuantileFigureOptions = {}): Figure {
  const data = quantileLines(q, curves);
  const layout: Record<string, unknown> = {
    title: { text: titleText }, width: 760, height: 500,
    xaxis: axisStyle({ title: title('Prompt-score quantile (%)'), range: [0, 100] }), yaxis: axisStyle({ title: title('Average reward') }),
  };
  const want = opts.inset ?? 'auto';
  const inset = want === 'auto' ? autoQuantileInset(q, curves) : want || null;
  const yr = inset && (inset.y ?? yRange(q, curves, inset.x[0], inset.x[1]));
  if (inset && yr) {
    data.push(...quantileLines(q, curves, { xaxis: 'x2', yaxis: 'y2', showlegend: false }));
    layout.xaxis2 = axisStyle({ domain: [0.5, 0.97], range: inset.x, anchor: 'y2', tickfont: { size: INSET_TICK_SIZE } });
    layout.yaxis2 = axisStyle({ domain: [0.08, 0.5], range: yr, anchor: 'x2', tickfont: { size: INSET_TICK_SIZE } });
    // the zoomed region, outlined on the main axes
    layout.shapes = [{ type: 'rect', xref: 'x', yref: 'y', x0: inset.x[0], x1: inset.x[1], y0: yr[0], y1: yr[1], line: { color: '#666', width: 1, dash: 'dot' } }];
    layout.annotations = [{ text: `zoom: q ${inset.x[0]}–${inset.x[1]}%`, showarrow: false, xref: 'paper', yref: 'paper', x: 0.97, y: 0.52, xanchor: 'right', yanchor: 'bottom', font: { size: INSET_TICK_SIZE } }];
  }
  return { data, layout: baseLayout(layout) };
}

/** The lowest quantiles only (the tail, where the risk-averse objective should differ). */
export function quantileTailFigure(q: readonly number[], curves: Record<string, number[]>, o: { maxQ?: number; title?: string } = {}): Figure {
  const maxQ = o.maxQ ?? 20;
  const lo = Math.min(...q);
  return {
    data: quantileLines(q, curves, { mode: 'lines+markers', marker: { size: 6 } }),
    layout: baseLayout({
      title: { text: o.title ?? `Reward vs prompt-score quantile: tail zoom (q ≤ ${maxQ}%)` }, width: 760, height: 500,
      xaxis: axisStyle({ title: title('Prompt-score quantile (%)'), range: [lo - 0.5, maxQ + 0.5] }),
      // explicit y-range: plotly's autorange would also fit the points outside the x window
      yaxis: axisStyle({ title: title('Average reward'), range: yRange(q, curves, lo, maxQ) ?? undefined }),
    }),
  };
}

/** A − B over quantiles, one line + bootstrap band per pair, and the zero line. */
export function quantileDiffFigure(pairs: readonly { a: string; b: string; band: DiffBand }[], titleText?: string): Figure {
  const data: Record<string, unknown>[] = [];
  const colorOf = figureColors(pairs.map((p) => p.a));
  for (const { a, b, band } of pairs) {
    const color = colorOf(a);
    const name = `${displayName(a)} − ${displayName(b)}`;
    const common = { type: 'scatter', mode: 'lines', x: band.q, legendgroup: name, showlegend: false, hoverinfo: 'skip', line: { width: 0, color } };
    if (band.lo.some(Number.isFinite)) {
      data.push({ ...common, y: band.lo.map(nullIfNaN) });
      data.push({ ...common, y: band.hi.map(nullIfNaN), fill: 'tonexty', fillcolor: withAlpha(color, 0.22), name: `${name} 95% band`, showlegend: true });
    }
    data.push({ type: 'scatter', mode: 'lines', x: band.q, y: band.diff.map(nullIfNaN), name, legendgroup: name, line: { color, width: 2.5 } });
  }
  const b0 = pairs[0]?.band;
  const method = b0 && (b0.lo.some(Number.isFinite) ? `95% band: ${b0.method}` : b0.method);
  return {
    data,
    layout: baseLayout({
      title: { text: titleText ?? `Reward difference vs prompt-score quantile${method ? `<br><sub>${method}</sub>` : ''}` },
      width: 760, height: 500, margin: { t: 90 },
      xaxis: axisStyle({ title: title('Prompt-score quantile (%)'), range: [0, 100] }),
      yaxis: axisStyle({ title: title('Average reward difference') }),
      shapes: [{ type: 'line', xref: 'paper', yref: 'y', x0: 0, x1: 1, y0: 0, y1: 0, line: { color: '#333', width: 1.5, dash: 'dash' } }],
    }),
  };
}

// ---------------------------------------------------------------- metrics files

/** Read a trainer metrics.jsonl (one JSON object per PPO step); errors name file and line. */
export function readMetricsJsonl(file: string): MetricsRecord[] {
  const out: MetricsRecord[] = [];
  checkInputFile(file, 'metrics.jsonl file');
  stripBom(decodeUtf8Strict(fs.readFileSync(file), file).text).split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    try { out.push(JSON.parse(line) as MetricsRecord); } catch (e) { throw new Error(`${file}:${i + 1}: invalid JSON (${(e as Error).message})`); }
  });
  return out;
}

/** x-domain of panel i of n side by side, with a gap for the y-axis labels. */
function panelDomain(i: number, n: number): [number, number] {
  const gap = 0.2 / n;
  return [i / n + gap, (i + 1) / n];
}

function nullIfNaN(x: number): number | null { return Number.isNaN(x) ? null : x; }
