/**
 * Read the generations files of one `rarlhf eval` call into wide tables (layout.ts), resolve the
 * models once (from the first file) and settle the prompt scores of each file: the column as is,
 * computed with --score-prompts, or absent (then only mean reward and CVaR; a tail is an error).
 * Everything it decides is written to `log` (stderr in the CLI), so no choice is silent.
 */
import type { ModelSpec } from './evaluate';
import { hasColumn, readGenerations, stringColumn, type GenerationsFormat, type GenerationsTable } from './generations';
import { describeModels, longToWide, resolveWideModels, type Layout, type LongColumns } from './layout';
import { addPromptScores, type RewardLoader } from './prompt-scores';

export interface LoadOptions {
  layout: Layout;
  format?: GenerationsFormat;
  allowReplacement?: boolean;
  /** --model values (wide: NAME[=resp:reward]; long: NAME) */
  models?: readonly string[];
  /** column names; modelCol/responseCol/rewardCol are used by the long layout only */
  columns: LongColumns;
  /** reward model to compute a missing prompt-score column with */
  scorePrompts?: string;
  /** a tail threshold was given: every file needs prompt scores */
  needPromptScores: boolean;
  log: (line: string) => void;
  loader?: RewardLoader;
}

export interface LoadedTables {
  tables: GenerationsTable[];
  models: ModelSpec[];
  /** per file: the prompt-score column exists (as read or computed) */
  hasPromptScores: boolean[];
}

function noScoresError(t: GenerationsTable, col: string): Error {
  const where = t.format === 'csv' ? `${t.file}:1: column '${col}' not in the header (columns: ${t.columns.join(', ')})` : `${t.file}: field '${col}' in no row`;
  return new Error(`${where}: tail metrics need prompt scores; name the column with --prompt-score-col, ` +
    'compute it with --score-prompts <reward model dir or id>, or drop --tail/--task for mean reward and CVaR only');
}

export async function loadTables(files: readonly string[], o: LoadOptions): Promise<LoadedTables> {
  const c = o.columns;
  if (o.layout === 'long') {
    const bad = (o.models ?? []).find((m) => m.includes('='));
    if (bad) throw new Error(`--model "${bad}": in --layout long, --model takes a model name (a value of column '${c.modelCol}'), not NAME=<response col>:<reward col>`);
  }
  const tables: GenerationsTable[] = [];
  const hasPromptScores: boolean[] = [];
  let models: ModelSpec[] | undefined;
  for (const file of files) {
    const read = readGenerations(file, o.format, { allowReplacement: o.allowReplacement });
    let t: GenerationsTable;
    if (o.layout === 'long') {
      const r = longToWide(read, c, models ? models.map((m) => m.name) : o.models);
      const skipped = Object.entries(r.unselected);
      if (skipped.length) o.log(`${file}: not evaluated (not selected by --model): ${skipped.map(([m, n]) => `${n} rows of model '${m}'`).join(', ')}`);
      t = r.table;
      models ??= r.models;
    } else {
      t = read;
      models ??= resolveWideModels(t, o.models);
    }
    if (tables.length === 0) for (const line of describeModels(models, o.layout, c)) o.log(line);

    const col = c.promptScoreCol;
    if (hasColumn(t, col)) {
      if (o.scorePrompts) o.log(`${file}: column '${col}' present, used as is (--score-prompts only fills a missing column)`);
    } else if (o.scorePrompts) {
      const s = await addPromptScores(t, c.promptCol, col, o.scorePrompts, o.loader);
      o.log(`${file}: prompt scores computed with ${s.model} (${s.prompts} distinct prompts)`);
    } else if (o.needPromptScores) {
      throw noScoresError(t, col);
    } else {
      o.log(`${file}: no '${col}' column: mean reward and CVaR only (tail reward and the quantile curve need prompt scores; --score-prompts computes them)`);
    }
    hasPromptScores.push(hasColumn(t, col));
    for (const m of models) {
      if (!hasColumn(t, m.responseCol)) continue; // the evaluation names the missing column
      const lines = stringColumn(t, m.responseCol).map((s, i) => (s.trim() === '' ? t.lines[i] : -1)).filter((l) => l >= 0);
      const at = `${o.layout === 'long' ? 'prompts first on line' : 'line'} ${lines.slice(0, 5).join(', ')}${lines.length > 5 ? ', ...' : ''}`;
      if (lines.length) o.log(`${file}: model ${m.name}: ${lines.length} empty response(s) (${at}); kept: they count as zero words`);
    }
    tables.push(t);
  }
  return { tables, models: models ?? [], hasPromptScores };
}
