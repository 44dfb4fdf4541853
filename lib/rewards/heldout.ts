/**
 * The held-out rule that keeps evaluation prompts out of reward-model training.
 *
 * A text may be used to TRAIN a kit toxicity reward model iff `isRewardTrainRow(text)`;
 * evaluation prompts of the toxicity tasks (Jigsaw, RTP, OLID) must come from the complementary
 * rows (`isRewardEvalRow(text)`). The rule is a pure function of the exact text, so it holds
 * across files: the 4,302 comments shared by the Jigsaw and wiki_toxic test files fall on the
 * same side.
 *
 * Definition: FNV-1a 32-bit over the UTF-16 code units of the text (lib/data/split.ts `fnv1a`);
 * reward-train iff the hash is even, i.e. exactly side `a` of lib/data's `hashHalves(rows, textOf)`
 * (implemented by calling it), so a task that evaluates on side `b` is disjoint from reward training.
 * Note: FNV-1a's lowest bit is the parity of the number of odd code units in the text; the split
 * is deterministic and disjoint, which is what the rule needs, but it is not a well-mixed bit.
 */
import { hashHalves } from '../data/split';
import type { EvalRows } from '../data/tasks';
import { OnnxRewardModel } from './onnx';
import { KitRewardModel } from './trained';
import { TransformerRewardModel } from './transformer';
import type { RewardModel } from './types';

const identity = (t: string) => t;

export function isRewardTrainRow(text: string): boolean {
  if (typeof text !== 'string') throw new Error(`isRewardTrainRow: expected a string, got ${typeof text}`);
  // Defined through lib/data's own split so the two modules cannot drift apart.
  return hashHalves([text], identity).a.length === 1;
}

/** Complement, for the task/evaluation side. */
export function isRewardEvalRow(text: string): boolean {
  return !isRewardTrainRow(text);
}

/**
 * The loadTask `evalRows` an evaluation with `reward` needs: a kit toxicity model was trained on
 * the reward-train side of the rule, so its evaluation prompts must come from the other side.
 * That holds for both kit architectures (linear, transformer; the latter also when loaded through
 * ONNX). The real classifiers (ONNX toxic-bert / distilbert-imdb) and kit IMDB models need no restriction.
 */
export function evalRowsFor(reward: RewardModel): EvalRows {
  return kitRewardTask(reward) === 'toxicity' ? 'reward-heldout' : 'all';
}

/** The task a kit-trained reward model (linear, or transformer in TF.js or through ONNX) was trained for; null for other models. */
export function kitRewardTask(reward: RewardModel): 'imdb' | 'toxicity' | null {
  if (reward instanceof KitRewardModel) return reward.config.task;
  if (reward instanceof TransformerRewardModel) return reward.meta.task;
  if (reward instanceof OnnxRewardModel) {
    const meta = reward.config.rarlhf as { task?: 'imdb' | 'toxicity' } | undefined;
    return meta?.task ?? null;
  }
  return null;
}
