/**
 * One look for every figure: the paper's display names, one colour per model (the same in every
 * figure, so RA-RLHF is never blue in one plot and red in the next; other names keep a colour across
 * the figures that show the same models, distinct within each) and readable font sizes.
 * Pure data + tiny helpers; figures.ts / training-figures.ts apply them.
 */

/** Internal ids -> the paper's names. Keys are canonical ids (see `canonicalId`). */
const DISPLAY: Record<string, string> = { gpt2: 'GPT2', sft: 'SFT', rlhf: 'RLHF', ra_rlhf: 'RA-RLHF' };

/** Fixed colours of the paper's four models (tab10: grey, green, blue, red). */
const MODEL_COLORS: Record<string, string> = { gpt2: '#7f7f7f', sft: '#2ca02c', rlhf: '#1f77b4', ra_rlhf: '#d62728' };

/** Colours for any other name (study arms such as "RA random"); none of the four above. */
export const EXTRA_PALETTE = ['#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#393b79', '#637939', '#ad494a', '#7b4173'];

/** Histogram class colours: distinct from the model colours, since bars are split by class, not model. */
export const CLASS_PALETTE = ['#4c9f9f', '#e6a23c', '#8e6bbf', '#b5b5b5'];

export const FONT = { family: 'Arial, Helvetica, sans-serif', size: 14, color: '#222' };
export const TITLE_SIZE = 18;
export const INSET_TICK_SIZE = 11;

/** "RA-RLHF", "ra-rlhf", "ra_rlhf" -> "ra_rlhf"; anything else lower-cased and trimmed. */
export function canonicalId(name: string): string {
  return name.trim().toLowerCase().replace(/[-\s]+/g, '_');
}

/** The paper's name for a model id; unknown names are shown as given. */
export function displayName(name: string): string {
  return DISPLAY[canonicalId(name)] ?? name;
}

/** FNV-1a: a stable hash, so an arm keeps its colour across runs and figures. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** The model's colour: fixed for the paper's models, else picked from EXTRA_PALETTE by name. */
export function modelColor(name: string): string {
  return MODEL_COLORS[canonicalId(name)] ?? EXTRA_PALETTE[hash(canonicalId(name)) % EXTRA_PALETTE.length];
}

/**
 * The colours of one figure's models: `modelColor`'s, except that two names outside the paper's four
 * never share a colour (a name whose hashed slot is taken gets the next free one). Names are placed in
 * sorted order, so the colours depend on which models a figure shows, not on the order of its traces.
 */
export function figureColors(names: Iterable<string>): (name: string) => string {
  const extra = new Map<string, string>();
  const taken = new Set<number>();
  for (const id of [...new Set([...names].map(canonicalId))].sort()) {
    if (Object.hasOwn(MODEL_COLORS, id)) continue;
    let k = hash(id) % EXTRA_PALETTE.length;
    for (let i = 0; i < EXTRA_PALETTE.length && taken.has(k); i++) k = (k + 1) % EXTRA_PALETTE.length;
    taken.add(k); // with more names than colours, the last ones share
    extra.set(id, EXTRA_PALETTE[k]);
  }
  return (name) => extra.get(canonicalId(name)) ?? modelColor(name);
}

/** "#rrggbb" -> "rgba(r,g,b,a)" for seed bands and bootstrap bands. */
export function withAlpha(hex: string, alpha: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${alpha})`;
}

/** Axis defaults: readable ticks, light grid, a frame line (white template, print-friendly). */
export function axisStyle(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    showline: true, linecolor: '#444', mirror: true, ticks: 'outside', gridcolor: '#e5e5e5', zeroline: false,
    tickfont: { size: FONT.size - 1 }, ...extra,
  };
}

/** Base layout every figure starts from; `layout` keys win. */
export function baseLayout(layout: Record<string, unknown>): Record<string, unknown> {
  const title = layout.title as { text?: string } | undefined;
  return {
    font: FONT, paper_bgcolor: 'white', plot_bgcolor: 'white',
    legend: { font: { size: FONT.size } },
    ...layout,
    title: title ? { ...title, font: { size: TITLE_SIZE } } : undefined,
  };
}

/** A plotly figure spec (plain JSON); every figure module builds these. */
export interface Figure { data: Record<string, unknown>[]; layout: Record<string, unknown> }
