/**
 * Training curves over seeds: one panel per metric, one seed-mean line ± std band per algorithm
 * (runs named "<algo> seed <n>" are grouped by `curveGroup`), colours and names from style.ts.
 */
import { curveGroup, debiasedEma, seedBand } from './curves';
import { axisStyle, baseLayout, displayName, figureColors, FONT, withAlpha } from './style';
import type { Figure } from './style';

export type MetricsRecord = Record<string, unknown>;
export interface CurveRun { name: string; records: MetricsRecord[]; /** algorithm/arm; default curveGroup(name) */ group?: string }

/**
 * The paper's panels (trl 0.7 TensorBoard tags) and their titles. `objective/kl` and
 * `objective/entropy` sum over the kept episodes and divide by the batch size (the authors'
 * code), so under RA-RLHF they shrink with the kept fraction; the *_all keys are full-batch means.
 */
export const DEFAULT_CURVE_KEYS: Record<string, string> = {
  'env/reward_mean': 'Environment reward',
  'ppo/returns/mean': 'Return over batch',
  'objective/kl_all': 'KL(π‖π_ref), full batch',
  'objective/kl': 'KL(π‖π_ref), kept episodes only',
  'objective/kl_coef': 'KL coefficient β',
  'objective/entropy_all': 'Entropy, full batch',
  'objective/entropy': 'Entropy, kept episodes only',
  'tokens/responses_len_mean': 'Response length',
  'risk/kept': 'Kept episodes (raw)',
};

/** Deterministic schedules: smoothing them would only blur the steps of the schedule. */
const RAW_NAMES: Record<string, string> = { 'risk/kept': 'kept-episode count', 'risk/alpha_n': 'α schedule' };
export const RAW_KEYS: ReadonlySet<string> = new Set(Object.keys(RAW_NAMES));

export interface TrainingCurvesOptions {
  /** metric keys to plot; default: DEFAULT_CURVE_KEYS present in any run, plus keys containing "kept" */
  keys?: string[];
  /** bias-corrected EMA weight (0.97 in the paper); 0 or undefined = raw */
  smoothing?: number;
  /** x key (default "step"; falls back to the record index) */
  xKey?: string;
  title?: string;
}

/** Drop kept-only KL/entropy where the full-batch key is logged too (one panel, the honest one). */
export function preferFullBatch(keys: readonly string[], present: ReadonlySet<string>): string[] {
  return keys.filter((k) => !(present.has(`${k}_all`) && (k === 'objective/kl' || k === 'objective/entropy')));
}

function presentKeys(runs: readonly CurveRun[]): Set<string> {
  return new Set(runs.flatMap((r) => r.records.flatMap((rec) => Object.keys(rec).filter((k) => typeof rec[k] === 'number'))));
}

export function curveKeys(runs: readonly CurveRun[], keys?: string[]): string[] {
  if (keys && keys.length) return keys;
  const present = presentKeys(runs);
  const chosen = preferFullBatch(Object.keys(DEFAULT_CURVE_KEYS), present).filter((k) => present.has(k));
  for (const k of present) if (/kept/i.test(k) && !chosen.includes(k)) chosen.push(k);
  return chosen;
}

export function curveLabel(key: string): string { return DEFAULT_CURVE_KEYS[key] ?? key; }

function axisName(kind: 'x' | 'y', i: number): string { return i === 0 ? kind : `${kind}${i + 1}`; }
function axisKey(kind: 'x' | 'y', i: number): string { return i === 0 ? `${kind}axis` : `${kind}axis${i + 1}`; }

/** Explicit panel domains (not layout.grid) so the browser-free SVG renderer places them too. */
function gridDomains(i: number, rows: number, cols: number): { x: [number, number]; y: [number, number] } {
  const r = Math.floor(i / cols);
  const c = i % cols;
  const gx = 0.09;
  const gy = 0.16;
  return {
    x: [c / cols + gx * 0.7, (c + 1) / cols - gx * 0.3],
    y: [1 - (r + 1) / rows + gy * 0.6, 1 - r / rows - gy * 0.4],
  };
}

/** Runs grouped by algorithm in first-seen order. */
function groups(runs: readonly CurveRun[]): [string, CurveRun[]][] {
  const m = new Map<string, CurveRun[]>();
  for (const r of runs) {
    const g = r.group ?? curveGroup(r.name);
    m.set(g, [...(m.get(g) ?? []), r]);
  }
  return [...m.entries()];
}

export function trainingCurvesFigure(runs: readonly CurveRun[], opts: TrainingCurvesOptions = {}): Figure {
  const keys = curveKeys(runs, opts.keys);
  if (keys.length === 0) throw new Error('training curves: none of the expected metric keys found in the metrics files');
  const w = opts.smoothing && opts.smoothing > 0 ? opts.smoothing : 0;
  const xKey = opts.xKey ?? 'step';
  const cols = Math.min(3, keys.length);
  const rows = Math.ceil(keys.length / cols);
  const grouped = groups(runs);
  const maxSeeds = Math.max(...grouped.map(([, rs]) => rs.length));
  const how = [
    maxSeeds > 1 ? 'seed mean ± std' : 'one seed',
    w ? `EMA ${w}, bias-corrected` : 'raw',
    ...(w ? keys.filter((k) => RAW_KEYS.has(k)).map((k) => `${RAW_NAMES[k]} unsmoothed`) : []),
  ].join('; ');
  const data: Record<string, unknown>[] = [];
  const layout: Record<string, unknown> = {
    title: { text: opts.title ?? `Training curves (${how})` },
    width: 420 * cols, height: 320 * rows + 90, margin: { t: 70, b: 70 },
    legend: { orientation: 'h', y: -0.1 / rows, x: 0.5, xanchor: 'center' },
  };
  const groupColor = figureColors(grouped.map(([g]) => g));
  const inLegend = new Set<string>(); // each algorithm once, in the first panel that has it
  keys.forEach((key, i) => {
    const xa = axisName('x', i);
    const ya = axisName('y', i);
    const smooth = w > 0 && !RAW_KEYS.has(key);
    grouped.forEach(([g, rs]) => {
      const color = groupColor(g);
      const series = rs.map((run) => {
        const pts = run.records
          .map((rec, idx) => ({ x: typeof rec[xKey] === 'number' ? (rec[xKey] as number) : idx, y: rec[key] }))
          .filter((p): p is { x: number; y: number } => typeof p.y === 'number');
        const ys = pts.map((p) => p.y);
        return { x: pts.map((p) => p.x), y: smooth ? debiasedEma(ys, w) : ys };
      });
      const band = seedBand(series);
      if (band.x.length === 0) return;
      const name = `${displayName(g)}${rs.length > 1 ? ` (${rs.length} seeds)` : ''}`;
      if (Math.max(...band.n) > 1) {
        // lower edge (invisible), then the upper edge filled down to it ('tonexty'): the ± std band
        const common = { type: 'scatter', mode: 'lines', x: band.x, legendgroup: g, showlegend: false, hoverinfo: 'skip', xaxis: xa, yaxis: ya };
        data.push({ ...common, y: band.mean.map((m, j) => m - band.std[j]), line: { width: 0, color } });
        data.push({ ...common, y: band.mean.map((m, j) => m + band.std[j]), line: { width: 0, color }, fill: 'tonexty', fillcolor: withAlpha(color, 0.2) });
      }
      data.push({
        type: 'scatter', mode: 'lines', x: band.x, y: band.mean, name, legendgroup: g, showlegend: !inLegend.has(g),
        line: { color, width: 2.5 }, xaxis: xa, yaxis: ya,
      });
      inLegend.add(g);
    });
    const dom = gridDomains(i, rows, cols);
    layout[axisKey('x', i)] = axisStyle({ domain: dom.x, anchor: ya, title: { text: xKey === 'step' ? 'PPO step' : xKey, font: { size: FONT.size } } });
    layout[axisKey('y', i)] = axisStyle({ domain: dom.y, anchor: xa, title: { text: curveLabel(key) + (smooth ? ` (EMA ${w})` : ''), font: { size: FONT.size } } });
  });
  return { data, layout: baseLayout(layout) };
}
