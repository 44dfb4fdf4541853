/**
 * Figure output: self-contained HTML (plotly inlined, or one plotly.min.js copied beside the
 * pages) and PNG through headless Chromium (playwright-core + Plotly.toImage).
 *
 * One browser per process, started lazily on the first PNG and closed by `closeRenderer()` or
 * after `idleCloseMs` without renders (a live browser pipe would otherwise keep Node running).
 * No Chromium -> PNG functions return null after one warning; nothing throws.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { Figure } from './figures';
import { escapeHtml } from './tables';

export function plotlyBundlePath(): string {
  return require.resolve('plotly.js-dist-min');
}

/** JSON safe inside <script>: no "</script>" can close the tag early. */
function scriptJson(x: unknown): string {
  return JSON.stringify(x).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** A <div> + script that draws the figure; needs Plotly loaded on the page. */
export function figureDiv(fig: Figure, id: string): string {
  return `<div id="${escapeHtml(id)}"></div>\n<script>Plotly.newPlot(${JSON.stringify(id)}, ${scriptJson(fig.data)}, ${scriptJson(fig.layout)}, {responsive: true});</script>`;
}

export type PlotlyMode = 'inline' | 'beside';

/**
 * `<script>` that loads Plotly. 'inline' embeds the 4.8 MB bundle (one self-contained file);
 * 'beside' copies plotly.min.js into `dir` once and references it (a run folder stays
 * self-contained with one copy for all pages).
 */
export function plotlyScriptTag(mode: PlotlyMode, dir: string): string {
  if (mode === 'inline') return `<script>${fs.readFileSync(plotlyBundlePath(), 'utf8').replace(/<\/script/gi, '<\\/script')}</script>`;
  const dest = path.join(dir, 'plotly.min.js');
  if (!fs.existsSync(dest) || fs.statSync(dest).size !== fs.statSync(plotlyBundlePath()).size) {
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(plotlyBundlePath(), dest);
  }
  return '<script src="plotly.min.js"></script>';
}

export function htmlPage(title: string, head: string, body: string): string {
  return `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>\n${head}\n<style>
body{font-family:system-ui,sans-serif;margin:2em;} table{border-collapse:collapse;margin:1em 0;}
th,td{border:1px solid #ccc;padding:4px 10px;text-align:right;} th[scope=row],thead th{text-align:left;background:#f5f5f5;}
</style></head>\n<body>\n${body}\n</body></html>\n`;
}

/** Write one figure as an HTML page; returns the path. */
export function writeFigureHtml(file: string, fig: Figure, mode: PlotlyMode = 'beside', title = 'figure'): string {
  const dir = path.dirname(path.resolve(file));
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(file, htmlPage(title, plotlyScriptTag(mode, dir), figureDiv(fig, 'fig')));
  return file;
}

// ---------------------------------------------------------------- PNG via Chromium

/**
 * Rendering needs no network, and Chromium should try none: --disable-background-networking alone
 * still let it resolve update.googleapis.com / accounts.google.com (9+ DNS queries). Every host
 * name now maps to "not found" inside Chromium (127.0.0.1 is left as it is), so no DNS query and
 * no outside TCP connect happens; pings and domain reliability reports are off too. Left: the
 * host resolver's IPv6 reachability check, a UDP connect() to 2001:4860:4860::8888 that sends no
 * packet (the kernel only picks a route); no Chromium flag removes it. No --disable-features here:
 * Chromium keeps only the last one, which would drop playwright's own list.
 * test/render-offline.test.ts traces the browser's socket calls and fails on anything else.
 */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--no-first-run', '--disable-sync',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1', '--no-pings', '--disable-domain-reliability',
  '--dns-prefetch-disable', '--disable-client-side-phishing-detection', '--disable-default-apps', '--disable-extensions',
  '--no-default-browser-check', '--disable-breakpad', '--metrics-recording-only', '--safebrowsing-disable-auto-update'];

/**
 * Chromium to drive: $RARLHF_CHROMIUM when set (only that one, so it can also switch PNGs off),
 * else the usual Debian/Ubuntu paths; null if none exists.
 */
export function chromiumPath(): string | null {
  const env = process.env.RARLHF_CHROMIUM;
  const candidates = env ? [env] : ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
  for (const c of candidates) if (fs.existsSync(c)) return c;
  return null;
}

let browser: Browser | null = null;
let page: Promise<Page | null> | null = null;
let idleTimer: NodeJS.Timeout | null = null;
let warned = false;
let idleCloseMs = 15_000;

/** How long an unused browser stays open before it closes itself (default 15 s). */
export function setIdleCloseMs(ms: number): void { idleCloseMs = ms; }

function warnOnce(msg: string): void {
  if (!warned) { console.warn(`rarlhf: ${msg}; PNG figures skipped (HTML still written)`); warned = true; }
}

async function openPage(): Promise<Page | null> {
  const exe = chromiumPath();
  if (!exe) { warnOnce('Chromium not found (install: apt-get install -y --no-install-recommends chromium, or set RARLHF_CHROMIUM)'); return null; }
  try {
    const { chromium } = require('playwright-core') as typeof import('playwright-core');
    browser = await chromium.launch({ executablePath: exe, args: CHROMIUM_ARGS });
    const p = await browser.newPage();
    await p.setContent('<!DOCTYPE html><html><body></body></html>');
    await p.addScriptTag({ path: plotlyBundlePath() });
    return p;
  } catch (e) {
    warnOnce(`could not start Chromium at ${exe} (${(e as Error).message.split('\n')[0]})`);
    await browser?.close().catch(() => undefined);
    browser = null;
    return null;
  }
}

/** True when a PNG can be rendered (starts the browser if needed). */
export async function pngAvailable(): Promise<boolean> {
  page ??= openPage();
  return (await page) !== null;
}

/**
 * Render a figure to PNG bytes (for files, or tslab's `display.png(bytes)`); null without Chromium.
 * Width/height default to the figure's layout size.
 */
export async function figureToPng(fig: Figure, opts: { width?: number; height?: number; scale?: number } = {}): Promise<Buffer | null> {
  page ??= openPage();
  const p = await page;
  if (!p) return null;
  if (idleTimer) clearTimeout(idleTimer);
  const width = opts.width ?? (fig.layout.width as number | undefined) ?? 800;
  const height = opts.height ?? (fig.layout.height as number | undefined) ?? 450;
  const url = await p.evaluate(
    async ({ f, w, h, s }) => {
      const Plotly = (globalThis as unknown as { Plotly: { toImage(f: unknown, o: unknown): Promise<string> } }).Plotly;
      return Plotly.toImage({ data: f.data, layout: f.layout }, { format: 'png', width: w, height: h, scale: s });
    },
    { f: fig, w: width, h: height, s: opts.scale ?? 1 },
  );
  idleTimer = setTimeout(() => { void closeRenderer(); }, idleCloseMs);
  idleTimer.unref?.();
  return Buffer.from(url.slice(url.indexOf(',') + 1), 'base64');
}

/** Write `<file>` as PNG; returns false (and writes nothing) without Chromium. */
export async function writeFigurePng(file: string, fig: Figure, opts: { width?: number; height?: number; scale?: number } = {}): Promise<boolean> {
  const png = await figureToPng(fig, opts);
  if (!png) return false;
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.writeFileSync(file, png);
  return true;
}

/** Close the shared browser (call at the end of a CLI command or test). */
export async function closeRenderer(): Promise<void> {
  if (idleTimer) { clearTimeout(idleTimer); idleTimer = null; }
  const b = browser;
  browser = null;
  page = null;
  if (b) await b.close().catch(() => undefined);
}
