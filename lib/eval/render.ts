/**
 * Figure output: self-contained HTML (plotly inlined, or one plotly.min.js copied beside the
 * pages), PNG (scale 2) and SVG through headless Chromium (playwright-core + Plotly.toImage), and
 * without Chromium an SVG from the small renderer in svg.ts, so reports always have an image.
 *
 * One browser per process, started lazily on the first PNG and closed by `closeRenderer()` or
 * after `idleCloseMs` without renders (a live browser pipe would otherwise keep Node running).
 * Chromium runs in an empty network namespace of its own where the machine allows one (see
 * `chromiumNetIsolation`). No Chromium -> PNG functions return null after one warning; nothing throws.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { Figure } from './figures';
import { figureToSvgFallback } from './svg';
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
 * First layer (see `chromiumNetIsolation`): Chromium starts inside a network namespace of its own
 * that holds only a loopback interface, down, so no socket call can reach anything outside it.
 * Second layer, and the only one where no namespace can be made: these flags.
 * Rendering needs no network, and Chromium should try none: --disable-background-networking alone
 * still let it resolve update.googleapis.com / accounts.google.com (9+ DNS queries). Every host
 * name now maps to "not found" inside Chromium (127.0.0.1 is left as it is), so no DNS query and
 * no outside TCP connect happens; pings and domain reliability reports are off too. Left: the
 * host resolver's IPv6 reachability check, a UDP connect() to 2001:4860:4860::8888 that sends no
 * packet (the kernel only picks a route); no Chromium flag removes it. Inside the namespace the
 * kernel has no route for it and fails the call (EADDRNOTAVAIL / ENETUNREACH).
 * No --disable-features here: Chromium keeps only the last one, which would drop playwright's own list.
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

/**
 * How Chromium is kept off the network: 'netns' (`unshare -n`, as root), 'netns-user'
 * (`unshare -rn`: a user namespace first, for other users) or 'flags' (no namespace could be made:
 * Chromium's offline flags only, said once on stderr). Probed once per process by running
 * `unshare -n true` / `unshare -rn true`; RARLHF_CHROMIUM_NETNS=0 forces 'flags' (silently).
 */
export type NetIsolation = 'netns' | 'netns-user' | 'flags';

/** Execs the real Chromium (same pid, same playwright pipes) inside the new namespace. */
export const NETNS_WRAPPER = path.resolve(__dirname, '../../scripts/chromium-netns.sh');

type Isolation = { mode: NetIsolation; unshare?: string; flags?: string };
let isolation: Isolation | null = null;
let isolationNoted = false;

function probeIsolation(): Isolation {
  if (process.env.RARLHF_CHROMIUM_NETNS === '0' || process.platform !== 'linux') return { mode: 'flags' };
  const unshare = ['/usr/bin/unshare', '/bin/unshare'].find((p) => fs.existsSync(p));
  if (!unshare) return { mode: 'flags' };
  try { fs.accessSync(NETNS_WRAPPER, fs.constants.X_OK); } catch { return { mode: 'flags' }; }
  const tries: [NetIsolation, string][] = process.getuid?.() === 0 ? [['netns', '-n'], ['netns-user', '-rn']] : [['netns-user', '-rn']];
  for (const [mode, flags] of tries) {
    if (spawnSync(unshare, [flags, 'true'], { stdio: 'ignore', timeout: 10_000 }).status === 0) return { mode, unshare, flags };
  }
  return { mode: 'flags' };
}

/** The isolation Chromium gets (probed once per process, then cached). */
export function chromiumNetIsolation(): NetIsolation {
  isolation ??= probeIsolation();
  return isolation.mode;
}

function noteNoNamespace(): void {
  if (isolationNoted || process.env.RARLHF_CHROMIUM_NETNS === '0') return;
  isolationNoted = true;
  console.error("[rarlhf] figures: no network namespace available; rendering with Chromium's offline flags");
}

/** playwright launch options: through the namespace wrapper unless `plain`. */
function launchOptions(exe: string, plain: boolean): { executablePath: string; args: string[]; env?: NodeJS.ProcessEnv } {
  const iso = isolation ??= probeIsolation();
  if (plain || iso.mode === 'flags') return { executablePath: exe, args: CHROMIUM_ARGS };
  return {
    executablePath: NETNS_WRAPPER, args: CHROMIUM_ARGS,
    env: { ...process.env, RARLHF_NETNS_UNSHARE: iso.unshare, RARLHF_NETNS_FLAGS: iso.flags, RARLHF_NETNS_CHROMIUM: exe },
  };
}

let browser: Browser | null = null;
let page: Promise<Page | null> | null = null;
let idleTimer: NodeJS.Timeout | null = null;
let warned = false;
let idleCloseMs = 15_000;

/** How long an unused browser stays open before it closes itself (default 15 s). */
export function setIdleCloseMs(ms: number): void { idleCloseMs = ms; }

function warnOnce(msg: string): void {
  if (!warned) { console.warn(`rarlhf: ${msg}; PNG figures skipped (HTML and a browser-free SVG still written)`); warned = true; }
}

async function openPage(): Promise<Page | null> {
  const exe = chromiumPath();
  if (!exe) { warnOnce('Chromium not found (install: apt-get install -y --no-install-recommends chromium, or set RARLHF_CHROMIUM)'); return null; }
  const { chromium } = require('playwright-core') as typeof import('playwright-core');
  const start = async (plain: boolean): Promise<Page> => {
    try {
      browser = await chromium.launch(launchOptions(exe, plain));
      const p = await browser.newPage();
      await p.setContent('<!DOCTYPE html><html><body></body></html>');
      await p.addScriptTag({ path: plotlyBundlePath() });
      return p;
    } catch (e) {
      await browser?.close().catch(() => undefined);
      browser = null;
      throw e;
    }
  };
  if (chromiumNetIsolation() !== 'flags') {
    try { return await start(false); } catch (e) {
      isolation = { mode: 'flags' }; // a namespace could be made, but Chromium did not start inside it
      isolationNoted = true;
      console.error(`[rarlhf] figures: Chromium did not start inside a network namespace (${(e as Error).message.split('\n')[0]}); retrying with Chromium's offline flags only`);
    }
  }
  noteNoNamespace();
  try {
    return await start(true);
  } catch (e) {
    warnOnce(`could not start Chromium at ${exe} (${(e as Error).message.split('\n')[0]})`);
    return null;
  }
}

/** True when a PNG can be rendered (starts the browser if needed). */
export async function pngAvailable(): Promise<boolean> {
  page ??= openPage();
  return (await page) !== null;
}

type ImageOpts = { width?: number; height?: number; scale?: number };

/** Plotly.toImage in the shared page; null without Chromium. */
async function plotlyImage(fig: Figure, format: 'png' | 'svg', opts: ImageOpts): Promise<string | null> {
  page ??= openPage();
  const p = await page;
  if (!p) return null;
  if (idleTimer) clearTimeout(idleTimer);
  const width = opts.width ?? (fig.layout.width as number | undefined) ?? 800;
  const height = opts.height ?? (fig.layout.height as number | undefined) ?? 450;
  const url = await p.evaluate(
    async ({ f, fmt, w, h, s }) => {
      const Plotly = (globalThis as unknown as { Plotly: { toImage(f: unknown, o: unknown): Promise<string> } }).Plotly;
      return Plotly.toImage({ data: f.data, layout: f.layout }, { format: fmt, width: w, height: h, scale: s });
    },
    { f: fig, fmt: format, w: width, h: height, s: opts.scale ?? 1 },
  );
  idleTimer = setTimeout(() => { void closeRenderer(); }, idleCloseMs);
  idleTimer.unref?.();
  return url;
}

/**
 * Render a figure to PNG bytes (for files, or tslab's `display.png(bytes)`); null without Chromium.
 * Width/height default to the figure's layout size.
 */
export async function figureToPng(fig: Figure, opts: ImageOpts = {}): Promise<Buffer | null> {
  const url = await plotlyImage(fig, 'png', opts);
  return url === null ? null : Buffer.from(url.slice(url.indexOf(',') + 1), 'base64');
}

/** Write `<file>` as PNG (scale 2 unless given: sharp in papers and on HiDPI); false without Chromium. */
export async function writeFigurePng(file: string, fig: Figure, opts: ImageOpts = {}): Promise<boolean> {
  const png = await figureToPng(fig, { scale: 2, ...opts });
  if (!png) return false;
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.writeFileSync(file, png);
  return true;
}

export type SvgRenderer = 'plotly' | 'builtin';

/** SVG text: plotly's own through Chromium, else the browser-free renderer (svg.ts). */
export async function figureToSvg(fig: Figure): Promise<{ svg: string; renderer: SvgRenderer }> {
  const url = await plotlyImage(fig, 'svg', {});
  if (url === null) return { svg: figureToSvgFallback(fig), renderer: 'builtin' };
  // plotly returns "data:image/svg+xml,<percent-encoded svg>"
  return { svg: decodeURIComponent(url.slice(url.indexOf(',') + 1)), renderer: 'plotly' };
}

/** `browser: false` never starts Chromium (the --no-png case): built-in SVG only. */
export async function writeFigureSvg(file: string, fig: Figure, o: { browser?: boolean } = {}): Promise<SvgRenderer> {
  const { svg, renderer } = o.browser === false ? { svg: figureToSvgFallback(fig), renderer: 'builtin' as const } : await figureToSvg(fig);
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.writeFileSync(file, svg);
  return renderer;
}

export interface FigureImages { png: string | null; svg: string; svgRenderer: SvgRenderer }

/**
 * `<dir>/<name>.png` (when Chromium renders and `png` is not false) and `<dir>/<name>.svg` (always:
 * plotly's through Chromium, the built-in one without it or with `png: false`).
 */
export async function writeFigureImages(dir: string, name: string, fig: Figure, o: { png?: boolean } = {}): Promise<FigureImages> {
  const png = path.join(dir, `${name}.png`);
  const wantPng = o.png ?? true;
  const pngOk = wantPng && (await writeFigurePng(png, fig));
  const svg = path.join(dir, `${name}.svg`);
  return { png: pngOk ? png : null, svg, svgRenderer: await writeFigureSvg(svg, fig, { browser: wantPng }) };
}

/** Close the shared browser (call at the end of a CLI command or test). */
export async function closeRenderer(): Promise<void> {
  if (idleTimer) { clearTimeout(idleTimer); idleTimer = null; }
  const b = browser;
  browser = null;
  page = null;
  if (b) await b.close().catch(() => undefined);
}
