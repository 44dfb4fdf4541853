/**
 * `rarlhf eval --score-prompts <reward model>`: fill a missing prompt-score column by scoring each
 * distinct prompt text with a reward model (any folder or Hugging Face id `loadRewardModel` takes:
 * kit, kit transformer, ONNX). The loader is imported only when asked (it pulls in the engines).
 */
import type { RewardModel } from '../rewards/types';
import { requireColumns, type GenerationsTable } from './generations';

export type RewardLoader = (ref: string) => Promise<RewardModel>;

const defaultLoader: RewardLoader = async (ref) => (await import('../rewards/load')).loadRewardModel(ref);

/**
 * Adds column `scoreCol` to every row (in place): the reward of the row's prompt text alone.
 * An empty prompt is an error naming file:line (a reward model cannot score it).
 */
export async function addPromptScores(
  t: GenerationsTable, promptCol: string, scoreCol: string, modelRef: string, load: RewardLoader = defaultLoader,
): Promise<{ model: string; prompts: number }> {
  if (t.columns.includes(scoreCol)) throw new Error(`${t.file}: column '${scoreCol}' already present; --score-prompts only fills a missing one`);
  requireColumns(t, [promptCol]);
  const texts = t.rows.map((r, i) => {
    const v = r[promptCol];
    if (v === null || v === undefined || String(v).trim() === '') {
      throw new Error(`${t.file}:${t.lines[i]}: column '${promptCol}' is empty; --score-prompts cannot score an empty prompt`);
    }
    return String(v);
  });
  const unique = [...new Set(texts)];
  const model = await load(modelRef);
  let scores: number[];
  try {
    scores = await model.score(unique);
  } finally {
    await model.dispose?.();
  }
  const byText = new Map(unique.map((s, i) => [s, scores[i]]));
  t.rows.forEach((r, i) => { r[scoreCol] = byText.get(texts[i])!; });
  t.columns.push(scoreCol);
  return { model: model.name, prompts: unique.length };
}
