/**
 * HTML snippets for notebooks (shown with tslab's `display.html`). Kept to escaping and a table:
 * metrics live in lib/eval, this only formats them.
 */

export type Cell = string | number | boolean | null | undefined;

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Numbers: integers as is, others with `digits` decimals; text escaped and cut to `maxChars`. */
export function formatCell(v: Cell, digits = 3, maxChars = 240): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return String(v);
    return Number.isInteger(v) ? String(v) : v.toFixed(digits);
  }
  const s = String(v);
  return escapeHtml(s.length > maxChars ? s.slice(0, maxChars) + ' …' : s);
}

export interface TableOptions {
  /** Column order (default: keys of the first row). */
  columns?: string[];
  caption?: string;
  digits?: number;
  maxChars?: number;
}

/** An HTML table from row objects; numeric columns right-aligned. */
export function htmlTable(rows: readonly Record<string, Cell>[], opts: TableOptions = {}): string {
  const cols = opts.columns ?? (rows.length > 0 ? Object.keys(rows[0]) : []);
  const numeric = cols.map((c) => rows.length > 0 && rows.every((r) => typeof r[c] === 'number' || r[c] == null));
  const th = cols.map((c) => `<th>${escapeHtml(c)}</th>`).join('');
  const body = rows
    .map((r) => {
      const tds = cols.map((c, j) => {
        const style = numeric[j] ? ' style="text-align:right"' : ' style="text-align:left"';
        return `<td${style}>${formatCell(r[c], opts.digits, opts.maxChars)}</td>`;
      });
      return `<tr>${tds.join('')}</tr>`;
    })
    .join('\n');
  const caption = opts.caption ? `<caption>${escapeHtml(opts.caption)}</caption>` : '';
  return `<table>${caption}<thead><tr>${th}</tr></thead>\n<tbody>\n${body}\n</tbody></table>`;
}
