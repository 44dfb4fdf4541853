/**
 * `rarlhf sft --config <file> [--set key=value ...] [--data-dir <dir>] --out <run dir>`
 * Supervised fine-tuning on the task's SFT texts (IMDB positive reviews, non-toxic comments ...),
 * HF SFTTrainer semantics (see lib/rl/sft.ts). Writes config.json, metrics.jsonl, summary.json
 * and checkpoints/final (HF layout) for `rarlhf train`'s model.policy. The run folder is locked and
 * owned as for `rarlhf train` (--force, --resume config check). Ctrl-C / SIGTERM / SIGHUP finish
 * the current optimizer step, write checkpoints/latest and exit with 130 / 143 / 129; `--resume`
 * continues from it (with the run folder's config.json when --config is absent) to the same
 * weights as an uninterrupted run.
 */
import { parseArgs } from 'node:util';
import { initEngine } from '../../engine';
import { RUN_OPTIONS, SIGNAL_EXIT_CODE, readRunConfig, runConfigFile, runOverrides } from '../run-args';
import { loadSFTConfig } from '../../rl/config';
import { writeJson } from '../../pipeline/run-dir';
import { RESUME_MUTABLE, checkResumeConfig, checkRunDirPath, claimRunFolder } from '../../rl/run-folder';
import { setupSFT } from '../../rl/setup';
import { readDefaults } from '../../data/readers';
import { trainSFT } from '../../rl/sft';

const USAGE = 'usage: rarlhf sft --config <file> [--set key=value ...] --out <run dir> [--data-dir <dir>] [--resume | --force] [--no-progress] [--allow-replacement]';

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...RUN_OPTIONS,
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
  if (configFile === saved) readRunConfig(saved); // a corrupt config.json: name the file
  const config = loadSFTConfig(configFile, runOverrides(values));
  const lock = claimRunFolder(out, { resume: values.resume, force: values.force, command: 'rarlhf sft' });
  try {
    if (values.resume) {
      readRunConfig(saved);
      checkResumeConfig(saved, { ...loadSFTConfig(saved) }, { ...config }, RESUME_MUTABLE.sft);
    }
    await initEngine();
    const setup = await setupSFT(config);
    writeJson(saved, config); // fresh: the resolved config; resume: with the changed save cadence
    process.stderr.write(`[rarlhf] sft on ${config.task}: ${setup.texts.length} texts, out ${out}${values.resume ? ' (resuming)' : ''}\n`);
    const res = await trainSFT({ ...config.sft, seed: config.seed }, {
      ...setup,
      outDir: out,
      resume: values.resume,
      progress: values['no-progress'] ? false : undefined,
      handleSigint: true,
    });
    console.log(JSON.stringify(res.summary));
    if (res.interrupted) {
      process.stderr.write(`[rarlhf] ${res.signal ?? 'stop'}: interrupted at step ${res.summary.steps}; continue with: rarlhf sft --out ${out} --resume\n`);
      process.exitCode = SIGNAL_EXIT_CODE[res.signal ?? 'SIGINT'];
    }
  } finally {
    lock.release();
  }
}
