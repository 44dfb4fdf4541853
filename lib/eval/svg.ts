/**
 * A small browser-free SVG renderer for our own figure specs, so report.md still shows figures on
 * a machine without Chromium. It draws the subset of plotly the figure functions use: scatter
 * lines/markers (null = gap), 'tonexty' bands, bars, error bars, per-axis domains/ranges (insets,
 * panels), line/rect shapes, annotations, a title and a legend. It is not plotly: no autorange
 * subtleties, no hover, no categorical axes beyond "strings in order".
 */
import type { Figure } from './figures';
import { FONT, TITLE_SIZE } from './style';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Plotly's small HTML subset in titles -> plain text lines. */
function textLines(s: string): string[] {
  return s.split(/<br\s*\/?>/i).map((l) => l.replace(/<[^>]*>/g, '').trim()).filter(Boolean);
}

const n2 = (v: number) => (Math.round(v * 100) / 100).toString();

/** ~5 "nice" ticks (1, 2, 5 x 10^k) inside [lo, hi]. */
export function niceTicks(lo: number, hi: number, target = 5): number[] {
  const span = hi - lo;
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  // a constant series (12..12.000000000000002) is one tick: a step near 1e-16 would never reach hi
  if (!(span > 1e-9 * Math.max(Math.abs(lo), Math.abs(hi)))) return [lo];
  const raw = span / target;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
  const out: number[] = [];
  // integer multiples, not repeated addition: no 0.30000000000000004 labels
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) out.push(k === 0 ? 0 : +(k * step).toPrecision(12));
  return out;
}

function fmtTick(v: number, ticks: number[]): string {
  const step = ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) : 1;
  return v.toFixed(Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9))));
}

interface Axis { id: string; lo: number; hi: number; p0: number; p1: number; cats?: string[]; spec: Obj }

/** Axis ids used by the traces, e.g. "x", "x2"; layout key "xaxis", "xaxis2". */
const layoutKey = (id: string) => `${id[0]}axis${id.slice(1)}`;

function finite(xs: unknown[]): number[] { return xs.filter((v): v is number => typeof v === 'number' && Number.isFinite(v)); }

function buildAxes(fig: Figure, kind: 'x' | 'y', box: { l: number; r: number; t: number; b: number }): Map<string, Axis> {
  const axes = new Map<string, Axis>();
  const ids = new Set<string>(fig.data.map((d) => (d[`${kind}axis`] as string) ?? kind));
  for (const id of ids) {
    const spec = (fig.layout[layoutKey(id)] ?? {}) as Obj;
    const traces = fig.data.filter((d) => ((d[`${kind}axis`] as string) ?? kind) === id);
    const vals = traces.flatMap((d) => (d[kind] as unknown[]) ?? []);
    const cats = kind === 'x' && vals.some((v) => typeof v === 'string') ? [...new Set(vals.map(String))] : undefined;
    let lo: number;
    let hi: number;
    if (Array.isArray(spec.range)) [lo, hi] = spec.range as [number, number];
    else if (cats) [lo, hi] = [-0.5, cats.length - 0.5];
    else {
      const nums = finite(vals);
      // like plotly's autorange, data-referenced shapes count (e.g. the zero line of a difference plot)
      for (const sh of ((fig.layout.shapes as Obj[]) ?? [])) if ((sh[`${kind}ref`] ?? kind) === id) nums.push(...finite([sh[`${kind}0`], sh[`${kind}1`]]));
      if (kind === 'y') {
        for (const d of traces) {
          const e = d.error_y as Obj | undefined;
          const ys = (d.y as unknown[]) ?? [];
          if (e?.array) ys.forEach((y, i) => { if (typeof y === 'number') nums.push(y + e.array[i], y - (e.arrayminus ?? e.array)[i]); });
          if (d.type === 'bar') nums.push(0);
        }
      }
      lo = nums.length ? Math.min(...nums) : 0;
      hi = nums.length ? Math.max(...nums) : 1;
      const pad = (hi - lo || Math.abs(hi) || 1) * 0.05;
      [lo, hi] = [lo - pad, hi + pad];
    }
    const dom = (spec.domain as [number, number] | undefined) ?? [0, 1];
    const p0 = kind === 'x' ? box.l + dom[0] * (box.r - box.l) : box.b - dom[0] * (box.b - box.t);
    const p1 = kind === 'x' ? box.l + dom[1] * (box.r - box.l) : box.b - dom[1] * (box.b - box.t);
    axes.set(id, { id, lo, hi, p0, p1, cats, spec });
  }
  return axes;
}

function scale(a: Axis, v: unknown): number {
  const x = a.cats ? a.cats.indexOf(String(v)) : (v as number);
  return a.p0 + ((x - a.lo) / (a.hi - a.lo || 1)) * (a.p1 - a.p0);
}

/** Points of a trace in pixels; null where the value is missing (a gap). */
function pixels(d: Obj, xa: Axis, ya: Axis): ([number, number] | null)[] {
  const xs = (d.x as unknown[]) ?? [];
  const ys = (d.y as unknown[]) ?? [];
  return xs.map((x, i) => (typeof ys[i] === 'number' && Number.isFinite(ys[i] as number) && x !== null ? [scale(xa, x), scale(ya, ys[i])] : null));
}

function pathOf(pts: ([number, number] | null)[]): string {
  let s = '';
  let pen = false;
  for (const p of pts) {
    if (!p) { pen = false; continue; }
    s += `${pen ? 'L' : 'M'}${n2(p[0])} ${n2(p[1])}`;
    pen = true;
  }
  return s;
}

function text(x: number, y: number, s: string, o: { size?: number; anchor?: string; rotate?: boolean; weight?: string } = {}): string {
  const rot = o.rotate ? ` transform="rotate(-90 ${n2(x)} ${n2(y)})"` : '';
  return `<text x="${n2(x)}" y="${n2(y)}" font-size="${o.size ?? FONT.size}" text-anchor="${o.anchor ?? 'middle'}"${o.weight ? ` font-weight="${o.weight}"` : ''}${rot}>${xmlEscape(s)}</text>`;
}

function drawAxes(xs: Map<string, Axis>, ys: Map<string, Axis>, fig: Figure): string[] {
  const out: string[] = [];
  for (const xa of xs.values()) {
    const ya = ys.get((xa.spec.anchor as string) ?? 'y') ?? [...ys.values()][0];
    const size = (xa.spec.tickfont?.size as number) ?? FONT.size - 1;
    const [top, bottom] = [Math.min(ya.p0, ya.p1), Math.max(ya.p0, ya.p1)];
    out.push(`<rect x="${n2(xa.p0)}" y="${n2(top)}" width="${n2(xa.p1 - xa.p0)}" height="${n2(bottom - top)}" fill="white" stroke="#444"/>`);
    const xt = xa.cats ? xa.cats.map((_, i) => i) : niceTicks(xa.lo, xa.hi);
    for (const v of xt) {
      const px = xa.p0 + ((v - xa.lo) / (xa.hi - xa.lo || 1)) * (xa.p1 - xa.p0);
      out.push(`<line x1="${n2(px)}" x2="${n2(px)}" y1="${n2(top)}" y2="${n2(bottom)}" stroke="#e5e5e5"/>`);
      out.push(text(px, bottom + size + 4, xa.cats ? xa.cats[v] : fmtTick(v, xt), { size }));
    }
    const yt = niceTicks(ya.lo, ya.hi);
    for (const v of yt) {
      const py = scale(ya, v);
      out.push(`<line x1="${n2(xa.p0)}" x2="${n2(xa.p1)}" y1="${n2(py)}" y2="${n2(py)}" stroke="#e5e5e5"/>`);
      out.push(text(xa.p0 - 5, py + size / 3, fmtTick(v, yt), { size: (ya.spec.tickfont?.size as number) ?? size, anchor: 'end' }));
    }
    const xt0 = xa.spec.title?.text as string | undefined;
    if (xt0) out.push(text((xa.p0 + xa.p1) / 2, bottom + 2 * size + 14, textLines(xt0).join(' '), { size: FONT.size }));
    const yt0 = ya.spec.title?.text as string | undefined;
    if (yt0) out.push(text(xa.p0 - 52, (top + bottom) / 2, textLines(yt0).join(' '), { size: FONT.size, rotate: true }));
  }
  void fig;
  return out;
}

function drawTraces(fig: Figure, xs: Map<string, Axis>, ys: Map<string, Axis>): string[] {
  const out: string[] = [];
  let prev: ([number, number] | null)[] | null = null;
  for (const d of fig.data as Obj[]) {
    const xa = xs.get(d.xaxis ?? 'x')!;
    const ya = ys.get(d.yaxis ?? 'y')!;
    const color = (d.line?.color ?? d.marker?.color ?? '#1f77b4') as string;
    const pts = pixels(d, xa, ya);
    const parts: string[] = [];
    if (d.type === 'bar') {
      const w = Math.abs(scale(xa, (d.width as number) ?? 1) - scale(xa, 0));
      const y0 = scale(ya, Math.max(ya.lo, 0));
      for (const p of pts) if (p) parts.push(`<rect x="${n2(p[0] - w / 2)}" y="${n2(Math.min(p[1], y0))}" width="${n2(w)}" height="${n2(Math.abs(y0 - p[1]))}"/>`);
      out.push(`<g class="trace bar" data-name="${xmlEscape(String(d.name ?? ''))}" fill="${color}" fill-opacity="${d.opacity ?? 1}" clip-path="url(#clip-${xa.id}-${ya.id})">${parts.join('')}</g>`);
      prev = pts;
      continue;
    }
    if (d.fill === 'tonexty' && prev) {
      const a = pts.filter((p): p is [number, number] => !!p);
      const b = prev.filter((p): p is [number, number] => !!p).reverse();
      if (a.length && b.length) parts.push(`<path d="${pathOf([...a, ...b])}Z" fill="${d.fillcolor ?? color}" stroke="none"/>`);
    }
    const width = (d.line?.width as number | undefined) ?? 2;
    const mode = String(d.mode ?? 'lines');
    if (mode.includes('lines') && width > 0) parts.push(`<path d="${pathOf(pts)}" fill="none" stroke="${color}" stroke-width="${width}" stroke-linejoin="round"/>`);
    if (mode.includes('markers')) {
      const e = d.error_y as Obj | undefined;
      pts.forEach((p, i) => {
        if (!p) return;
        if (e?.array) {
          const y = (d.y as number[])[i];
          parts.push(`<line x1="${n2(p[0])}" x2="${n2(p[0])}" y1="${n2(scale(ya, y + e.array[i]))}" y2="${n2(scale(ya, y - (e.arrayminus ?? e.array)[i]))}" stroke="${color}" stroke-width="1.5"/>`);
        }
        parts.push(`<circle cx="${n2(p[0])}" cy="${n2(p[1])}" r="${((d.marker?.size as number) ?? 7) / 2}" fill="${color}"/>`);
      });
    }
    out.push(`<g class="trace" data-name="${xmlEscape(String(d.name ?? ''))}" clip-path="url(#clip-${xa.id}-${ya.id})">${parts.join('')}</g>`);
    prev = pts;
  }
  return out;
}

function drawShapes(fig: Figure, xs: Map<string, Axis>, ys: Map<string, Axis>, box: { l: number; r: number; t: number; b: number }): string[] {
  const px = (ref: string, v: number, kind: 'x' | 'y') => {
    if (ref === 'paper') return kind === 'x' ? box.l + v * (box.r - box.l) : box.b - v * (box.b - box.t);
    const a = (kind === 'x' ? xs : ys).get(ref);
    return a ? scale(a, v) : NaN;
  };
  const out: string[] = [];
  for (const s of ((fig.layout.shapes as Obj[]) ?? [])) {
    const [x0, x1] = [px(s.xref ?? 'x', s.x0, 'x'), px(s.xref ?? 'x', s.x1, 'x')];
    const [y0, y1] = [px(s.yref ?? 'y', s.y0, 'y'), px(s.yref ?? 'y', s.y1, 'y')];
    if (![x0, x1, y0, y1].every(Number.isFinite)) continue;
    const stroke = `stroke="${s.line?.color ?? '#333'}" stroke-width="${s.line?.width ?? 1}"${s.line?.dash ? ' stroke-dasharray="6 4"' : ''}`;
    out.push(s.type === 'rect'
      ? `<rect x="${n2(Math.min(x0, x1))}" y="${n2(Math.min(y0, y1))}" width="${n2(Math.abs(x1 - x0))}" height="${n2(Math.abs(y1 - y0))}" fill="none" ${stroke}/>`
      : `<line x1="${n2(x0)}" x2="${n2(x1)}" y1="${n2(y0)}" y2="${n2(y1)}" ${stroke}/>`);
  }
  for (const a of ((fig.layout.annotations as Obj[]) ?? [])) {
    const x = px(a.xref ?? 'paper', a.x, 'x');
    const y = px(a.yref ?? 'paper', a.y, 'y');
    if (Number.isFinite(x) && Number.isFinite(y)) out.push(text(x, y - 4, textLines(String(a.text)).join(' '), { size: a.font?.size ?? FONT.size - 1, anchor: a.xanchor === 'right' ? 'end' : a.xanchor === 'left' ? 'start' : 'middle' }));
  }
  return out;
}

/** Legend entries (one per name) in rows along the bottom. */
function drawLegend(fig: Figure, W: number, H: number): string[] {
  const seen = new Set<string>();
  const items = (fig.data as Obj[]).filter((d) => d.name && d.showlegend !== false && !seen.has(d.name) && seen.add(d.name));
  const out: string[] = [];
  let x = 20;
  let y = H - 14 - 22 * (Math.ceil(items.reduce((w, d) => w + 40 + 8 * String(d.name).length, 0) / (W - 40)) - 1);
  for (const d of items) {
    const w = 40 + 8 * String(d.name).length;
    if (x + w > W - 20) { x = 20; y += 22; }
    const color = d.fillcolor && !(d.line?.width > 0) ? d.fillcolor : (d.line?.color ?? d.marker?.color ?? '#1f77b4');
    out.push(`<rect x="${x}" y="${n2(y - 9)}" width="22" height="8" fill="${color}"/>`, text(x + 28, y, String(d.name), { anchor: 'start' }));
    x += w;
  }
  return out;
}

/** The figure as a standalone SVG document. */
export function figureToSvgFallback(fig: Figure): string {
  const W = (fig.layout.width as number) ?? 800;
  const H = (fig.layout.height as number) ?? 450;
  const m = (fig.layout.margin ?? {}) as Obj;
  const box = { l: m.l ?? 80, r: W - (m.r ?? 30), t: m.t ?? 70, b: H - (m.b ?? 90) };
  const xs = buildAxes(fig, 'x', box);
  const ys = buildAxes(fig, 'y', box);
  const clips = [...new Set((fig.data as Obj[]).map((d) => `${d.xaxis ?? 'x'} ${d.yaxis ?? 'y'}`))].map((k) => {
    const [xa, ya] = k.split(' ').map((id, i) => (i ? ys : xs).get(id)!);
    return `<clipPath id="clip-${xa.id}-${ya.id}"><rect x="${n2(xa.p0)}" y="${n2(Math.min(ya.p0, ya.p1))}" width="${n2(xa.p1 - xa.p0)}" height="${n2(Math.abs(ya.p1 - ya.p0))}"/></clipPath>`;
  });
  const title = textLines(String((fig.layout.title as Obj | undefined)?.text ?? ''));
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="${FONT.family}" fill="${FONT.color}">`,
    `<defs>${clips.join('')}</defs>`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    ...title.map((l, i) => text(W / 2, 28 + i * 20, l, { size: i ? FONT.size - 1 : TITLE_SIZE, weight: i ? undefined : 'bold' })),
    ...drawAxes(xs, ys, fig),
    ...drawTraces(fig, xs, ys),
    ...drawShapes(fig, xs, ys, box),
    ...drawLegend(fig, W, H),
    `</svg>`,
    '',
  ].join('\n');
}
