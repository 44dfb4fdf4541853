/**
 * The PPO / RA-RLHF outer loop (authors' soft_risk_ppo_*.py): for each dataloader batch m,
 * sample responses, score query+response with the reward model, pick alphaN from the soft-risk
 * schedule (RA-RLHF) and run one PPOTrainer step. Writes a run folder:
 *   config.json, metrics.jsonl (one line per step), checkpoints/latest + checkpoints/final
 *   (HF layout + trainer_state.json/optimizer.safetensors), summary.json.
 * Resumable bit-exactly (weights, Adam moments, kl_coef, every Rng, dataloader position, sampler).
 * The plumbing (resume, Ctrl-C / SIGTERM / SIGHUP, NaN guard, progress, metrics lines, checkpoints)
 * is run-loop.ts, shared with SFT; this file is the algorithm: `step` below is one iteration m.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Rng } from '../engine';
import type { GPT2LMHeadModel, GPT2WithValueHead } from '../models/gpt2';
import type { RewardModel } from '../rewards/types';
import type { GPT2Tokenizer } from '../text/gpt2-tokenizer';
import type { TrainConfig } from './config';
import { checkStateFields, type StopSignal } from './checkpointing';
import { runLoop, type LoopState } from './run-loop';
import { PPONumericError, PPOTrainer, StepStats } from './ppo-trainer';
import { softRiskCount } from './risk';
import { paperBatchSteps, scaledHorizon } from './kl-scaling';
import { TASKS, type TaskSpec } from '../data/task-specs';
import { generateResponses, rewardTexts } from './rollout';
import { CrossEntropySampler, quantileBins, type SamplerState } from './prompt-sampler';

export type Algo = 'rlhf' | 'ra-rlhf';

export interface TrainPPODeps {
  algo: Algo;
  policy: GPT2WithValueHead;
  /** Frozen reference (the initial policy); never updated. */
  ref: Pick<GPT2LMHeadModel, 'forward' | 'config'>;
  tokenizer: GPT2Tokenizer;
  rewardModel: RewardModel;
  /** Query token ids (tokenizer.encode(text)[:L]). */
  trainPrompts: number[][];
  /** Run folder; null/undefined = nothing written (programmatic use). */
  outDir?: string | null;
  resume?: boolean;
  progress?: boolean;
  onStep?: (record: StepRecord) => void | Promise<void>;
  /** Polled after every step; true = checkpoint and return (SIGINT sets it too). */
  shouldStop?: () => boolean;
  /** Install SIGINT / SIGTERM / SIGHUP handlers for the duration of the run (CLI). Default false. */
  handleSigint?: boolean;
}

export type StepRecord = StepStats & { step: number; epoch: number };

export interface TrainPPOResult {
  steps: StepRecord[];
  summary: Record<string, unknown>;
  interrupted: boolean;
  /** the signal that stopped the run (the CLI exits with 128 + its number), null otherwise */
  signal: StopSignal | null;
}

interface PPOLoopState extends LoopState {
  epoch: number;
  order: number[]; // prompt order of the current epoch
  pos: number; // next batch index within `order`
  dataRng: ReturnType<Rng['getState']>;
  genRng: ReturnType<Rng['getState']>;
  /** risk.sampler cross_entropy: the sampler's bin probabilities and Rng */
  sampler?: SamplerState;
}

const finite = (x: number) => Number.isFinite(x);

export async function trainPPO(config: TrainConfig, deps: TrainPPODeps): Promise<TrainPPOResult> {
  const B = config.ppo.batch_size;
  const N = deps.trainPrompts.length;
  const batchesPerEpoch = Math.floor(N / B);
  if (batchesPerEpoch < 1) throw new Error(`trainPPO: ${N} train prompts cannot fill one batch of ppo.batch_size=${B}`);
  // risk.samples_per_prompt k: each step samples k responses for each of B / k prompts (same episodes
  // per step and the same number of steps as k = 1, so the same budget)
  const k = config.risk.samples_per_prompt;
  if (!Number.isInteger(k) || k < 1 || B % k !== 0) throw new Error(`trainPPO: risk.samples_per_prompt ${k} must be a positive integer dividing ppo.batch_size ${B}`);
  const P = B / k;
  const promptBatchesPerEpoch = Math.floor(N / P);
  const totalSteps = config.train.steps ?? batchesPerEpoch * config.train.epochs;
  const M = config.risk.M ?? batchesPerEpoch;
  const repeat = <T>(xs: readonly T[]) => xs.flatMap((x) => new Array<T>(k).fill(x));

  // ppo.horizon_scale: the miniature's horizon scaled to the paper's possible change of beta (kl-scaling.ts)
  const horizon = scaledHorizon(config.ppo.horizon, config.ppo.horizon_scale ?? null, { B, M, paperBM: paperBatchSteps(config.task) });
  const tailThreshold = (TASKS as Record<string, TaskSpec>)[config.task]?.tailThreshold; // risk/kept_tail_share; none for the demo task
  const promptScoreCache = new Map<number, number>(); // prompt index -> reward of the prompt alone (deterministic, so not checkpointed)
  const score = (idx: number[], queries: number[][]) => scorePrompts(idx, queries, promptScoreCache, deps, config.reward.batch_size);
  const trainer = new PPOTrainer({
    config: { ...config.ppo, horizon, horizon_scale: null },
    risk: { rank_by: config.risk.rank_by, kl_input: config.risk.kl_input, measure: config.risk.measure, alpha: config.risk.alpha, entropic_lambda: config.risk.entropic_lambda, mv_coef: config.risk.mv_coef },
    policy: deps.policy,
    ref: deps.ref,
    seed: config.seed,
  });
  const dataRng = new Rng(config.seed + 1);
  const genRng = new Rng(config.seed + 2);
  const initial: PPOLoopState = { step: 0, epoch: 0, order: dataRng.shuffle(range(N)), pos: 0, dataRng: dataRng.getState(), genRng: genRng.getState(), elapsed: 0 };

  // CeSoR prompt sampling: bins of the prompts' own scores (each prompt scored once per run)
  let sampler: CrossEntropySampler | null = null;
  const startSampler = async (saved?: SamplerState) => {
    if (config.risk.sampler !== 'cross_entropy') return;
    const all = range(N);
    const bins = quantileBins(await score(all, all.map((i) => deps.trainPrompts[i])), config.risk.sampler_bins);
    sampler = new CrossEntropySampler(bins, { bins: config.risk.sampler_bins, eta: config.risk.sampler_eta, minProb: config.risk.sampler_min_prob, elite: config.risk.alpha }, config.seed + 3);
    if (saved) sampler.setState(saved);
  };

  /** The next P prompts: the dataloader's shuffled epoch order, or the CeSoR sampler's draw with its importance weights. */
  const nextPrompts = (st: PPOLoopState): { prompts: number[]; weights?: number[]; bins?: number[] } => {
    if (sampler) return sampler.sample(P);
    if (st.pos >= promptBatchesPerEpoch) {
      st.epoch += 1;
      st.order = dataRng.shuffle(range(N));
      st.pos = 0;
    }
    return { prompts: st.order.slice(st.pos * P, (st.pos + 1) * P) };
  };

  // Algorithm 1, iteration m: sample responses to a batch of queries, score them, take the
  // soft-risk share alpha_m (RA-RLHF) and run one PPO step on it
  const step = async (st: PPOLoopState) => {
    const m = st.step;
    const drawn = nextPrompts(st);
    const batchIdx = repeat(drawn.prompts);
    const queries = batchIdx.map((i) => deps.trainPrompts[i]);
    const sampleWeights = drawn.weights && repeat(drawn.weights);
    const groups = k > 1 ? repeat(drawn.prompts.map((_, j) => j)) : undefined;
    const t0 = performance.now();
    // trl samples in eval mode on the first step and in train mode (dropout on) afterwards
    const responses = generateResponses(deps.policy, queries, { ...config.generation, chunk_size: config.generation.chunk_size ?? undefined }, genRng, { rolloutDropout: config.train.rollout_dropout && m > 0 });
    const t1 = performance.now();
    const scores = await scoreEpisodes(deps, queries, responses, m, config.reward.batch_size);
    const t2 = performance.now();
    const riskCount = deps.algo === 'ra-rlhf' ? softRiskCount(m, { B, alpha: config.risk.alpha, n: config.risk.n, rho: config.risk.rho, M, scheduler: config.risk.scheduler }) : undefined;
    const promptScores = riskCount !== undefined ? await score(batchIdx, queries) : undefined; // rank_by prompt_score, tail-share diagnostic
    const stats = trainer.step(queries, responses, scores, { riskCount, promptScores, tailThreshold, groups, sampleWeights });
    if (sampler && drawn.bins) {
      sampler.update(repeat(drawn.bins), scores, sampleWeights!);
      sampler.q.forEach((q, b) => (stats[`sampler/q_${b}`] = q));
    }
    const badStat = ['ppo/loss/total', 'objective/kl', 'ppo/returns/mean'].find((key) => key in stats && !finite(stats[key]));
    if (badStat) throw new PPONumericError(`${badStat} is ${stats[badStat]} at step ${m}`);
    const t3 = performance.now();
    Object.assign(st, { pos: st.pos + 1, step: m + 1, dataRng: dataRng.getState(), genRng: genRng.getState() }, sampler ? { sampler: sampler.getState() } : {});
    const tokens = responses.reduce((a, r) => a + r.length, 0);
    const times = { 'time/rollout': (t1 - t0) / 1000, 'time/score': (t2 - t1) / 1000, 'time/optimize': (t3 - t2) / 1000, 'time/step': (t3 - t0) / 1000, 'time/tokens_per_s': tokens / ((t3 - t0) / 1000) };
    return { record: { step: m, epoch: st.epoch, ...stats, ...times }, show: stats['env/reward_mean'].toFixed(3) };
  };

  const run = await runLoop<PPOLoopState, StepRecord>({
    name: 'trainPPO',
    bar: { title: deps.algo, metric: 'reward' },
    totalSteps,
    model: deps.policy,
    tokenizer: deps.tokenizer,
    outDir: deps.outDir,
    resume: deps.resume,
    config: { algo: deps.algo, ...config },
    progress: deps.progress,
    handleSigint: deps.handleSigint,
    shouldStop: deps.shouldStop,
    onStep: deps.onStep,
    noCheckpointHint: `train.save_every = ${config.train.save_every}`,
    fresh: async () => {
      await startSampler();
      return sampler ? { ...initial, sampler: (sampler as CrossEntropySampler).getState() } : initial;
    },
    restore: async (state, tensors, file) => {
      const s = checkPPOState(state, file);
      if (s.algo !== deps.algo) throw new Error(`--resume: checkpoint was written by --algo ${s.algo}, not ${deps.algo}`);
      await trainer.setState({ state: s.trainer, tensors });
      dataRng.setState(s.loop.dataRng);
      genRng.setState(s.loop.genRng);
      if (config.risk.sampler === 'cross_entropy' && !s.loop.sampler) throw new Error(`--resume: ${path.dirname(file)} has no prompt-sampler state, but risk.sampler is cross_entropy`);
      await startSampler(s.loop.sampler);
      return s.loop;
    },
    step,
    checkpoint: async (st) => {
      const t = await trainer.getState();
      return { state: { algo: deps.algo, loop: st, trainer: t.state }, tensors: t.tensors, extra: { algo: deps.algo, step: st.step, task: config.task } };
    },
    afterStep: async (st, save) => {
      if (st.step % config.train.save_every === 0 && st.step < totalSteps) await save('latest');
    },
    finish: async (_st, save) => {
      await save('latest');
      await save('final');
    },
    dispose: () => trainer.dispose(),
  });

  const { records, interrupted, state: st } = run;
  const lastK = records.slice(-Math.max(1, Math.min(5, records.length)));
  const summary = {
    algo: deps.algo,
    task: config.task,
    steps_done: st.step,
    total_steps: totalSteps,
    interrupted,
    batches_per_epoch: batchesPerEpoch,
    risk_M: M,
    kl_horizon: horizon,
    final_kl_coef: records.length ? records[records.length - 1]['objective/kl_coef'] : config.ppo.init_kl_coef,
    reward_mean_first: records[0]?.['env/reward_mean'] ?? null,
    reward_mean_last5: lastK.length ? lastK.reduce((a, r) => a + r['env/reward_mean'], 0) / lastK.length : null,
    seconds: st.elapsed,
    checkpoint: run.checkpointDir ? path.join(run.checkpointDir, interrupted ? 'latest' : 'final') : null,
  };
  if (deps.outDir) fs.writeFileSync(path.join(deps.outDir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  return { steps: records, summary, interrupted, signal: run.signal };
}

/** Scores of query + response texts; a non-finite score stops the run (the last checkpoint is kept). */
async function scoreEpisodes(deps: TrainPPODeps, queries: number[][], responses: number[][], m: number, batchSize: number): Promise<number[]> {
  const { texts } = rewardTexts(deps.tokenizer, queries, responses);
  const scores = await deps.rewardModel.score(texts, { batchSize });
  const bad = scores.findIndex((s) => !finite(s));
  if (bad >= 0) throw new PPONumericError(`reward model returned ${scores[bad]} for episode ${bad} at step ${m}: ${JSON.stringify(texts[bad].slice(0, 200))}`);
  return scores;
}

/** trainer_state.json of a PPO checkpoint, checked field by field (file named in errors). */
function checkPPOState(state: Record<string, unknown>, file: string): { loop: PPOLoopState; trainer: Record<string, unknown>; algo: string } {
  checkStateFields(state, { algo: 'string', loop: 'object', trainer: 'object' }, file);
  checkStateFields(state.loop, { step: 'int', epoch: 'int', order: 'array', pos: 'int', dataRng: 'object', genRng: 'object', elapsed: 'number' }, file, 'loop.');
  checkStateFields(state.trainer, { kl_coef: 'number', rng: 'object', adam: 'object' }, file, 'trainer.');
  checkStateFields((state.trainer as Record<string, unknown>).adam, { iterations: 'int', accBeta1: 'number', accBeta2: 'number' }, file, 'trainer.adam.');
  return state as { loop: PPOLoopState; trainer: Record<string, unknown>; algo: string };
}

/** Reward of each prompt text alone (decoded as rewardTexts decodes queries), through the cache. */
async function scorePrompts(idx: number[], queries: number[][], cache: Map<number, number>, deps: TrainPPODeps, batchSize: number): Promise<number[]> {
  const missing = idx.map((p, j) => ({ p, j })).filter(({ p }) => !cache.has(p));
  if (missing.length) {
    const { queryTexts } = rewardTexts(deps.tokenizer, missing.map(({ j }) => queries[j]), missing.map(() => []));
    const s = await deps.rewardModel.score(queryTexts, { batchSize });
    missing.forEach(({ p }, k) => {
      if (!finite(s[k])) throw new PPONumericError(`reward model returned ${s[k]} for the prompt alone of train prompt ${p}: ${JSON.stringify(queryTexts[k].slice(0, 200))}`);
      cache.set(p, s[k]);
    });
  }
  return idx.map((p) => cache.get(p)!);
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
