/**
 * `rarlhf sft --config <file> [--set key=value ...] --out <run dir>`
 * Supervised fine-tuning on the task's SFT texts (IMDB positive reviews, non-toxic comments ...),
 * HF SFTTrainer semantics (see lib/rl/sft.ts). Writes config.json, metrics.jsonl, summary.json
 * and checkpoints/final (HF layout) for `rarlhf train`'s model.policy. Ctrl-C finishes the current
 * optimizer step, writes checkpoints/latest and exits with 130; `--resume` continues from it (with
 * the run folder's config.json when --config is absent) to the same weights as an uninterrupted run.
 */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { initEngine } from '../../engine';
import { RUN_OPTIONS, runConfigFile } from '../run-args';
import { loadSFTConfig } from '../../config/schemas';
import { setupSFT } from '../../rl/setup';
import { trainSFT } from '../../rl/sft';

const USAGE = 'usage: rarlhf sft --config <file> [--set key=value ...] --out <run dir> [--resume] [--no-progress]';

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...RUN_OPTIONS,
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const { out, configFile, saved } = runConfigFile(values, USAGE);
  const config = loadSFTConfig(configFile, values.set ?? []);
  await initEngine();
  const setup = await setupSFT(config);
  fs.mkdirSync(out, { recursive: true });
  if (!values.resume) fs.writeFileSync(saved, JSON.stringify(config, null, 2) + '\n');
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
    process.stderr.write(`[rarlhf] interrupted at step ${res.summary.steps}; continue with: rarlhf sft --out ${out} --resume\n`);
    process.exitCode = 130;
  }
}
