/**
 * The kit reward model as a cached repro/study stage, for either architecture
 * (lib/rewards/arch.ts): `kitRewardStage('transformer')` is the REWARD_KINDS entry (pipeline.ts)
 * behind a study spec's `"reward": "transformer"` / ReproOptions.reward.
 *
 * `kitRewardStage('linear')` reproduces the existing "linear" entry exactly (stage name
 * `reward-<task>`, key `{ kind, reward: cfg.reward }`), so it can replace it without invalidating
 * caches. The transformer stage is `reward-<task>-transformer`, keyed by its hyperparameters too.
 */
import * as path from 'node:path';
import { runStage } from '../pipeline/run-dir';
import { trainKitReward, type RewardArch } from '../rewards/arch';
import { DEFAULT_TRANSFORMER_HYPER, QUICK_TRANSFORMER } from '../rewards/train-transformer';
import type { Progress, Stage, StageRecord } from '../pipeline/run-dir';
import type { TaskData } from '../data/tasks';
import type { ReproConfig } from './config';

/** What a reward stage gets from the repro/study pipeline. */
export interface RewardStageContext {
  cfg: ReproConfig;
  task: TaskData;
  dataDir?: string;
  stage: (name: string, key: unknown) => Stage;
  progress: Progress;
  timings: StageRecord[];
  /** --quick: test-sized reward model where the kind has one (transformer) */
  quick?: boolean;
}

/** A REWARD_KINDS entry; `quick` in the context picks the test-sized transformer. */
export function kitRewardStage(arch: RewardArch): (c: RewardStageContext) => Promise<string> {
  return async ({ cfg, task, dataDir, stage, progress, timings, quick }) => {
    const kind = task.spec.rewardTask;
    const transformer = arch === 'transformer';
    const rwStage = transformer
      ? stage(`reward-${kind}-transformer`, { kind, arch, limit: cfg.reward.limit, quick: !!quick, hyper: quick ? QUICK_TRANSFORMER : DEFAULT_TRANSFORMER_HYPER[kind] })
      : stage(`reward-${kind}`, { kind, reward: cfg.reward });
    await runStage(rwStage, progress, async (st) => {
      const log = (m: string) => {
        st.log({ msg: m });
        progress.log(`  ${m}`);
      };
      const hyper = !transformer && cfg.reward.hashBits ? { hashBits: cfg.reward.hashBits } : undefined;
      // quick transformer: its own row count (QUICK_TRANSFORMER.limit), not the linear model's
      const limit = transformer && quick ? undefined : (cfg.reward.limit ?? undefined);
      const { model, fit } = await trainKitReward(kind, arch, { dataDir, limit, hyper, log, quick: transformer && quick });
      await model.save(path.join(st.dir, 'model'));
      model.dispose();
      return { arch, steps: fit.steps, trainSeconds: fit.seconds };
    }, timings);
    return path.join(rwStage.dir, 'model');
  };
}
