/**
 * The PPO / RA-RLHF outer loop (authors' soft_risk_ppo_*.py): for each dataloader batch m,
 * sample responses, score query+response with the reward model, pick alphaN from the soft-risk
 * schedule (RA-RLHF) and run one PPOTrainer step. Writes a run folder:
 *   config.json, metrics.jsonl (one line per step), checkpoints/latest + checkpoints/final
 *   (HF layout + trainer_state.json/optimizer.safetensors), summary.json.
 * Resumable bit-exactly (weights, Adam moments, kl_coef, every Rng, dataloader position); Ctrl-C,
 * SIGTERM and SIGHUP finish the current step, checkpoint and return; NaN/Inf stops without
 * touching the last good checkpoint. Each metrics line also logs process RSS and the live tensor
 * count (`memory/*`), so a leak shows as a rising line.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SingleBar } from 'cli-progress';
import { Rng, tf } from '../engine';
import type { GPT2LMHeadModel, GPT2WithValueHead } from '../models/gpt2';
import type { RewardModel } from '../rewards/types';
import type { GPT2Tokenizer } from '../text/gpt2-tokenizer';
import type { TrainConfig } from './config';
import { StopSignals, checkStateFields, loadTrainingCheckpoint, recoverCheckpointFolder, saveTrainingCheckpoint, truncateMetrics, type StopSignal } from './checkpointing';
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

interface LoopState {
  step: number; // next step to run (0-based, = m of the schedule)
  epoch: number;
  order: number[]; // prompt order of the current epoch
  pos: number; // next batch index within `order`
  dataRng: ReturnType<Rng['getState']>;
  genRng: ReturnType<Rng['getState']>;
  elapsed: number;
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
  const out = deps.outDir ?? null;
  const ckptDir = out ? path.join(out, 'checkpoints') : null;

  // ppo.horizon_scale: the miniature's horizon scaled to the paper's possible change of beta (kl-scaling.ts)
  const horizon = scaledHorizon(config.ppo.horizon, config.ppo.horizon_scale ?? null, { B, M, paperBM: paperBatchSteps(config.task) });
  const tailThreshold = (TASKS as Record<string, TaskSpec>)[config.task]?.tailThreshold; // risk/kept_tail_share; none for the demo task
  const promptScoreCache = new Map<number, number>(); // prompt index -> reward of the prompt alone (deterministic, so not checkpointed)
  const trainer = new PPOTrainer({
    config: { ...config.ppo, horizon, horizon_scale: null },
    risk: { rank_by: config.risk.rank_by, kl_input: config.risk.kl_input, measure: config.risk.measure, alpha: config.risk.alpha, entropic_lambda: config.risk.entropic_lambda, mv_coef: config.risk.mv_coef },
    policy: deps.policy,
    ref: deps.ref,
    seed: config.seed,
  });
  const dataRng = new Rng(config.seed + 1);
  const genRng = new Rng(config.seed + 2);
  let st: LoopState = { step: 0, epoch: 0, order: dataRng.shuffle(range(N)), pos: 0, dataRng: dataRng.getState(), genRng: genRng.getState(), elapsed: 0 };
  const records: StepRecord[] = [];

  if (out) fs.mkdirSync(out, { recursive: true });
  const metricsFile = out ? path.join(out, 'metrics.jsonl') : null;
  if (ckptDir) recoverCheckpointFolder(ckptDir, deps.resume ?? false);
  let savedStep: number | null = null; // step count held by checkpoints/latest (for error messages)
  if (deps.resume) {
    if (!ckptDir) throw new Error('trainPPO: resume needs outDir');
    const ts = loadTrainingCheckpoint(path.join(ckptDir, 'latest'), deps.policy);
    let s: { loop: LoopState; trainer: Record<string, unknown>; algo: string };
    try {
      s = checkPPOState(ts.state, path.join(ckptDir, 'latest', 'trainer_state.json'));
      if (s.algo !== deps.algo) throw new Error(`--resume: checkpoint was written by --algo ${s.algo}, not ${deps.algo}`);
      await trainer.setState({ state: s.trainer, tensors: ts.tensors });
    } catch (e) {
      trainer.dispose();
      throw e;
    } finally {
      for (const t of ts.tensors.values()) t.dispose();
    }
    st = s.loop;
    savedStep = st.step;
    dataRng.setState(st.dataRng);
    genRng.setState(st.genRng);
    if (config.risk.sampler === 'cross_entropy' && !st.sampler) throw new Error(`--resume: ${path.join(ckptDir, 'latest')} has no prompt-sampler state, but risk.sampler is cross_entropy`);
    // keep the metrics of the steps the checkpoint covers; drop lines of steps that will rerun
    if (metricsFile) records.push(...truncateMetrics<StepRecord>(metricsFile, st.step));
  } else if (metricsFile) {
    fs.writeFileSync(metricsFile, '');
    fs.writeFileSync(path.join(out!, 'config.json'), JSON.stringify({ algo: deps.algo, ...config }, null, 2) + '\n');
  }

  const save = async (name: string) => {
    if (!ckptDir) return;
    const t = await trainer.getState();
    if (name === 'latest') savedStep = st.step;
    try {
      saveTrainingCheckpoint(
        path.join(ckptDir, name),
        { config: deps.policy.config, weights: deps.policy.namedWeights(), tokenizer: deps.tokenizer, extra: { algo: deps.algo, step: st.step, task: config.task } },
        { state: { algo: deps.algo, loop: st, trainer: t.state }, tensors: t.tensors },
      );
    } finally {
      for (const x of t.tensors.values()) x.dispose();
    }
  };

  const signals = new StopSignals(deps.handleSigint ?? false);
  const showBar = deps.progress ?? Boolean(process.stderr.isTTY);
  const bar = showBar ? new SingleBar({ stream: process.stderr, format: `${deps.algo} [{bar}] {value}/{total} steps | ETA {eta_formatted} | reward {reward}` }) : null;
  bar?.start(totalSteps, st.step, { reward: 'n/a' });

  const t0 = performance.now() - st.elapsed * 1000;
  let interrupted = false;
  try {
    // CeSoR prompt sampling: bins of the prompts' own scores (each prompt scored once per run)
    let sampler: CrossEntropySampler | null = null;
    if (config.risk.sampler === 'cross_entropy') {
      const all = range(N);
      const promptScores = await scorePrompts(all, all.map((i) => deps.trainPrompts[i]), promptScoreCache, deps, config.reward.batch_size);
      sampler = new CrossEntropySampler(quantileBins(promptScores, config.risk.sampler_bins), { bins: config.risk.sampler_bins, eta: config.risk.sampler_eta, minProb: config.risk.sampler_min_prob, elite: config.risk.alpha }, config.seed + 3);
      if (st.sampler) sampler.setState(st.sampler);
      else st.sampler = sampler.getState();
    }
    while (st.step < totalSteps) {
      if (!sampler && st.pos >= promptBatchesPerEpoch) {
        st.epoch += 1;
        st.order = dataRng.shuffle(range(N));
        st.pos = 0;
      }
      const m = st.step;
      const drawn = sampler ? sampler.sample(P) : null;
      const promptIdx = drawn ? drawn.prompts : st.order.slice(st.pos * P, (st.pos + 1) * P);
      const repeat = <T>(xs: readonly T[]) => xs.flatMap((x) => new Array<T>(k).fill(x));
      const batchIdx = repeat(promptIdx);
      const queries = batchIdx.map((i) => deps.trainPrompts[i]);
      const groups = k > 1 ? repeat(promptIdx.map((_, j) => j)) : undefined;
      const sampleWeights = drawn ? repeat(drawn.weights) : undefined;
      const tStep = performance.now();
      const responses = generateResponses(deps.policy, queries, { ...config.generation, chunk_size: config.generation.chunk_size ?? undefined }, genRng, {
        // trl samples in eval mode on the first step and in train mode (dropout on) afterwards
        rolloutDropout: config.train.rollout_dropout && m > 0,
      });
      const tGen = performance.now();
      const { texts } = rewardTexts(deps.tokenizer, queries, responses);
      const scores = await deps.rewardModel.score(texts, { batchSize: config.reward.batch_size });
      const tScore = performance.now();
      const bad = scores.findIndex((s) => !finite(s));
      if (bad >= 0) throw new PPONumericError(`reward model returned ${scores[bad]} for episode ${bad} at step ${m}: ${JSON.stringify(texts[bad].slice(0, 200))}`);
      const riskCount = deps.algo === 'ra-rlhf' ? softRiskCount(m, { B, alpha: config.risk.alpha, n: config.risk.n, rho: config.risk.rho, M, scheduler: config.risk.scheduler }) : undefined;
      // prompt scores (rank_by prompt_score, tail-share diagnostic): each prompt scored once per run
      const promptScores = riskCount !== undefined ? await scorePrompts(batchIdx, queries, promptScoreCache, deps, config.reward.batch_size) : undefined;
      const stats = trainer.step(queries, responses, scores, { riskCount, promptScores, tailThreshold, groups, sampleWeights });
      if (sampler && drawn) {
        sampler.update(repeat(drawn.bins), scores, sampleWeights!);
        sampler.q.forEach((q, b) => (stats[`sampler/q_${b}`] = q));
      }
      const badStat = ['ppo/loss/total', 'objective/kl', 'ppo/returns/mean'].find((k) => k in stats && !finite(stats[k]));
      if (badStat) throw new PPONumericError(`${badStat} is ${stats[badStat]} at step ${m}`);
      const tEnd = performance.now();
      const genTokens = responses.reduce((a, r) => a + r.length, 0);
      st.pos += 1;
      st.step += 1;
      st.dataRng = dataRng.getState();
      st.genRng = genRng.getState();
      if (sampler) st.sampler = sampler.getState();
      st.elapsed = (tEnd - t0) / 1000;
      const rec: StepRecord = {
        step: m,
        epoch: st.epoch,
        ...stats,
        'time/rollout': (tGen - tStep) / 1000,
        'time/score': (tScore - tGen) / 1000,
        'time/optimize': (tEnd - tScore) / 1000,
        'time/step': (tEnd - tStep) / 1000,
        'time/tokens_per_s': genTokens / ((tEnd - tStep) / 1000),
        seconds: st.elapsed,
        'memory/rss_mb': process.memoryUsage().rss / 2 ** 20,
        'memory/num_tensors': tf.memory().numTensors,
      };
      records.push(rec);
      if (metricsFile) fs.appendFileSync(metricsFile, JSON.stringify(rec) + '\n');
      await deps.onStep?.(rec);
      bar?.update(st.step, { reward: rec['env/reward_mean'].toFixed(3) });
      const stop = (await signals.poll()) || (deps.shouldStop?.() ?? false);
      if (stop && st.step < totalSteps) {
        await save('latest');
        interrupted = true;
        break;
      }
      if (st.step % config.train.save_every === 0 && st.step < totalSteps) await save('latest');
    }
    if (!interrupted) {
      await save('latest');
      await save('final');
    }
  } catch (e) {
    if (e instanceof PPONumericError) {
      const latest = ckptDir ? path.join(ckptDir, 'latest') : null;
      const where = / at step \d+/.test(e.message) ? '' : ` at step ${st.step}`; // PPOTrainer does not know the step
      const last = latest && fs.existsSync(latest)
        ? `; the last good checkpoint is ${latest} (after ${savedStep ?? '?'} steps; continue with --resume)`
        : `; no checkpoint was written yet${ckptDir ? ` (train.save_every = ${config.train.save_every})` : ' (no outDir)'}`;
      throw new Error(where ? `training stopped${where}: ${e.message}${last}` : `training stopped: ${e.message}${last}`);
    }
    throw e;
  } finally {
    bar?.stop();
    signals.dispose();
    trainer.dispose();
  }

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
    checkpoint: ckptDir ? path.join(ckptDir, interrupted ? 'latest' : 'final') : null,
  };
  if (out) fs.writeFileSync(path.join(out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  return { steps: records, summary, interrupted, signal: interrupted ? signals.signal : null };
}

/** trainer_state.json of a PPO checkpoint, checked field by field (file named in errors). */
function checkPPOState(state: Record<string, unknown>, file: string): { loop: LoopState; trainer: Record<string, unknown>; algo: string } {
  checkStateFields(state, { algo: 'string', loop: 'object', trainer: 'object' }, file);
  checkStateFields(state.loop, { step: 'int', epoch: 'int', order: 'array', pos: 'int', dataRng: 'object', genRng: 'object', elapsed: 'number' }, file, 'loop.');
  checkStateFields(state.trainer, { kl_coef: 'number', rng: 'object', adam: 'object' }, file, 'trainer.');
  checkStateFields((state.trainer as Record<string, unknown>).adam, { iterations: 'int', accBeta1: 'number', accBeta2: 'number' }, file, 'trainer.adam.');
  return state as { loop: LoopState; trainer: Record<string, unknown>; algo: string };
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
