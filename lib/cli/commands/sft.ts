/**
 * `rarlhf sft --config <file> [--set key=value ...] --out <run dir>`
 * Supervised fine-tuning on the task's SFT texts (IMDB positive reviews, non-toxic comments ...),
 * HF SFTTrainer semantics (see lib/rl/sft.ts). Writes config.json, metrics.jsonl, summary.json
 * and checkpoints/final (HF layout) for `rarlhf train`'s model.policy.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { initEngine } from '../../engine';
import { loadSFTConfig } from '../../config/schemas';
import { setupSFT } from '../../rl/setup';
import { trainSFT } from '../../rl/sft';

const USAGE = 'usage: rarlhf sft --config <file> [--set key=value ...] --out <run dir> [--no-progress]';

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      set: { type: 'string', multiple: true },
      out: { type: 'string' },
      'no-progress': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (!values.config) throw new Error(`--config <file> is required\n${USAGE}`);
  if (!values.out) throw new Error(`--out <run dir> is required\n${USAGE}`);
  const config = loadSFTConfig(values.config, values.set ?? []);
  await initEngine();
  const setup = await setupSFT(config);
  fs.mkdirSync(values.out, { recursive: true });
  fs.writeFileSync(path.join(values.out, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  process.stderr.write(`[rarlhf] sft on ${config.task}: ${setup.texts.length} texts, out ${values.out}\n`);
  const res = await trainSFT({ ...config.sft, seed: config.seed }, { ...setup, outDir: values.out, progress: values['no-progress'] ? false : undefined });
  console.log(JSON.stringify(res.summary));
}
