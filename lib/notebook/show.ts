/**
 * Figures in notebooks: a PNG through headless Chromium where it is installed, else the plotly
 * figure itself as inline HTML (interactive in Jupyter; it embeds plotly.js, so a saved notebook
 * grows by a few MB per figure). Returns what tslab's `display` should be given.
 */
import type { Figure } from '../eval/figures';
import { figureDiv, figureToPng, plotlyScriptTag } from '../eval/render';

export type Shown = { png: Buffer } | { html: string };

let plotlyLoaded = false;
let counter = 0;

export async function figureForDisplay(fig: Figure, opts: { scale?: number } = {}): Promise<Shown> {
  const png = await figureToPng(fig, { scale: opts.scale ?? 2 });
  if (png) return { png };
  // Load plotly.js once per kernel; later figures reuse the page's global Plotly.
  const head = plotlyLoaded ? '' : plotlyScriptTag('inline', '.');
  plotlyLoaded = true;
  return { html: head + figureDiv(fig, `rarlhf-fig-${++counter}`) };
}

/** Display through tslab: `await showFigure(tslab.display, fig)`. */
export async function showFigure(display: { png(b: Uint8Array): void; html(s: string): void }, fig: Figure): Promise<void> {
  const s = await figureForDisplay(fig);
  if ('png' in s) display.png(s.png); else display.html(s.html);
}
