/**
 * Files of `rarlhf eval --frontier --out <dir>`: frontier.json (the typed result), frontier.md
 * (caption, table, figure) and the figure "CVaR vs α" as frontier.html, frontier.svg and, when
 * Chromium renders, frontier.png, the same way the results report writes its figures.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFigureHtml, writeFigureImages, type PlotlyMode } from './render';
import { frontierCaption, frontierFigure, frontierMarkdown, type FrontierResult } from './risk-frontier';

export interface FrontierFiles {
  files: string[];
  /** true when a PNG was asked for but could not be rendered (no Chromium) */
  pngSkipped: boolean;
}

export async function writeFrontier(outDir: string, f: FrontierResult, o: { png?: boolean; plotly?: PlotlyMode } = {}): Promise<FrontierFiles> {
  fs.mkdirSync(outDir, { recursive: true });
  const title = 'Risk frontier: CVaR vs α';
  const fig = frontierFigure(f, title);
  const files = [writeFigureHtml(path.join(outDir, 'frontier.html'), fig, o.plotly ?? 'beside', title)];
  const img = await writeFigureImages(outDir, 'frontier', fig, { png: o.png ?? true });
  if (img.png) files.push(img.png);
  files.push(img.svg);
  const md = path.join(outDir, 'frontier.md');
  fs.writeFileSync(md, `# ${title}\n\n${frontierCaption(f)}\n\n${frontierMarkdown(f)}\n\n![${title}](${path.basename(img.png ?? img.svg)})\n`);
  const json = path.join(outDir, 'frontier.json');
  fs.writeFileSync(json, JSON.stringify(f, null, 1));
  files.push(md, json);
  return { files, pngSkipped: (o.png ?? true) && !img.png };
}
