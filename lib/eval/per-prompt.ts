/**
 * `rarlhf eval --per-prompt <file.csv|jsonl>`: one row per prompt with its prompt score and each
 * model's reward (the mean of the prompt's samples), for analysis elsewhere.
 *
 * Columns: [file] (several seed files only), prompt, [class], [prompt_score], [samples] (k > 1 only),
 * <model>_reward per model, line (the prompt's first line in its file).
 */
import * as path from 'node:path';
import type { PromptView } from './evaluate';
import { writeGenerations, type Row } from './generations';

export function perPromptRows(views: readonly PromptView[], models: readonly string[]): Row[] {
  const many = views.length > 1;
  const withClass = views.some((v) => v.promptClass.some((c) => c !== 'all'));
  const withK = views.some((v) => v.k.some((k) => k > 1));
  const rows: Row[] = [];
  for (const v of views) {
    v.k.forEach((k, p) => {
      const row: Row = {};
      if (many) row.file = path.basename(v.file);
      row.prompt = v.prompts ? v.prompts[p] : null;
      if (withClass) row.class = v.promptClass[p];
      if (v.promptScore) row.prompt_score = v.promptScore[p];
      if (withK) row.samples = k;
      models.forEach((m, j) => { row[`${m}_reward`] = v.perPrompt[j][p]; });
      row.line = v.firstLine[p];
      rows.push(row);
    });
  }
  return rows;
}

/** Write the per-prompt rows; the format comes from the extension (.jsonl/.json -> JSONL, else CSV). */
export function writePerPrompt(file: string, views: readonly PromptView[], models: readonly string[]): number {
  const rows = perPromptRows(views, models);
  writeGenerations(file, rows);
  return rows.length;
}
