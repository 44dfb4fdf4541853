/**
 * `rarlhf study`: arms x seeds of PPO runs on a repro miniature, then a paired comparison of every
 * arm with the baseline (lib/study/report.ts).
 *
 *   shared, cached exactly as `rarlhf repro` (prepareRepro): tokenizer -> pretrain -> SFT; reward model
 *   per arm and seed, <out>/<arm>/seed-<s>/:  the trainPPO run folder (config.json, metrics.jsonl,
 *                                             checkpoints/final), generations.jsonl, eval/ (done marker + perplexity)
 *   <out>/study.json (resolved spec), results.md, results.json, figures/
 *
 * Resumable: every arm-seed is a pair of cached stages (done.json written last), so a study stopped
 * at any point (kill -9 included) skips what finished and restarts a half-finished arm-seed from
 * its first step; runs are seeded, so the result equals an uninterrupted run's.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { acquireRunLock } from '../rl/run-folder';
import { getTaskSpec } from '../data/tasks';
import { reproConfig } from '../repro/config';
import { REWARD_KINDS, prepareRepro, type ReproContext } from '../repro/pipeline';
import { Stage, configHash, runStage, writeJson } from '../pipeline/run-dir';
import { AutoModelForCausalLM } from '../models/pretrained';
import { ppoTrainConfig, runPPOStage } from '../pipeline/ppo-adapter';
import { generationRows } from '../pipeline/generations';
import { writeGenerations } from '../eval/generations';
import { loadStudySpec, type StudyArm, type StudySpec } from './spec';
import { writeStudyReport, type ArmSeedRun } from './report';

export interface StudyOptions {
  /** spec file (errors name it) */
  specFile: string;
  out: string;
  dataDir?: string;
  /** shared stage cache (default <out>/../cache, as repro) */
  cacheDir?: string;
  /** test-sized models and budgets (repro --quick) */
  quick?: boolean;
  quiet?: boolean;
  png?: boolean;
}

export interface StudyResult {
  out: string;
  results: string;
  json: string;
  totalSeconds: number;
}

export async function runStudy(o: StudyOptions): Promise<StudyResult> {
  const t0 = performance.now();
  const spec = loadStudySpec(o.specFile);
  if (!Object.hasOwn(REWARD_KINDS, spec.reward)) throw new Error(`${o.specFile}: reward: unknown reward-model kind "${spec.reward}" (known: ${Object.keys(REWARD_KINDS).join(', ')})`);
  // every arm's overrides are checked against the train schema before anything slow runs
  const cfg0 = reproConfig(getTaskSpec(spec.task), { quick: o.quick, pretrainTexts: spec.pretrain_texts, trainPrompts: spec.train_prompts });
  spec.arms.forEach((arm, i) => {
    try {
      ppoTrainConfig({ task: cfg0.task, ppo: cfg0.ppo, risk: cfg0.risk, seed: 0, sets: arm.set });
    } catch (e) {
      throw new Error(`${o.specFile}: arms[${i}].set ("${arm.name}"): ${(e as Error).message}`);
    }
  });

  // one study process per folder (a second one is refused naming the holder); reruns resume
  const lock = acquireRunLock(o.out, `rarlhf study --spec ${o.specFile}`);
  try {
    return await runLocked(o, spec, t0);
  } finally {
    lock.release();
  }
}

async function runLocked(o: StudyOptions, spec: StudySpec, t0: number): Promise<StudyResult> {
  const ctx = await prepareRepro({
    task: spec.task, dataDir: o.dataDir, seeds: spec.seeds, out: o.out, cacheDir: o.cacheDir, quick: o.quick,
    pretrainTexts: spec.pretrain_texts, trainPrompts: spec.train_prompts, quiet: o.quiet, png: o.png, reward: spec.reward,
  }, 'study');
  writeJson(path.join(ctx.out, 'study.json'), { spec, specFile: path.resolve(o.specFile), quick: o.quick ?? false, cache: ctx.cache, config: ctx.cfg });

  const runs: ArmSeedRun[] = [];
  try {
    // seeds outermost: a study stopped early already has every arm for the first seeds
    for (const seed of spec.seeds) for (const arm of spec.arms) runs.push(await runArmSeed(ctx, arm, seed));
    const r = await writeStudyReport(ctx, spec, runs, { png: o.png ?? true, quick: o.quick ?? false, t0 });
    return { out: ctx.out, results: r.md, json: r.json, totalSeconds: r.totalSeconds };
  } finally {
    await ctx.reward.dispose?.();
  }
}

/** One arm-seed: train (cached stage = the run folder), then generate + perplexity (cached stage eval/). */
async function runArmSeed(ctx: ReproContext, arm: StudyArm, seed: number): Promise<ArmSeedRun> {
  const { cfg, shared, progress, timings } = ctx;
  const dir = path.join(ctx.out, arm.slug, `seed-${seed}`);
  const trainKey = { arm: { algo: arm.algo, set: arm.set }, seed, ppo: cfg.ppo, risk: cfg.risk, sft: shared.sft, reward: shared.reward, trainPrompts: ctx.trainPrompts.length };
  await runStage(new Stage(dir, `${arm.name} seed ${seed}`, trainKey), progress, async (st) =>
    runPPOStage({
      algo: arm.algo === 'ra-rlhf' ? 'ra_rlhf' : 'rlhf', task: cfg.task, initDir: shared.sft, outDir: st.dir, prompts: ctx.trainPrompts, reward: ctx.reward,
      tokenizer: shared.tokenizer, ppo: cfg.ppo, risk: cfg.risk, seed, progress, sets: arm.set, rewardDir: shared.reward, dataDir: ctx.dataDir,
    }), timings);
  const ckpt = path.join(dir, 'checkpoints', 'final');
  const genFile = path.join(dir, 'generations.jsonl');
  const evalKey = { train: configHash(trainKey), eval: cfg.eval, prompts: configHash(ctx.testPrompts.map((p) => p.query)), pplTexts: configHash(ctx.pplTexts) };
  const ev = await runStage(new Stage(path.join(dir, 'eval'), `${arm.name} seed ${seed} eval`, evalKey), progress, async () => {
    const lm = await AutoModelForCausalLM.fromPretrained(ckpt, { requireTokenizer: true });
    try {
      progress.start('generate', ctx.testPrompts.length);
      // generation seed = the PPO seed, as repro: every arm of a seed samples with the same stream
      const rows = await generationRows(ctx.testPrompts.map((p) => ({ prompt: p.query, cls: p.label })), [{ name: arm.slug, ...lm }], ctx.reward, {
        maxNewTokens: cfg.eval.maxNewTokens, minNewTokens: cfg.eval.minNewTokens, seed, onProgress: (d) => progress.update(d),
      });
      progress.stop();
      writeGenerations(genFile, rows);
    } finally {
      lm.model.dispose();
    }
    return { rows: ctx.testPrompts.length, perplexity: await ctx.pplOf(ckpt) };
  }, timings);
  if (!fs.existsSync(genFile)) throw new Error(`${genFile}: missing although ${path.join(dir, 'eval', 'done.json')} says the evaluation finished; delete that file to redo it`);
  return { arm, seed, dir, genFile, perplexity: ev.perplexity as number };
}

export type { StudySpec };
