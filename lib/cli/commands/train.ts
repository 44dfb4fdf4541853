/**
 * `rarlhf train --algo rlhf|ra-rlhf --config <file> [--set key=value ...] --out <run dir> [--resume]`
 * PPO-RLHF or RA-RLHF (soft-risk CVaR PPO) from a JSON config (see configs/*.json and
 * lib/config/schemas.ts). Ctrl-C checkpoints after the current step (exit code 130);
 * `--resume` continues from <out>/checkpoints/latest to the same result as an uninterrupted run.
 */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { initEngine } from '../../engine';
import { RUN_OPTIONS, runConfigFile } from '../run-args';
import { loadTrainConfig } from '../../config/schemas';
import { setupPPO } from '../../rl/setup';
import { trainPPO, type Algo } from '../../rl/train-loop';

const USAGE = 'usage: rarlhf train --algo rlhf|ra-rlhf --config <file> [--set key=value ...] --out <run dir> [--resume] [--no-progress]';

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...RUN_OPTIONS,
      algo: { type: 'string' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const algo = values.algo as Algo | undefined;
  if (algo !== 'rlhf' && algo !== 'ra-rlhf') throw new Error(`--algo must be rlhf or ra-rlhf\n${USAGE}`);
  const { out, configFile, saved } = runConfigFile(values, USAGE);
  let fileObj: Record<string, unknown> | undefined;
  if (configFile === saved) {
    fileObj = JSON.parse(fs.readFileSync(saved, 'utf8')) as Record<string, unknown>;
    delete fileObj.algo;
  }
  const config = loadTrainConfig(configFile, values.set ?? [], fileObj as Parameters<typeof loadTrainConfig>[2]);
  await initEngine();
  const setup = await setupPPO(config);
  for (const n of setup.notes) process.stderr.write(`[rarlhf] note: ${n}\n`);
  process.stderr.write(`[rarlhf] ${algo} on ${config.task}: ${setup.trainPrompts.length} prompts, batch ${config.ppo.batch_size}, out ${out}\n`);
  const res = await trainPPO(config, {
    algo,
    ...setup,
    outDir: out,
    resume: values.resume,
    progress: values['no-progress'] ? false : undefined,
    handleSigint: true,
  });
  console.log(JSON.stringify(res.summary));
  if (res.interrupted) {
    process.stderr.write(`[rarlhf] interrupted at step ${res.summary.steps_done}; continue with: rarlhf train --algo ${algo} --out ${out} --resume\n`);
    process.exitCode = 130;
  }
}
