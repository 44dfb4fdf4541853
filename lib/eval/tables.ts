/**
 * Tables as markdown and HTML: the results table (paper Table 2 layout: one row per model) and any
 * list of row objects (notebooks, reports). One HTML renderer, `htmlFromCells`, draws both; one
 * markdown renderer, `markdownFromCells`, draws the results table and others (the risk frontier).
 */
import type { AggregateRow, MetricName } from './evaluate';

export interface TableOptions {
  tail: number;
  cvarAlpha: number;
  digits?: number;
  /** prompts in the tail (min and max over seeds); default: from the rows (AggregateRow.tailN) */
  tailN?: { min: number; max: number };
  /** the metric columns, in this order (default: every metric some row has, in Table 2's order) */
  columns?: readonly MetricName[];
}

/** "N=17", or "N=15–17 per seed" when seed files differ. */
export function tailNText(n: { min: number; max: number }): string {
  return n.min === n.max ? `N=${n.min}` : `N=${n.min}–${n.max} per seed`;
}

const HEADERS: Record<MetricName, (o: TableOptions) => string> = {
  meanReward: () => 'Reward ↑',
  tailReward: (o) => `Tail reward (prompt score ≤ ${o.tail}${o.tailN ? `, ${tailNText(o.tailN)}` : ''}) ↑`,
  cvar: (o) => `CVaR (α=${o.cvarAlpha}) ↑`,
  lengthWords: () => 'Length (words)',
  distinct1: () => 'Dist-1',
  distinct2: () => 'Dist-2',
  distinct3: () => 'Dist-3',
  perplexity: () => 'Perplexity ↓',
};

/** "1.23 ± 0.04" with seeds > 1, "1.23" with one seed, "n/a" for NaN (e.g. an empty tail). */
export function formatStat(s: { mean: number; std: number; n: number } | undefined, digits = 2, withStd = true): string {
  if (!s || Number.isNaN(s.mean)) return 'n/a';
  const d = (x: number) => x.toFixed(digits);
  return withStd && s.n > 1 ? `${d(s.mean)} ± ${d(s.std)}` : d(s.mean);
}

function cells(rows: readonly AggregateRow[], opts: TableOptions): { header: string[]; body: string[][] } {
  const o = { ...opts, tailN: opts.tailN ?? rows[0]?.tailN };
  const metrics = (o.columns ?? (Object.keys(HEADERS) as MetricName[])).filter((k) => rows.some((r) => r.metrics[k]));
  const header = ['Model', ...metrics.map((k) => HEADERS[k](o))];
  const digitsFor = (k: MetricName) => (k.startsWith('distinct') ? 3 : k === 'lengthWords' ? 1 : (o.digits ?? 2));
  const body = rows.map((r) => [r.name, ...metrics.map((k) => formatStat(r.metrics[k], digitsFor(k)))]);
  return { header, body };
}

export function markdownTable(rows: readonly AggregateRow[], o: TableOptions): string {
  const { header, body } = cells(rows, o);
  return markdownFromCells(header, body);
}

/** The one markdown table renderer: cells already formatted; first column left-aligned, the rest right. */
export function markdownFromCells(header: readonly string[], body: readonly (readonly string[])[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const line = (xs: readonly string[]) => `| ${xs.map(esc).join(' | ')} |`;
  return [line(header), `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...body.map(line)].join('\n');
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The one HTML table renderer: header cells, body cells (already formatted), optional caption. */
export function htmlFromCells(header: readonly string[], body: readonly string[][], o: { caption?: string; className?: string; align?: readonly ('left' | 'right')[]; rowHeader?: boolean } = {}): string {
  const cls = o.className ? ` class="${escapeHtml(o.className)}"` : '';
  const caption = o.caption ? `<caption>${escapeHtml(o.caption)}</caption>` : '';
  const th = header.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const trs = body.map((r) => `<tr>${r.map((c, i) => {
    if (o.rowHeader && i === 0) return `<th scope="row">${c}</th>`;
    return o.align ? `<td style="text-align:${o.align[i]}">${c}</td>` : `<td>${c}</td>`;
  }).join('')}</tr>`);
  return `<table${cls}>${caption}\n<thead><tr>${th}</tr></thead>\n<tbody>\n${trs.join('\n')}\n</tbody>\n</table>`;
}

export function htmlTable(rows: readonly AggregateRow[], o: TableOptions): string {
  const { header, body } = cells(rows, o);
  return htmlFromCells(header, body.map((r) => r.map(escapeHtml)), { className: 'rarlhf-results', rowHeader: true });
}

export type TableCell = string | number | boolean | null | undefined;

/** Numbers: integers as is, others with `digits` decimals; text escaped and cut to `maxChars`. */
export function formatCell(v: TableCell, digits = 3, maxChars = 240): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return String(v);
    return Number.isInteger(v) ? String(v) : v.toFixed(digits);
  }
  const s = String(v);
  return escapeHtml(s.length > maxChars ? s.slice(0, maxChars) + ' …' : s);
}

export interface RowsTableOptions {
  /** Column order (default: keys of the first row). */
  columns?: string[];
  caption?: string;
  digits?: number;
  maxChars?: number;
}

/** An HTML table from row objects; numeric columns right-aligned. */
export function rowsTable(rows: readonly Record<string, TableCell>[], opts: RowsTableOptions = {}): string {
  const cols = opts.columns ?? (rows.length > 0 ? Object.keys(rows[0]) : []);
  const align = cols.map((c) => (rows.length > 0 && rows.every((r) => typeof r[c] === 'number' || r[c] == null) ? 'right' : 'left') as 'left' | 'right');
  const body = rows.map((r) => cols.map((c) => formatCell(r[c], opts.digits, opts.maxChars)));
  return htmlFromCells(cols, body, { caption: opts.caption, align });
}
