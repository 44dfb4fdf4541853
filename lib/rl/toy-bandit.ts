/**
 * A contextual bandit small enough to reason about by hand, used by notebook 00 to show what CVaR
 * selection does to a policy gradient. Each episode draws a context (a "prompt": benign or hostile),
 * the softmax policy picks an action (a "response"), and the reward is the action's mean reward in
 * that context plus Gaussian noise. One step is REINFORCE on a batch of B episodes with advantages
 * whitened over the kept episodes, the way PPO whitens over its (risk-masked) batch.
 *
 * Which episodes a step learns from is the whole point:
 *  - 'all': every episode (RLHF: the mean objective);
 *  - 'worst': the soft-risk schedule's count of lowest *realised* rewards (RA-RLHF as coded);
 *  - 'random': the same count, a random subset (controls for "less data");
 *  - 'context': the same count, ranked by the context's expected reward under the current policy
 *    (prompt difficulty without the outcome, like `risk.rank_by=prompt_value`).
 * Expected rewards are computed exactly from the policy, so the curves carry no evaluation noise.
 */
import { Rng } from '../engine/rng';
import { selectRiskMask, softRiskCount } from './risk';

export interface BanditContext {
  name: string;
  /** probability that an episode draws this context */
  prob: number;
  /** mean reward of each action in this context */
  rewards: number[];
  /** counted in the tail metric (the risky prompts) */
  tail?: boolean;
}

export type BanditSelect = 'all' | 'worst' | 'random' | 'context';

export interface BanditOptions {
  contexts: BanditContext[];
  /** 'tabular': one logit vector per context; 'shared': one for all contexts (an action that helps after any prompt) */
  policy: 'tabular' | 'shared';
  /** initial logits, one per action (the same for every context) */
  initLogits: number[];
  select: BanditSelect;
  /** batch size B */
  B: number;
  /** iterations M */
  steps: number;
  lr: number;
  /** std of the reward noise */
  noise: number;
  /** soft-risk schedule (ignored by 'all'): kept share at the end, warm start, shrink end */
  alpha: number;
  n: number;
  rho: number;
  seed: number;
}

export interface BanditStep {
  step: number;
  /** episodes learnt from this step */
  kept: number;
  /** expected reward over contexts under the policy after this step */
  mean: number;
  /** expected reward in the tail contexts */
  tail: number;
  /** share of kept episodes whose context is a tail context */
  keptTailShare: number;
}

export interface BanditRun {
  history: BanditStep[];
  /** final logits per context (shared policies repeat one vector) */
  logits: number[][];
}

export function softmax(logits: readonly number[]): number[] {
  const m = Math.max(...logits);
  const e = logits.map((l) => Math.exp(l - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

/** Expected reward per context under the given logits (one vector per context). */
export function contextValues(contexts: readonly BanditContext[], logits: readonly number[][]): number[] {
  return contexts.map((c, i) => softmax(logits[i]).reduce((s, p, a) => s + p * c.rewards[a], 0));
}

/** Mean and tail expected reward (tail: probability-weighted over contexts flagged `tail`). */
export function banditMetrics(contexts: readonly BanditContext[], logits: readonly number[][]): { mean: number; tail: number } {
  const v = contextValues(contexts, logits);
  let mean = 0, tw = 0, tail = 0;
  contexts.forEach((c, i) => {
    mean += c.prob * v[i];
    if (c.tail) { tail += c.prob * v[i]; tw += c.prob; }
  });
  return { mean, tail: tw > 0 ? tail / tw : NaN };
}

function drawIndex(probs: readonly number[], rng: Rng): number {
  let u = rng.uniform();
  for (let i = 0; i < probs.length - 1; i++) {
    u -= probs[i];
    if (u < 0) return i;
  }
  return probs.length - 1;
}

function validate(o: BanditOptions): void {
  const A = o.initLogits.length;
  if (o.contexts.length === 0) throw new Error('toy bandit: at least one context is needed');
  for (const c of o.contexts) {
    if (c.rewards.length !== A) throw new Error(`toy bandit: context "${c.name}" has ${c.rewards.length} rewards for ${A} actions`);
  }
  const total = o.contexts.reduce((s, c) => s + c.prob, 0);
  if (Math.abs(total - 1) > 1e-9) throw new Error(`toy bandit: context probabilities sum to ${total}, not 1`);
}

/** Samples `count` rewards from the policy (for histograms of the return distribution). */
export function sampleRewards(o: Pick<BanditOptions, 'contexts' | 'noise'>, logits: readonly number[][], count: number, seed: number): number[] {
  const rng = new Rng(seed);
  const probs = o.contexts.map((c) => c.prob);
  const pis = logits.map((l) => softmax(l));
  return Array.from({ length: count }, () => {
    const c = drawIndex(probs, rng);
    const a = drawIndex(pis[c], rng);
    return o.contexts[c].rewards[a] + o.noise * rng.normal();
  });
}

/** Trains the policy for `steps` iterations and records the exact metrics after each. */
export function runBandit(o: BanditOptions): BanditRun {
  validate(o);
  const rng = new Rng(o.seed);
  const C = o.contexts.length, A = o.initLogits.length;
  const nVec = o.policy === 'shared' ? 1 : C;
  const theta = Array.from({ length: nVec }, () => [...o.initLogits]);
  const logitsOf = (): number[][] => o.contexts.map((_, c) => theta[o.policy === 'shared' ? 0 : c]);
  const probs = o.contexts.map((c) => c.prob);
  const history: BanditStep[] = [];

  for (let m = 0; m < o.steps; m++) {
    const pis = logitsOf().map((l) => softmax(l));
    const ctx: number[] = [], act: number[] = [], rew: number[] = [];
    for (let b = 0; b < o.B; b++) {
      const c = drawIndex(probs, rng);
      const a = drawIndex(pis[c], rng);
      ctx.push(c); act.push(a); rew.push(o.contexts[c].rewards[a] + o.noise * rng.normal());
    }
    const count = o.select === 'all' ? o.B : softRiskCount(m, { B: o.B, M: o.steps, alpha: o.alpha, n: o.n, rho: o.rho });
    let keep: boolean[];
    if (count >= o.B) keep = rew.map(() => true);
    else if (o.select === 'worst') keep = selectRiskMask(rew, count);
    else if (o.select === 'random') {
      const order = rew.map((_, i) => i);
      for (let i = order.length - 1; i > 0; i--) { const j = rng.int(i + 1); [order[i], order[j]] = [order[j], order[i]]; }
      keep = rew.map(() => false);
      order.slice(0, count).forEach((i) => { keep[i] = true; });
    } else {
      // Episodes of one context tie on its value; a tiny seeded jitter breaks ties so exactly `count` survive.
      const v = contextValues(o.contexts, logitsOf());
      keep = selectRiskMask(ctx.map((c) => v[c] + 1e-9 * rng.uniform()), count);
    }

    const idx = keep.flatMap((k, i) => (k ? [i] : []));
    const mu = idx.reduce((s, i) => s + rew[i], 0) / idx.length;
    const sd = Math.sqrt(idx.reduce((s, i) => s + (rew[i] - mu) ** 2, 0) / idx.length);
    const grad = Array.from({ length: nVec }, () => new Array<number>(A).fill(0));
    for (const i of idx) {
      const adv = (rew[i] - mu) / (sd + 1e-8);
      const g = grad[o.policy === 'shared' ? 0 : ctx[i]];
      const pi = pis[ctx[i]];
      for (let a = 0; a < A; a++) g[a] += (adv * ((a === act[i] ? 1 : 0) - pi[a])) / idx.length;
    }
    for (let v = 0; v < nVec; v++) for (let a = 0; a < A; a++) theta[v][a] += o.lr * grad[v][a];

    const { mean, tail } = banditMetrics(o.contexts, logitsOf());
    const keptTail = idx.filter((i) => o.contexts[ctx[i]].tail).length;
    history.push({ step: m, kept: idx.length, mean, tail, keptTailShare: keptTail / idx.length });
  }
  return { history, logits: logitsOf().map((l) => [...l]) };
}

/**
 * Two worlds for notebook 00. Actions: 0 = "continue the prompt's tone", 1 = "turn it positive".
 *  - `rareHostile`: tabular policy; in the rare hostile context only turning around helps. The mean
 *    objective sees hostile episodes 10% of the time; CVaR selection makes them most of what it learns from.
 *  - `additive`: one shared policy; turning positive adds +1 after any prompt (the kit's linear reward
 *    shape). Keeping the worst *realised* rewards keeps the episodes that did not turn positive, so the
 *    kept set holds almost no example of the fix.
 */
export const BANDIT_WORLDS = {
  rareHostile: {
    policy: 'tabular' as const,
    initLogits: [1, -1],
    noise: 0.3,
    contexts: [
      { name: 'benign', prob: 0.9, rewards: [1.0, 0.9] },
      { name: 'hostile', prob: 0.1, rewards: [-2.0, 0.5], tail: true },
    ],
  },
  additive: {
    policy: 'shared' as const,
    initLogits: [1, -1],
    noise: 0.3,
    contexts: [
      { name: 'benign', prob: 0.8, rewards: [1.0, 2.0] },
      { name: 'hostile', prob: 0.2, rewards: [-2.0, -1.0], tail: true },
    ],
  },
} satisfies Record<string, Pick<BanditOptions, 'policy' | 'initLogits' | 'noise' | 'contexts'>>;
