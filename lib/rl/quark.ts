/**
 * Quark (Lu et al., NeurIPS 2022): quantized reward konditioning. Algorithm 1 of the paper, as the
 * authors' code runs it:
 *
 *   pool <- samples of the initial policy p0 on training prompts, scored            (exploration 0)
 *   repeat: every sample_interval steps, sample with the best-quantile token r_1 prepended,
 *           score, add to the pool                                                  (exploration)
 *           sort the pool by reward, cut it into K equal quantiles, tag each (x, y) with r_k  (quantization)
 *           step on a batch of the pool:                                            (learning)
 *             loss = masked mean over response tokens of
 *                    -log p(y_t | r_k, x, y_<t) + kl_coef KL(p(. | r_k, x, y_<t) || p0(. | x, y_<t)) - entropy_coef H
 *   generate with r_1 prepended.
 *
 * The KL uses the policy's logits over the text vocabulary only (the code's logits[..., :-K]); the
 * entropy is over the full vocabulary; p0 sees the query without the control token. Optimizer:
 * Adam with linear warm-up then linear decay (get_linear_schedule_with_warmup); no gradient
 * clipping by default (the code's --clip_grad is off), and no dropout (the code's policy stays in
 * eval mode after its first sampling round). Defaults in lib/baselines/config.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf } from '../engine';
import { Rng } from '../engine/rng';
import { generate } from '../models/generate';
import { RestrictedVocabLM, withControlTokens } from '../models/control-tokens';
import type { GPT2LMHeadModel } from '../models/gpt2';
import type { GPT2Tokenizer } from '../text/gpt2-tokenizer';
import type { RewardModel } from '../rewards/types';
import { NamedAdam } from './adam';
import { clipByGlobalNorm } from './core';

export interface QuarkOptions {
  /** reward quantiles = control tokens (paper: 5) */
  K: number;
  kl_coef: number;
  entropy_coef: number;
  learning_rate: number;
  batch_size: number;
  /** optimizer steps in all */
  steps: number;
  /** an exploration round every this many steps (step 0: the initial policy's round) */
  sample_interval: number;
  /** prompts sampled per exploration round (they cycle through the training prompts) */
  prompts_per_round: number;
  warmup_steps: number;
  max_grad_norm: number | null;
  max_new_tokens: number;
  min_new_tokens: number;
  seed: number;
}

export interface PoolEntry {
  query: number[];
  response: number[];
  /** the text the reward scored: decoded query + response */
  score: number;
}

/**
 * Pure: the control token index (0 = best) of each pool entry, as Quark's DataPool: sorted by
 * reward, best first (ties keep pool order), floor(N / K) entries per quantile, the remainder in
 * the worst quantile K - 1.
 */
export function quantileTokens(scores: readonly number[], K: number): number[] {
  if (!Number.isInteger(K) || K < 1) throw new Error(`quantileTokens: K must be a positive integer, got ${K}`);
  const order = scores.map((_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
  const per = Math.floor(scores.length / K);
  const out = new Array<number>(scores.length);
  order.forEach((idx, rank) => { out[idx] = per === 0 ? K - 1 : Math.min(Math.floor(rank / per), K - 1); });
  return out;
}

/** Pure: HF get_linear_schedule_with_warmup's factor at `step` (0-based). */
export function warmupLinearFactor(step: number, warmup: number, total: number): number {
  if (step < warmup) return step / Math.max(1, warmup);
  return Math.max(0, (total - step) / Math.max(1, total - warmup));
}

interface LossParts { loss: tf.Scalar; lm: tf.Scalar; kl: tf.Scalar; entropy: tf.Scalar }

/** The reference's logits at the response positions [B, R, V0] (refIds / refMask: the row without the control token). */
export function refResponseLogits(ref: GPT2LMHeadModel, ids: tf.Tensor2D, refMask: tf.Tensor2D, responseStart: number): tf.Tensor3D {
  return tf.tidy(() => {
    const [B, L] = ids.shape;
    return ref.forward({ inputIds: ids, attentionMask: refMask, training: false }).logits.slice([0, responseStart - 1, 0], [B, L - responseStart, ref.config.vocab_size]) as tf.Tensor3D;
  });
}

/**
 * Quark's loss on one batch. ids [B, L]: left-padded [r_k, query] then right-padded response;
 * responseStart = the column of the first response token; mask 1 on real tokens; refLogits from
 * refResponseLogits (computed outside the gradient).
 */
export function quarkLoss(policy: GPT2LMHeadModel, refLogits: tf.Tensor3D, ids: tf.Tensor2D, mask: tf.Tensor2D, responseStart: number, o: Pick<QuarkOptions, 'kl_coef' | 'entropy_coef'>): LossParts {
  return tf.tidy(() => {
    const [B, L] = ids.shape;
    const R = L - responseStart;
    const targets = ids.slice([0, responseStart], [B, R]);
    const m = mask.slice([0, responseStart], [B, R]).toFloat();
    const denom = m.sum().maximum(1);
    const full = policy.forward({ inputIds: ids, attentionMask: mask, training: false }).logits.slice([0, responseStart - 1, 0], [B, R, policy.config.vocab_size]);
    const logp = tf.logSoftmax(full);
    const lm = tf.neg(tf.sum(logp.mul(tf.oneHot(targets, policy.config.vocab_size)), -1));
    const entropy = tf.neg(tf.sum(tf.exp(logp).mul(logp), -1));
    const textVocab = refLogits.shape[2];
    const logq = tf.logSoftmax(full.slice([0, 0, 0], [B, R, textVocab]));
    const kl = tf.sum(tf.exp(logq).mul(logq.sub(tf.logSoftmax(refLogits))), -1);
    const mean = (x: tf.Tensor) => x.mul(m).sum().div(denom) as tf.Scalar;
    const total = lm.add(kl.mul(o.kl_coef)).sub(entropy.mul(o.entropy_coef));
    return { loss: mean(total), lm: mean(lm), kl: mean(kl), entropy: mean(entropy) };
  });
}

/** Rows of the batch layout quarkLoss reads. `ctrl` null = no control token (the column is masked). */
export function quarkBatch(rows: readonly { ctrl: number | null; query: number[]; response: number[] }[], pad: number): { ids: number[][]; refIds: number[][]; mask: number[][]; refMask: number[][]; responseStart: number } {
  const Lq = 1 + Math.max(...rows.map((r) => r.query.length));
  const Lr = Math.max(...rows.map((r) => r.response.length));
  const ids: number[][] = [], refIds: number[][] = [], mask: number[][] = [], refMask: number[][] = [];
  for (const r of rows) {
    const left = Lq - 1 - r.query.length;
    const right = Lr - r.response.length;
    const body = [...r.query, ...r.response, ...new Array<number>(right).fill(pad)];
    ids.push([...new Array<number>(left).fill(pad), r.ctrl ?? pad, ...body]);
    refIds.push([...new Array<number>(left + 1).fill(pad), ...body]); // the reference has no control token in its vocabulary
    const tail = [...new Array<number>(r.query.length + r.response.length).fill(1), ...new Array<number>(right).fill(0)];
    mask.push([...new Array<number>(left).fill(0), r.ctrl === null ? 0 : 1, ...tail]);
    refMask.push([...new Array<number>(left + 1).fill(0), ...tail]);
  }
  return { ids, refIds, mask, refMask, responseStart: Lq };
}

export interface QuarkDeps {
  /** the initial policy p0 (also the reference); not modified */
  init: GPT2LMHeadModel;
  tokenizer: GPT2Tokenizer;
  prompts: number[][];
  reward: RewardModel;
  outDir: string;
  onStep?: (step: number, rec: Record<string, number>) => void;
}

export interface QuarkResult {
  policy: GPT2LMHeadModel;
  /** id of the best-quantile control token (= the text vocabulary size) */
  bestToken: number;
  rewardCalls: number;
  summary: Record<string, unknown>;
}

/** Train a Quark policy; writes <outDir>/metrics.jsonl (one line per step and per exploration round). */
export async function trainQuark(o: QuarkOptions, deps: QuarkDeps): Promise<QuarkResult> {
  const rng = new Rng(o.seed);
  const V0 = deps.init.config.vocab_size;
  const eos = deps.tokenizer.eosTokenId;
  const policy = withControlTokens(deps.init, o.K, rng);
  const control = (k: number) => V0 + k; // r_1 (best) = V0
  const vars = policy.namedWeights();
  const varList = [...vars.values()];
  const hfName = new Map([...vars].map(([n, v]) => [v.name, n]));
  const adam = new NamedAdam(vars, o.learning_rate);
  fs.mkdirSync(deps.outDir, { recursive: true });
  const metrics = path.join(deps.outDir, 'metrics.jsonl');
  fs.writeFileSync(metrics, '');
  const log = (rec: Record<string, unknown>) => fs.appendFileSync(metrics, JSON.stringify(rec) + '\n');

  const pool: PoolEntry[] = [];
  let tokens: number[] = [];
  let order: number[] = [];
  let cursor = 0;
  let nextPrompt = 0;
  let rewardCalls = 0;
  const t0 = performance.now();

  const explore = async (step: number) => {
    const qs = Array.from({ length: o.prompts_per_round }, () => deps.prompts[nextPrompt++ % deps.prompts.length]);
    const conditioned = step > 0;
    const model = conditioned ? new RestrictedVocabLM(policy, V0) : deps.init;
    const scores: number[] = [];
    for (let i = 0; i < qs.length; i += o.batch_size) {
      const batch = qs.slice(i, i + o.batch_size);
      const out = generate(model, conditioned ? batch.map((q) => [control(0), ...q]) : batch, { maxNewTokens: o.max_new_tokens, minNewTokens: o.min_new_tokens, topK: 0, topP: 1, temperature: 1, eosTokenId: eos, rng });
      const texts = batch.map((q, j) => deps.tokenizer.decode([...q, ...out.responses[j]]));
      const s = await deps.reward.score(texts);
      rewardCalls += s.length;
      batch.forEach((q, j) => pool.push({ query: q, response: out.responses[j], score: s[j] }));
      scores.push(...s);
    }
    tokens = quantileTokens(pool.map((p) => p.score), o.K);
    order = rng.shuffle(pool.map((_, i) => i));
    cursor = 0;
    const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
    log({ step, round: conditioned ? 'policy' : 'init', sampled: scores.length, pool: pool.length, 'env/reward_mean': mean });
  };

  try {
    for (let step = 0; step < o.steps; step++) {
      if (step % o.sample_interval === 0) await explore(step);
      if (cursor + o.batch_size > order.length) { order = rng.shuffle(order); cursor = 0; } // drop_last, reshuffle
      const idx = order.slice(cursor, cursor + o.batch_size);
      cursor += o.batch_size;
      const b = quarkBatch(idx.map((i) => ({ ctrl: control(tokens[i]), query: pool[i].query, response: pool[i].response })), eos);
      const ids = tf.tensor2d(b.ids, undefined, 'int32');
      const mask = tf.tensor2d(b.mask, undefined, 'int32');
      const refIds = tf.tensor2d(b.refIds, undefined, 'int32');
      const refMask = tf.tensor2d(b.refMask, undefined, 'int32');
      const refLogits = refResponseLogits(deps.init, refIds, refMask, b.responseStart);
      let parts: Omit<LossParts, 'loss'> | undefined;
      const { value, grads } = tf.variableGrads(() => {
        const p = quarkLoss(policy, refLogits, ids, mask, b.responseStart, o);
        parts = { lm: tf.keep(p.lm), kl: tf.keep(p.kl), entropy: tf.keep(p.entropy) };
        return p.loss;
      }, varList);
      let named = new Map(Object.entries(grads).map(([k, g]) => [hfName.get(k)!, g]));
      let gradNorm = NaN;
      if (o.max_grad_norm !== null) {
        const c = clipByGlobalNorm(Object.fromEntries(named), o.max_grad_norm);
        const kept = new Set(Object.values(c.grads));
        tf.dispose(Object.values(grads).filter((g) => !kept.has(g))); // unclipped gradients come back as they are
        named = new Map(Object.entries(c.grads));
        gradNorm = c.norm;
      }
      // one read-back per step for the four numbers
      const losses = tf.tidy(() => tf.stack([value, parts!.lm, parts!.kl, parts!.entropy]));
      const [loss, lm, kl, entropy] = Array.from(losses.dataSync());
      losses.dispose();
      if (!Number.isFinite(loss)) throw new Error(`trainQuark: loss is ${loss} at step ${step + 1}`);
      adam.learningRate = o.learning_rate * warmupLinearFactor(step, o.warmup_steps, o.steps);
      adam.apply(named);
      const rec = {
        step: step + 1, 'loss/total': loss, 'loss/lm': lm, 'loss/kl': kl, 'loss/entropy': entropy,
        learning_rate: adam.learningRate, grad_norm: gradNorm, seconds: (performance.now() - t0) / 1000,
      };
      tf.dispose([value, ids, mask, refIds, refMask, refLogits, parts!.lm, parts!.kl, parts!.entropy, ...named.values()]);
      log(rec);
      deps.onStep?.(step + 1, rec);
    }
  } catch (e) {
    policy.dispose();
    throw e;
  } finally {
    adam.dispose();
  }
  const summary = { steps: o.steps, pool: pool.length, reward_calls: rewardCalls, best_token: control(0), control_tokens: o.K, seconds: (performance.now() - t0) / 1000 };
  return { policy, bestToken: control(0), rewardCalls, summary };
}
