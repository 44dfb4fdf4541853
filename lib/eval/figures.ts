/**
 * Plotly figure specs (plain JSON {data, layout}) for the paper's figures. Rendering to HTML/PNG
 * is in render.ts, so these stay pure and testable.
 */
import { checkInputFile, stripBom } from '../data/strict';
import { decodeUtf8Strict } from '../data/utf8';
import * as fs from 'node:fs';
import type { EvalResult } from './evaluate';
import { emaSmooth } from './metrics';

export interface Figure { data: Record<string, unknown>[]; layout: Record<string, unknown> }

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

function axisName(kind: 'x' | 'y', i: number): string { return i === 0 ? kind : `${kind}${i + 1}`; }
function axisKey(kind: 'x' | 'y', i: number): string { return i === 0 ? `${kind}axis` : `${kind}axis${i + 1}`; }

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
 * y-limits) of the prompt score and of each model's reward, plus the reward-vs-quantile panel.
 */
export function distributionShiftFigure(r: EvalResult, opts: DistributionShiftOptions = {}): Figure {
  const panels: { title: string; hist: Record<string, number[]> }[] = [
    { title: 'Prompt score', hist: r.promptScoreHistograms },
    ...r.models.map((m) => ({ title: `${m.name} reward`, hist: m.histograms })),
  ];
  const nPanels = panels.length + 1;
  const centers = r.edges.slice(0, -1).map((e, i) => (e + r.edges[i + 1]) / 2);
  const width = r.edges[1] - r.edges[0];
  const yMax = Math.max(1, ...panels.flatMap((p) => Object.values(p.hist).flat()));
  const data: Record<string, unknown>[] = [];
  const layout: Record<string, unknown> = {
    title: { text: opts.title ?? 'Distribution shift' },
    barmode: 'overlay',
    width: 330 * nPanels,
    height: 420,
    margin: { b: 110 },
    legend: { orientation: 'h', y: -0.32 },
    annotations: [] as unknown[],
  };
  const annotations = layout.annotations as unknown[];
  panels.forEach((p, i) => {
    r.classes.forEach((c, ci) => {
      data.push({
        type: 'bar', x: centers, y: p.hist[c], width, opacity: 0.6,
        name: r.classes.length === 1 ? 'all prompts' : `class ${opts.classNames?.[c] ?? c}`,
        legendgroup: `class-${c}`, showlegend: i === 0,
        marker: { color: PALETTE[ci % PALETTE.length] },
        xaxis: axisName('x', i), yaxis: axisName('y', i),
      });
    });
    const dom = panelDomain(i, nPanels);
    layout[axisKey('x', i)] = { title: { text: p.title }, range: [r.edges[0], r.edges[r.edges.length - 1]], domain: dom, anchor: axisName('y', i) };
    layout[axisKey('y', i)] = { range: [0, yMax * (opts.zoom ? 2.2 : 1.05)], title: i === 0 ? { text: 'count' } : undefined, domain: [0, 1], anchor: axisName('x', i) };
    if (opts.zoom) {
      // inset axes (index nPanels + i) in the panel's upper-right corner, same bars, zoomed ranges;
      // the main y-range is doubled above so the full histogram stays below the inset
      const k = nPanels + i;
      r.classes.forEach((c, ci) => {
        data.push({ type: 'bar', x: centers, y: p.hist[c], width, opacity: 0.6, showlegend: false, legendgroup: `class-${c}`,
          marker: { color: PALETTE[ci % PALETTE.length] }, xaxis: axisName('x', k), yaxis: axisName('y', k), hoverinfo: 'x+y' });
      });
      const w = dom[1] - dom[0];
      layout[axisKey('x', k)] = { domain: [dom[0] + 0.5 * w, dom[1]], range: opts.zoom.x, anchor: axisName('y', k), tickfont: { size: 8 } };
      layout[axisKey('y', k)] = { domain: [0.56, 1], range: opts.zoom.y, anchor: axisName('x', k), tickfont: { size: 8 } };
    }
  });
  const qi = panels.length;
  const curves = opts.quantileCurves ?? Object.fromEntries(r.models.map((m) => [m.name, m.quantileReward]));
  Object.entries(curves).forEach(([name, ys], j) => {
    data.push({
      type: 'scatter', mode: 'lines', x: r.quantiles.q, y: ys.map(nullIfNaN), name, legendgroup: `model-${name}`,
      line: { color: PALETTE[(j + 2) % PALETTE.length] }, xaxis: axisName('x', qi), yaxis: axisName('y', qi),
    });
  });
  layout[axisKey('x', qi)] = { title: { text: 'Quantile (%)' }, range: [0, 100], domain: panelDomain(qi, nPanels), anchor: axisName('y', qi) };
  layout[axisKey('y', qi)] = { title: { text: 'mean reward' }, domain: [0, 1], anchor: axisName('x', qi) };
  annotations.push({ text: `tail: prompt score ≤ ${r.tail}`, showarrow: false, xref: 'paper', yref: 'paper', x: 1, y: 1.12, xanchor: 'right' });
  return { data, layout };
}

/** Reward vs prompt-score quantile, one line per model (cumulative slices, spec section 6). */
export function quantileFigure(q: readonly number[], curves: Record<string, number[]>, title = 'Reward vs prompt-score quantile'): Figure {
  return {
    data: Object.entries(curves).map(([name, ys], j) => ({
      type: 'scatter', mode: 'lines', x: [...q], y: ys.map(nullIfNaN), name, line: { color: PALETTE[(j + 2) % PALETTE.length] },
    })),
    layout: {
      title: { text: title }, width: 700, height: 450,
      xaxis: { title: { text: 'Quantile (%)' }, range: [0, 100] }, yaxis: { title: { text: 'Average reward' } },
    },
  };
}

// ---------------------------------------------------------------- training curves

export type MetricsRecord = Record<string, unknown>;

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

/** The paper's training-curve panels (TensorBoard tags of trl 0.7) and their titles. */
export const DEFAULT_CURVE_KEYS: Record<string, string> = {
  'env/reward_mean': 'Environment reward',
  'ppo/returns/mean': 'Return over batch',
  'objective/kl': 'KL(π‖π_ref)',
  'objective/kl_coef': 'KL coefficient β',
  'objective/entropy': 'Entropy',
  'tokens/responses_len_mean': 'Response length',
  'risk/kept': 'Kept episodes (soft-risk)',
};

export interface CurveRun { name: string; records: MetricsRecord[] }
export interface TrainingCurvesOptions {
  /** metric keys to plot; default: DEFAULT_CURVE_KEYS present in any run, plus keys containing "kept" */
  keys?: string[];
  /** EMA factor (0.97 in the paper); 0 or undefined = raw only */
  smoothing?: number;
  /** x key (default "step"; falls back to the record index) */
  xKey?: string;
}

export function curveKeys(runs: readonly CurveRun[], keys?: string[]): string[] {
  if (keys && keys.length) return keys;
  const present = new Set(runs.flatMap((r) => r.records.flatMap((rec) => Object.keys(rec))));
  const chosen = Object.keys(DEFAULT_CURVE_KEYS).filter((k) => present.has(k));
  for (const k of present) if (/kept/i.test(k) && !chosen.includes(k)) chosen.push(k);
  return chosen;
}

/** One panel per metric key, one line per run (raw faint + EMA-smoothed when smoothing > 0). */
export function trainingCurvesFigure(runs: readonly CurveRun[], opts: TrainingCurvesOptions = {}): Figure {
  const keys = curveKeys(runs, opts.keys);
  if (keys.length === 0) throw new Error('training curves: none of the expected metric keys found in the metrics files');
  const cols = Math.min(3, keys.length);
  const rows = Math.ceil(keys.length / cols);
  const data: Record<string, unknown>[] = [];
  const layout: Record<string, unknown> = {
    title: { text: 'Training curves' }, grid: { rows, columns: cols, pattern: 'independent', ygap: 0.35 },
    width: 380 * cols, height: 300 * rows + 60, legend: { orientation: 'h', y: -0.08 },
  };
  const xKey = opts.xKey ?? 'step';
  keys.forEach((key, i) => {
    runs.forEach((run, j) => {
      const pts = run.records
        .map((rec, idx) => ({ x: typeof rec[xKey] === 'number' ? (rec[xKey] as number) : idx, y: rec[key] }))
        .filter((p): p is { x: number; y: number } => typeof p.y === 'number');
      const color = PALETTE[j % PALETTE.length];
      const xs = pts.map((p) => p.x);
      const ys = pts.map((p) => p.y);
      const smooth = opts.smoothing && opts.smoothing > 0;
      data.push({
        type: 'scatter', mode: 'lines', x: xs, y: ys, name: run.name, legendgroup: run.name, showlegend: i === 0 && !smooth,
        line: { color, width: smooth ? 1 : 2 }, opacity: smooth ? 0.3 : 1, xaxis: axisName('x', i), yaxis: axisName('y', i),
      });
      if (smooth) {
        data.push({
          type: 'scatter', mode: 'lines', x: xs, y: emaSmooth(ys, opts.smoothing), name: run.name, legendgroup: run.name,
          showlegend: i === 0, line: { color, width: 2 }, xaxis: axisName('x', i), yaxis: axisName('y', i),
        });
      }
    });
    layout[axisKey('x', i)] = { title: { text: xKey } };
    layout[axisKey('y', i)] = { title: { text: DEFAULT_CURVE_KEYS[key] ?? key } };
  });
  return { data, layout };
}

/** x-domain of panel i of n side by side, with a gap for the y-axis labels. */
function panelDomain(i: number, n: number): [number, number] {
  const gap = 0.2 / n;
  return [i / n + gap, (i + 1) / n];
}

function nullIfNaN(x: number): number | null { return Number.isNaN(x) ? null : x; }
