/**
 * The two generations-table layouts `rarlhf eval` reads, and which columns each model uses.
 *
 *   wide (default): one row per (prompt[, sample]); per model the columns <model>_response and
 *                   <model>_reward (or NAME=<response col>:<reward col>).
 *   long:           one row per (prompt[, sample], model); the model's name in --model-col, its
 *                   response and reward in --response-col / --reward-col.
 *
 * A long table is turned into the wide table holding the same data (`longToWide`), so both
 * layouts go through one evaluation and give identical metrics. Every error names file:line and
 * the column; no row is dropped without a count.
 */
import { parseDecimal } from '../data/strict';
import type { ModelSpec } from './evaluate';
import { hasColumn, numberColumn, requireColumns, stringColumn, type Cell, type GenerationsTable, type Row } from './generations';

export type Layout = 'wide' | 'long';

export interface LongColumns {
  modelCol: string;
  responseCol: string;
  rewardCol: string;
  promptCol: string;
  promptScoreCol: string;
  promptIdCol?: string;
  sampleCol?: string;
  classCol?: string;
}

export interface LongToWide {
  table: GenerationsTable;
  models: ModelSpec[];
  /** rows of models not selected with --model, per model name (not evaluated, reported) */
  unselected: Record<string, number>;
}

/** Wide column names of a model (the `rarlhf generate` convention). */
export const wideColumns = (name: string) => ({ responseCol: `${name}_response`, rewardCol: `${name}_reward` });

/** `--model NAME` or `--model NAME=<response col>:<reward col>` (wide layout). */
export function parseModel(s: string): ModelSpec {
  const m = /^([^=]+)(?:=([^:]+):(.+))?$/.exec(s);
  if (!m) throw new Error(`--model "${s}": expected NAME or NAME=<response col>:<reward col>`);
  return { name: m[1], responseCol: m[2] ?? `${m[1]}_response`, rewardCol: m[3] ?? `${m[1]}_reward` };
}

/**
 * Models of a wide table: the --model flags, else every `<name>_reward` column that has a
 * `<name>_response` column beside it (in header order).
 */
export function resolveWideModels(t: GenerationsTable, flags: readonly string[] | undefined): ModelSpec[] {
  if (flags && flags.length > 0) return flags.map(parseModel);
  const found = t.columns.filter((c) => c.endsWith('_reward') && t.columns.includes(`${c.slice(0, -'_reward'.length)}_response`))
    .map((c) => parseModel(c.slice(0, -'_reward'.length)));
  if (found.length === 0) {
    throw new Error(`${t.file}:1: no model columns found (no <model>_reward column with a <model>_response beside it; columns: ${t.columns.join(', ')}); ` +
      'name them with --model NAME=<response col>:<reward col>, or use --layout long for one row per (prompt, model)');
  }
  return found;
}

/** "model A: A_response / A_reward" (wide) or "model A: rows with model = 'A' (response / score)" (long). */
export function describeModels(models: readonly ModelSpec[], layout: Layout, long?: Pick<LongColumns, 'modelCol' | 'responseCol' | 'rewardCol'>): string[] {
  return models.map((m) => (layout === 'wide' || !long
    ? `model ${m.name}: ${m.responseCol} / ${m.rewardCol}`
    : `model ${m.name}: rows with ${long.modelCol} = '${m.name}' (${long.responseCol} / ${long.rewardCol})`));
}

const show = (v: Cell | undefined) => (typeof v === 'string' ? JSON.stringify(v) : String(v));

/** Cells that must agree across the model rows of one prompt: numbers compare as numbers. */
function sameCell(x: Cell | undefined, y: Cell | undefined, numeric: boolean): boolean {
  if (numeric) {
    const a = typeof x === 'number' ? x : parseDecimal(String(x ?? ''));
    const b = typeof y === 'number' ? y : parseDecimal(String(y ?? ''));
    if (Number.isFinite(a) && Number.isFinite(b)) return a === b;
  }
  return String(x ?? '') === String(y ?? '');
}

/**
 * One wide row per (prompt key[, sample]) in first-appearance order, with <model>_response and
 * <model>_reward per model. `names`: the models to keep (default: every value of the model column,
 * in first-appearance order). Each kept model needs exactly one row per (prompt[, sample]).
 */
export function longToWide(t: GenerationsTable, c: LongColumns, names?: readonly string[]): LongToWide {
  if (t.rows.length === 0) throw new Error(`${t.file}: no rows`);
  const keyCol = c.promptIdCol ?? c.promptCol;
  requireColumns(t, [c.modelCol, c.responseCol, c.rewardCol, keyCol]);
  // Shared per-prompt columns: carried to the wide row and checked to agree across its model rows.
  const shared = [c.promptCol, c.promptIdCol, c.sampleCol, c.classCol, c.promptScoreCol]
    .filter((x, i, xs): x is string => x !== undefined && xs.indexOf(x) === i && hasColumn(t, x));
  requireColumns(t, shared);
  const model = stringColumn(t, c.modelCol);
  const response = stringColumn(t, c.responseCol);
  const reward = numberColumn(t, c.rewardCol);
  const key = stringColumn(t, keyCol);
  const sample = c.sampleCol ? stringColumn(t, c.sampleCol) : null;
  model.forEach((m, i) => { if (m.trim() === '') throw new Error(`${t.file}:${t.lines[i]}: column '${c.modelCol}' is empty (every row names its model)`); });

  const present = [...new Set(model)];
  const keep = names && names.length > 0 ? [...names] : present;
  for (const n of keep) {
    if (!present.includes(n)) throw new Error(`${t.file}: model '${n}' has no row (column '${c.modelCol}' holds: ${present.join(', ')})`);
  }
  const models = keep.map((name) => ({ name, ...wideColumns(name) }));
  const clash = models.flatMap((m) => [m.responseCol, m.rewardCol]).find((col) => shared.includes(col));
  if (clash) throw new Error(`${t.file}: model column '${clash}' would overwrite the column of that name; rename the model or the column`);

  const rows: Row[] = [];
  const lines: number[] = [];
  const index = new Map<string, number>();
  /** line of the row that filled (wide row, model) */
  const filled = new Map<string, number>();
  const unselected: Record<string, number> = {};
  t.rows.forEach((r, i) => {
    const m = model[i];
    if (!keep.includes(m)) { unselected[m] = (unselected[m] ?? 0) + 1; return; }
    const k = sample ? `${key[i]}\u0000${sample[i]}` : key[i];
    let w = index.get(k);
    if (w === undefined) {
      w = rows.length;
      index.set(k, w);
      rows.push(Object.fromEntries(shared.map((col) => [col, r[col]])));
      lines.push(t.lines[i]);
    } else {
      for (const col of shared) {
        if (!sameCell(rows[w][col], r[col], col === c.promptScoreCol)) {
          throw new Error(`${t.file}:${t.lines[i]}: column '${col}' is ${show(r[col])} but line ${lines[w]} (same prompt) has ${show(rows[w][col])}; ` +
            'the rows of one prompt must agree on it');
        }
      }
    }
    const at = `${w}\u0000${m}`;
    const before = filled.get(at);
    if (before !== undefined) {
      const what = sample ? `(prompt, ${c.sampleCol}, model)` : '(prompt, model)';
      const hint = sample ? '' : ` (k > 1 samples per prompt: name the sample column with --sample-col; the same prompt text twice: give a prompt id column with --prompt-id-col)`;
      throw new Error(`${t.file}:${t.lines[i]}: duplicate ${what} row: ${keyCol} ${JSON.stringify(key[i])}${sample ? `, ${c.sampleCol} ${sample[i]}` : ''}, model '${m}' is already on line ${before}${hint}`);
    }
    filled.set(at, t.lines[i]);
    rows[w][`${m}_response`] = response[i];
    rows[w][`${m}_reward`] = reward[i];
  });
  rows.forEach((row, w) => {
    const missing = keep.find((m) => !filled.has(`${w}\u0000${m}`));
    if (missing) {
      throw new Error(`${t.file}:${lines[w]}: ${keyCol} ${JSON.stringify(row[keyCol])}${sample ? `, ${c.sampleCol} ${row[c.sampleCol!]}` : ''} has no row for model '${missing}' ` +
        `(paired metrics need one row per prompt for every model; select models with --model)`);
    }
  });
  const columns = [...shared, ...models.flatMap((m) => [m.responseCol, m.rewardCol])];
  return { table: { file: t.file, format: t.format, columns, rows, lines, replaced: t.replaced }, models, unselected };
}
