/**
 * PPOTrainer.step as in HF trl 0.7 (+ the authors' RA-RLHF risk masking, spec §1.3):
 *   forward pass (no grad) -> compute_rewards -> GAE -> [CVaR row selection] -> whiten advantages
 *   -> ppo_epochs x shuffled minibatches of clipped PPO updates with Adam -> stats -> KL controller.
 * With riskCount = B (or undefined) the step is plain RLHF, bit for bit.
 */
import { tf, Rng } from '../engine';
import { sequenceLogprobs } from '../models/generate';
import type { GPT2LMHeadModel, GPT2WithValueHead } from '../models/gpt2';
import { NamedAdam } from './adam';
import { AdaptiveKLController, FixedKLController, KLController, KLPenalty, clipByGlobalNorm, computeRewards, gae, maskedWhiten, ppoLoss } from './core';
import { KLInput, RankBy, klControllerInput, rankingStatistic } from './risk';
import { effectiveSampleSize, meanVarianceScores, measureWeights, type RiskMeasure } from './risk-measures';
import { riskDiagnostics } from './risk-diagnostics';
import type { HorizonScale } from './kl-scaling';
import { buildBatch, forwardBatch } from './rollout';
import { NumericError } from './run-loop';

/** trl PPOConfig fields used by the trainer (trl names; defaults = trl 0.7 + the paper scripts). */
export interface PPOConfig {
  learning_rate: number;
  batch_size: number;
  mini_batch_size: number;
  ppo_epochs: number;
  gamma: number;
  lam: number;
  cliprange: number;
  cliprange_value: number;
  vf_coef: number;
  kl_penalty: KLPenalty;
  adap_kl_ctrl: boolean;
  init_kl_coef: number;
  target: number;
  horizon: number;
  /** miniature KL-controller scaling (lib/rl/kl-scaling.ts); trainPPO resolves it into `horizon` */
  horizon_scale: HorizonScale;
  ratio_threshold: number;
  max_grad_norm: number | null;
  /** rows per no-grad forward chunk (trl uses mini_batch_size) */
  forward_batch_size: number | null;
}

export const DEFAULT_PPO_CONFIG: PPOConfig = {
  learning_rate: 1.41e-5,
  batch_size: 128,
  mini_batch_size: 128,
  ppo_epochs: 4,
  gamma: 1.0,
  lam: 0.95,
  cliprange: 0.2,
  cliprange_value: 0.2,
  vf_coef: 0.1,
  kl_penalty: 'kl',
  adap_kl_ctrl: true,
  init_kl_coef: 0.2,
  target: 6,
  horizon: 10000,
  horizon_scale: null,
  ratio_threshold: 10.0,
  max_grad_norm: null,
  forward_batch_size: null,
};

export interface RiskSelectionOptions {
  rank_by: RankBy;
  kl_input: KLInput;
  /** how the ranking statistic becomes episode weights (risk-measures.ts); cvar_batch = the paper's */
  measure: RiskMeasure;
  /** the final risk level alpha (the entropic temperature schedule ends with it) */
  alpha: number;
  /** entropic: target temperature lambda */
  entropic_lambda: number;
  /** mean_variance: c in R - c (R - mean R)^2 */
  mv_coef: number;
}

export const DEFAULT_RISK_SELECTION: RiskSelectionOptions = {
  rank_by: 'lambda_return_first_response_token', kl_input: 'sum_selected_over_B', measure: 'cvar_batch', alpha: 0.4, entropic_lambda: 1, mv_coef: 0.5,
};

/** A NaN/Inf in scores or a loss: the caller must stop without saving the corrupted state. */
export class PPONumericError extends NumericError {}

export type StepStats = Record<string, number>;

export class PPOTrainer {
  readonly config: PPOConfig;
  readonly risk: RiskSelectionOptions;
  readonly policy: GPT2WithValueHead;
  readonly ref: Pick<GPT2LMHeadModel, 'forward' | 'config'>;
  readonly rng: Rng;
  klCtl: KLController;
  readonly adam: NamedAdam;
  private readonly vars: Map<string, tf.Variable>;
  private readonly hfName = new Map<string, string>(); // tf variable name -> HF name

  constructor(o: {
    config?: Partial<PPOConfig>;
    risk?: Partial<RiskSelectionOptions>;
    policy: GPT2WithValueHead;
    ref: Pick<GPT2LMHeadModel, 'forward' | 'config'>;
    rng?: Rng;
    seed?: number;
  }) {
    this.config = { ...DEFAULT_PPO_CONFIG, ...(o.config ?? {}) };
    this.risk = { ...DEFAULT_RISK_SELECTION, ...(o.risk ?? {}) };
    this.policy = o.policy;
    this.ref = o.ref;
    this.rng = o.rng ?? new Rng(o.seed ?? 0);
    const c = this.config;
    if (c.horizon_scale !== null && c.horizon_scale !== undefined) throw new Error('PPOTrainer: ppo.horizon_scale must be resolved into ppo.horizon first (scaledHorizon in lib/rl/kl-scaling.ts; trainPPO does this)');
    this.klCtl = c.adap_kl_ctrl ? new AdaptiveKLController(c.init_kl_coef, c.target, c.horizon) : new FixedKLController(c.init_kl_coef);
    this.vars = policy_vars(o.policy);
    for (const [n, v] of this.vars) this.hfName.set(v.name, n);
    this.adam = new NamedAdam(this.vars, c.learning_rate);
  }

  /**
   * One PPO step on B episodes. `riskCount` (RA-RLHF alphaN, the soft-risk schedule's count) turns
   * the ranking statistic into episode weights by risk.measure: cvar_batch keeps the episodes whose
   * statistic is <= its riskCount-th smallest value (weight 1) and zeroes the others (no gradient,
   * excluded from whitening and stats); other measures weight or regroup (risk-measures.ts).
   * `groups` (cvar_per_prompt): each episode's prompt group. `sampleWeights`: importance weights of
   * a prompt sampler, multiplied in. `promptScores` (reward of each prompt alone) feeds rank_by
   * 'prompt_score' and, with `tailThreshold`, the risk/kept_tail_share diagnostic.
   */
  step(
    queries: number[][], responses: number[][], scores: number[],
    opts: { riskCount?: number; promptScores?: number[]; tailThreshold?: number; groups?: number[]; sampleWeights?: number[] } = {},
  ): StepStats {
    const c = this.config;
    const B = queries.length;
    if (B !== c.batch_size || responses.length !== B || scores.length !== B) {
      throw new Error(`PPOTrainer.step: got ${B} queries, ${responses.length} responses, ${scores.length} scores; ppo.batch_size is ${c.batch_size}`);
    }
    const badScore = scores.findIndex((s) => !Number.isFinite(s));
    if (badScore >= 0) throw new PPONumericError(`PPOTrainer.step: score of episode ${badScore} is ${scores[badScore]}`);
    const mbs = c.mini_batch_size;
    if (!Number.isInteger(mbs) || mbs < 1 || mbs > B) throw new Error(`PPOTrainer.step: ppo.mini_batch_size ${mbs} must be an integer in [1, ${B}]`);
    const t0 = performance.now();
    const klCoef = this.klCtl.value;
    const batch = buildBatch(queries, responses, this.policy.config.eos_token_id);
    const fwd = forwardBatch(this.policy, this.ref, batch, { fbs: c.forward_batch_size ?? mbs, klPenalty: c.kl_penalty });
    const tForward = performance.now();

    // mean_variance reshapes the scores the rewards are built from (c = 0 leaves them as they are)
    const risky = opts.riskCount !== undefined;
    const trainScores = risky && this.risk.measure === 'mean_variance' ? meanVarianceScores(scores, this.risk.mv_coef) : scores;
    const scoresT = tf.tensor1d(trainScores, 'float32');
    const { rewards, nonScoreRewards, kl } = computeRewards({ scores: scoresT, logprobs: fwd.logprobs, refLogprobs: fwd.refLogprobs, masks: batch.masks, klCoef, kl: fwd.kl });
    const g = gae({ values: fwd.values, rewards, masks: batch.masks, gamma: c.gamma, lam: c.lam });

    // --- RA-RLHF: episode weights from the full-mask quantities, then everything uses the weighted mask
    let weights = new Array<number>(B).fill(1);
    let quantile = NaN;
    let diagnostics: Record<string, number> = {};
    if (opts.riskCount !== undefined) {
      const rankBy = this.risk.rank_by;
      // 'random' draws from the trainer's Rng (saved in checkpoints, so resume stays bit-exact); not
      // while the whole batch is kept, so warm-start steps consume the stream exactly as RLHF's do
      const random = rankBy === 'random' ? (opts.riskCount < B ? ranksOf(this.rng.shuffle(range(B))) : range(B)) : undefined;
      const stat = rankingStatistic(rankBy, {
        returns: g.returns.arraySync(),
        rewards: rewards.arraySync(),
        masks: batch.masks.arraySync(),
        scores: trainScores,
        values: rankBy === 'prompt_value' ? fwd.values.arraySync() : undefined,
        promptScores: opts.promptScores,
        random,
      });
      weights = measureWeights(stat, { measure: this.risk.measure, keptCount: opts.riskCount, alpha: this.risk.alpha, groups: opts.groups, lambda: this.risk.entropic_lambda, sampleWeights: opts.sampleWeights });
      quantile = stat.slice().sort((a, b) => a - b)[opts.riskCount - 1];
      diagnostics = riskDiagnostics({ stat, scores, keep: weights.map((w) => w > 0), promptScores: opts.promptScores, tailThreshold: opts.tailThreshold });
    }
    if (opts.sampleWeights) {
      if (opts.sampleWeights.length !== B || opts.sampleWeights.some((w) => !(w >= 0 && Number.isFinite(w)))) throw new Error(`PPOTrainer.step: sampleWeights must be ${B} finite weights >= 0`);
      weights = weights.map((w, b) => w * opts.sampleWeights![b]);
    }
    const keep = weights.map((w) => w > 0);
    const weightCol = tf.tensor2d(weights, [B, 1], 'float32');
    const masks = tf.mul(batch.masks, weightCol) as tf.Tensor2D;
    const advantages = maskedWhiten(g.advantages, masks);
    const keptTokens = responses.map((r, b) => (keep[b] ? r.length : 0));

    // --- PPO epochs over shuffled minibatches
    const mbStats: Record<string, number>[] = [];
    let skippedEmpty = 0;
    let gradNorm = NaN;
    const indices = Array.from({ length: B }, (_, i) => i);
    try {
      for (let epoch = 0; epoch < c.ppo_epochs; epoch++) {
        const perm = this.rng.shuffle(indices);
        for (let s = 0; s < B; s += mbs) {
          const idx = perm.slice(s, s + mbs);
          // a minibatch of unselected episodes would divide by zero in masked_mean: skip it
          if (idx.every((b) => keptTokens[b] === 0)) {
            skippedEmpty++;
            continue;
          }
          const st = this.trainMinibatch(idx, { batch, masks, logprobs: fwd.logprobs, values: g.values, advantages, returns: g.returns });
          gradNorm = st.grad_norm ?? gradNorm;
          mbStats.push(st);
        }
      }
    } finally {
      tf.dispose([scoresT, kl, weightCol, advantages, g.advantages]);
    }
    const tOptimize = performance.now();

    // --- step statistics (trl record_step_stats; masks = the reduced mask, as in the authors' code)
    const lp = fwd.logprobs.arraySync();
    const rlp = fwd.refLogprobs.arraySync();
    const fullMask = batch.masks.arraySync();
    const nsr = nonScoreRewards.arraySync();
    const klPerRow = lp.map((row, b) => row.reduce((acc, x, t) => acc + (x - rlp[b][t]) * fullMask[b][t], 0));
    const entropyPerRow = lp.map((row, b) => row.reduce((acc, x, t) => acc - x * fullMask[b][t], 0));
    const nsrPerRow = nsr.map((row, b) => row.reduce((acc, x, t) => acc + x * fullMask[b][t], 0));
    const klInput = klControllerInput(this.risk.kl_input, klPerRow, weights);
    const keptRows = keep.filter(Boolean).length;
    // 1 * x is x exactly, so 0/1 weights give the keep mask's sums bit for bit
    const meanOverB = (xs: number[]) => xs.reduce((a, x, b) => a + (keep[b] ? weights[b] * x : 0), 0) / B;
    const scoreMean = scores.reduce((a, x) => a + x, 0) / B;
    const scoreStd = B > 1 ? Math.sqrt(scores.reduce((a, x) => a + (x - scoreMean) ** 2, 0) / (B - 1)) : 0;

    const stats: StepStats = {
      'objective/kl': klInput,
      'objective/kl_all': klPerRow.reduce((a, x) => a + x, 0) / B,
      'objective/kl_coef': klCoef,
      // As in the authors' code, entropy (and KL) are summed over the kept rows and divided by B, so
      // under RA-RLHF they shrink with the kept fraction; the *_all keys are the full-batch means.
      'objective/entropy': meanOverB(entropyPerRow),
      'objective/entropy_all': entropyPerRow.reduce((a, x) => a + x, 0) / B,
      'ppo/mean_non_score_reward': meanOverB(nsrPerRow),
      'ppo/mean_scores': scoreMean,
      'ppo/std_scores': scoreStd,
      'env/reward_mean': scoreMean,
      'env/reward_std': scoreStd,
      'tokens/queries_len_mean': queries.reduce((a, q) => a + q.length, 0) / B,
      'tokens/responses_len_mean': responses.reduce((a, r) => a + r.length, 0) / B,
      'risk/alpha_n': opts.riskCount ?? B,
      'risk/kept': keptRows,
      'risk/ess': effectiveSampleSize(weights),
      'risk/weight_max': Math.max(...weights),
      'risk/quantile': quantile,
      ...diagnostics,
      'ppo/skipped_minibatches': skippedEmpty,
      'ppo/optimizer_steps': mbStats.length,
    };
    if (mbStats.length) {
      for (const k of Object.keys(mbStats[0])) stats[k === 'grad_norm' ? 'ppo/grad_norm' : `ppo/${k}`] = mbStats.reduce((a, m) => a + m[k], 0) / mbStats.length;
      stats['ppo/val/var_explained'] = 1 - stats['ppo/val/error'] / stats['ppo/returns/var'];
    }
    if (Number.isNaN(gradNorm)) delete stats['ppo/grad_norm'];
    stats['time/ppo/forward_pass'] = (tForward - t0) / 1000;
    stats['time/ppo/optimize_step'] = (tOptimize - tForward) / 1000;
    stats['time/ppo/total'] = (performance.now() - t0) / 1000;

    tf.dispose([batch.inputIds, batch.attentionMask, batch.masks, masks, fwd.logprobs, fwd.values, fwd.refLogprobs, fwd.kl, rewards, nonScoreRewards, g.returns, g.values]);
    this.klCtl.update(klInput, c.batch_size);
    return stats;
  }

  /** One optimizer step on rows `idx` (trl train_minibatch; forward with dropout off as trl's). */
  private trainMinibatch(
    idx: number[],
    d: { batch: { inputIds: tf.Tensor2D; attentionMask: tf.Tensor2D }; masks: tf.Tensor2D; logprobs: tf.Tensor2D; values: tf.Tensor2D; advantages: tf.Tensor2D; returns: tf.Tensor2D },
  ): Record<string, number> {
    const c = this.config;
    const ix = tf.tensor1d(idx, 'int32');
    const take = <T extends tf.Tensor>(x: T) => tf.gather(x, ix) as T;
    const mb = tf.tidy(() => ({
      ids: take(d.batch.inputIds),
      att: take(d.batch.attentionMask),
      masks: take(d.masks),
      oldLogprobs: take(d.logprobs),
      values: take(d.values),
      advantages: take(d.advantages),
      returns: take(d.returns),
    }));
    let statT: Record<string, tf.Scalar> = {};
    const varList = [...this.vars.values()];
    const { value: loss, grads } = tf.variableGrads(() => {
      const out = sequenceLogprobs(this.policy, mb.ids, mb.att, { training: false, returnLogits: true });
      const l = ppoLoss({
        oldLogprobs: mb.oldLogprobs,
        values: mb.values,
        logprobs: out.logprobs,
        vpreds: out.values!,
        masks: mb.masks,
        advantages: mb.advantages,
        returns: mb.returns,
        logits: out.logits,
        cliprange: c.cliprange,
        cliprangeValue: c.cliprange_value,
        vfCoef: c.vf_coef,
        ratioThreshold: c.ratio_threshold,
      });
      statT = Object.fromEntries(Object.entries(l.stats).map(([k, v]) => [k, tf.keep(v)]));
      return l.loss;
    }, varList);
    tf.dispose([ix, ...Object.values(mb)]);
    const stats: Record<string, number> = {};
    for (const [k, v] of Object.entries(statT)) stats[k] = v.dataSync()[0];
    tf.dispose([loss, ...Object.values(statT)]);
    if (!Number.isFinite(stats['loss/total'])) {
      tf.dispose(Object.values(grads));
      throw new PPONumericError(
        `PPO loss is ${stats['loss/total']} (policy ${stats['loss/policy']}, value ${stats['loss/value']}); stopping before the optimizer step`,
      );
    }
    let named = new Map<string, tf.Tensor>();
    for (const [k, v] of Object.entries(grads)) named.set(this.hfName.get(k)!, v);
    if (c.max_grad_norm !== null && c.max_grad_norm !== undefined) {
      const obj = Object.fromEntries(named);
      const clipped = clipByGlobalNorm(obj, c.max_grad_norm);
      named = new Map(Object.entries(clipped.grads));
      stats.grad_norm = clipped.norm;
    }
    this.adam.apply(named);
    tf.dispose([...named.values()]);
    return stats;
  }

  /** Everything needed to resume: KL coefficient, rng stream, Adam moments (caller disposes tensors). */
  async getState(): Promise<{ state: Record<string, unknown>; tensors: Map<string, tf.Tensor> }> {
    const a = await this.adam.getState();
    return { state: { kl_coef: this.klCtl.value, rng: this.rng.getState(), adam: a.state }, tensors: a.tensors };
  }

  async setState(s: { state: Record<string, unknown>; tensors: Map<string, tf.Tensor> }): Promise<void> {
    const st = s.state as { kl_coef: number; rng: ReturnType<Rng['getState']>; adam: { iterations: number; accBeta1: number; accBeta2: number } };
    if (typeof st.kl_coef !== 'number' || !st.rng || !st.adam) throw new Error('PPOTrainer.setState: trainer state lacks kl_coef, rng or adam');
    this.klCtl.value = st.kl_coef;
    this.rng.setState(st.rng);
    await this.adam.setState({ state: st.adam, tensors: s.tensors });
  }

  dispose(): void {
    this.adam.dispose();
  }
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** ranks[perm[i]] = i: a permutation's inverse, i.e. distinct random ranks when perm is random. */
function ranksOf(perm: number[]): number[] {
  const r = new Array<number>(perm.length);
  perm.forEach((b, i) => (r[b] = i));
  return r;
}

/** The policy's trainable parameters by HF name (LM + value head). */
function policy_vars(policy: GPT2WithValueHead): Map<string, tf.Variable> {
  return policy.namedWeights();
}
