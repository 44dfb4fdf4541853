/**
 * `rarlhf train --algo rlhf|ra-rlhf --config <file> [--set key=value ...] [--data-dir <dir>] --out <run dir> [--resume]`
 * PPO-RLHF or RA-RLHF (soft-risk CVaR PPO) from a JSON config (see configs/*.json and
 * lib/rl/config.ts). The run folder is locked for the run; a fresh run refuses a folder that
 * holds one (--force deletes it). Ctrl-C / SIGTERM / SIGHUP checkpoint after the current step
 * (exit 130 / 143 / 129); `--resume` checks the config against the folder's config.json and
 * continues from <out>/checkpoints/latest to the same result as an uninterrupted run.
 */
import { parseArgs } from 'node:util';
import { initEngine } from '../../engine';
import { RUN_OPTIONS, SIGNAL_EXIT_CODE, readRunConfig, runConfigFile, runOverrides } from '../run-args';
import { loadTrainConfig } from '../../rl/config';
import type { Json } from '../../config/index';
import { writeJson } from '../../pipeline/run-dir';
import { RESUME_MUTABLE, checkResumeConfig, checkRunDirPath, claimRunFolder } from '../../rl/run-folder';
import { setupPPO } from '../../rl/setup';
import { readDefaults } from '../../data/readers';
import { trainPPO, type Algo } from '../../rl/train-loop';

const USAGE = 'usage: rarlhf train --algo rlhf|ra-rlhf --config <file> [--set key=value ...] --out <run dir> [--data-dir <dir>] [--resume | --force] [--no-progress] [--allow-replacement]';

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...RUN_OPTIONS,
      algo: { type: 'string' },
      'allow-replacement': { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  readDefaults.allowReplacement = values['allow-replacement']!; // dataset loaders: invalid UTF-8 as U+FFFD, counted
  const { out, configFile, saved } = runConfigFile(values, USAGE);
  checkRunDirPath(out); // before anything slow is loaded
  // a run folder's config.json records the algo next to the config (the schema has no such key), so
  // `--config <run>/config.json` replays a run, a pipeline stage included; --algo may be left out then
  const withoutAlgo = (file: string) => {
    const { algo: recorded, ...obj } = readRunConfig(file);
    return { obj, algo: recorded };
  };
  // a file that is missing or not a JSON object is left to loadTrainConfig, whose errors name it
  let given: { obj?: Record<string, Json>; algo?: Json } = {};
  try { given = withoutAlgo(configFile); } catch { /* reported below */ }
  const recorded = typeof given.algo === 'string' ? given.algo : undefined;
  const algo = (values.algo ?? recorded) as Algo | undefined;
  if (algo !== 'rlhf' && algo !== 'ra-rlhf') throw new Error(`--algo must be rlhf or ra-rlhf\n${USAGE}`);
  if (configFile !== saved && recorded !== undefined && values.algo !== undefined && recorded !== values.algo) { // --resume: checkResumeConfig names it
    throw new Error(`${configFile}: field "algo" is ${JSON.stringify(recorded)} but --algo is ${values.algo}`);
  }
  const config = loadTrainConfig(configFile, runOverrides(values), given.algo === undefined ? undefined : given.obj);
  const lock = claimRunFolder(out, { resume: values.resume, force: values.force, command: `rarlhf train --algo ${algo}` });
  try {
    if (values.resume) {
      const before = withoutAlgo(saved);
      checkResumeConfig(saved, { algo: before.algo, ...loadTrainConfig(saved, [], before.obj) }, { algo, ...config }, RESUME_MUTABLE.train);
      writeJson(saved, { algo, ...config }); // the values this run goes on with (e.g. more steps)
    }
    await initEngine();
    const setup = await setupPPO(config);
    for (const n of setup.notes) process.stderr.write(`[rarlhf] note: ${n}\n`);
    process.stderr.write(`[rarlhf] ${algo} on ${config.task}: ${setup.trainPrompts.length} prompts, batch ${config.ppo.batch_size}, out ${out}${values.resume ? ' (resuming)' : ''}\n`);
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
      process.stderr.write(`[rarlhf] ${res.signal ?? 'stop'}: interrupted at step ${res.summary.steps_done}; continue with: rarlhf train --algo ${algo} --out ${out} --resume\n`);
      process.exitCode = SIGNAL_EXIT_CODE[res.signal ?? 'SIGINT'];
    }
  } finally {
    lock.release();
  }
}
