/**
 * The baselines of the paper's final version and its reviews, beside RLHF and RA-RLHF, at the
 * miniature's scale (lib/repro/config.ts). Every default is the method's own paper or code; where
 * the miniature changes one, the comment says so and why.
 */
import type { ReproConfig } from '../repro/config';
import type { TaskSpec } from '../data/task-specs';
import type { QuarkOptions } from '../rl/quark';

/** Table rows, in order. best_of_<n> rows follow `bestOf`. */
export const BASELINE_METHODS = ['gpt2', 'gpt2_prompted', 'sft', 'best_of_n', 'dexperts', 'quark', 'rlhf', 'ra_rlhf'] as const;
export type BaselineMethod = (typeof BASELINE_METHODS)[number];

export interface BaselinesConfig {
  /** Prompted GPT-2 (the rebuttal's baseline): an instruction in front of the prompt at inference only; the reward scores prompt + response without it. */
  prompted: { prefix: string };
  /** Best-of-n rejection sampling from SFT: n samples per prompt, the highest-reward one kept. Reported for each n. */
  bestOf: number[];
  /**
   * DExperts: base = the GPT2 column (pretrained policy), expert = the kit's SFT model (trained from
   * GPT2 on positive reviews / non-toxic comments, exactly the DExperts expert recipe), anti-expert
   * = the same SFT recipe on negative reviews / toxic comments. alpha: the DExperts scripts' 3.2 for
   * positive sentiment, 2.0 for detoxification; filterP: their --filter_p 0.9 on the base logits.
   */
  dexperts: { alpha: number; filterP: number };
  /**
   * Quark (the authors' arguments.py): K 5, kl_coef 0.05, entropy_coef 0.06, top_p 1, no clipping.
   * Scaled to the miniature: initial policy and reference = SFT (as RLHF starts, instead of the
   * pretrained LM); lr 1e-5 x 10 (the miniature's PPO lr scaling); batch 32 (PPO's); steps = PPO's
   * gradient steps (M x ppo_epochs x batches per epoch); three exploration rounds (initial policy,
   * then two with the best token) whose prompts add up to PPO's episodes, so both methods make the
   * same number of reward calls; warm-up 2% of the steps (the code's 500 of ~23k).
   */
  quark: Omit<QuarkOptions, 'seed'>;
}

/** What `rarlhf baselines` lets a user change without editing code. */
export interface BaselinesOverrides {
  promptPrefix?: string;
  bestOf?: number[];
  dexpertsAlpha?: number;
}

export function baselinesConfig(spec: TaskSpec, cfg: ReproConfig, o: { quick?: boolean } & BaselinesOverrides = {}): BaselinesConfig {
  const ppoSteps = cfg.ppo.steps * cfg.ppo.ppoEpochs * Math.max(1, Math.floor(cfg.ppo.batchSize / cfg.ppo.miniBatchSize));
  const rounds = 3;
  const episodes = cfg.ppo.steps * cfg.ppo.batchSize;
  return {
    prompted: { prefix: o.promptPrefix ?? spec.steering.instruction },
    bestOf: o.bestOf ?? (o.quick ? [2] : [4, 16]),
    dexperts: { alpha: o.dexpertsAlpha ?? spec.steering.dexpertsAlpha, filterP: 0.9 },
    quark: {
      K: 5, kl_coef: 0.05, entropy_coef: 0.06, learning_rate: 1e-4, batch_size: cfg.ppo.batchSize,
      steps: ppoSteps, sample_interval: Math.ceil(ppoSteps / rounds), prompts_per_round: Math.max(cfg.ppo.batchSize, Math.floor(episodes / rounds)),
      warmup_steps: Math.max(1, Math.round(0.02 * ppoSteps)), max_grad_norm: null,
      max_new_tokens: cfg.ppo.maxNewTokens, min_new_tokens: cfg.ppo.minNewTokens,
    },
  };
}

/** Row names of a config's methods: best_of_n expands to best_of_<n> for each n. */
export function methodRows(methods: readonly BaselineMethod[], c: BaselinesConfig): string[] {
  return methods.flatMap((m) => (m === 'best_of_n' ? c.bestOf.map((n) => `best_of_${n}`) : [m]));
}

export function parseMethods(s: string | undefined): BaselineMethod[] {
  if (s === undefined || s === 'all') return [...BASELINE_METHODS];
  const ms = s.split(',').map((x) => x.trim()).filter(Boolean);
  const bad = ms.find((m) => !(BASELINE_METHODS as readonly string[]).includes(m));
  if (bad !== undefined) throw new Error(`baselines: unknown method "${bad}" in --methods (known: ${BASELINE_METHODS.join(', ')})`);
  return BASELINE_METHODS.filter((m) => ms.includes(m));
}
