/**
 * `npx rarlhf repro --task imdb-mini|imdb-small|jigsaw-mini [--data-dir <dir>] [--seeds 3] [--out <dir>]`:
 * the paper's protocol at CPU scale on the real data (lib/repro/pipeline.ts), Table 2 columns as
 * mean ± std over seeds in <out>/results.md and results.json, plus figures.
 */
import { parseArgs } from 'node:util';
import { runRepro } from '../../repro/pipeline';
import { readDefaults } from '../../data/readers';
import { parseDecimal } from '../../data/strict';
import { seedsFlag } from '../flags';
import { RECIPE_OPTIONS, SEED_OPTIONS, miniatureTask } from '../run-args';

const HELP = `usage: rarlhf repro --task imdb-mini|imdb-small|jigsaw-mini [--seeds 3 | --seed-list 0,1,2] [--out runs/repro-<task>]
                    [--data-dir <dir>] [--cache-dir <dir>] [--pretrain-texts N|all] [--train-prompts N] [--quick] [--no-png]
Shared stages (BPE tokenizer, pretraining = the GPT2 column, SFT, kit reward model) are cached under
--cache-dir (default <out>/../cache) keyed by config hash and reused across seeds and runs; each seed
trains RLHF and RA-RLHF with the same budget. One imdb-mini seed takes well under an hour on 2 cores
once pretraining is cached. --pretrain-texts: cap on the texts of the GPT2-stand-in pretraining (default all).
--train-prompts N (imdb-mini): PPO budget the paper's way: one pass over N train prompts, M = floor(N / 32)
steps, warm start n = round(30/194 * M) (default: the task's 960 prompts, M 30, n 5; 6208 gives the paper's
M 194, n 30). Shared stages stay cached.
--allow-replacement: read invalid UTF-8 in the data as U+FFFD (counted and printed) instead of failing.`;

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...RECIPE_OPTIONS,
      ...SEED_OPTIONS,
      task: { type: 'string' },
      'pretrain-texts': { type: 'string' },
      'train-prompts': { type: 'string' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const task = miniatureTask('repro', values.task, HELP);
  readDefaults.allowReplacement = values['allow-replacement']!; // dataset loaders: invalid UTF-8 as U+FFFD, counted
  const seeds = seedsFlag('repro', values);
  let pretrainTexts: number | null | undefined;
  if (values['pretrain-texts'] !== undefined) {
    pretrainTexts = values['pretrain-texts'] === 'all' ? null : parseDecimal(values['pretrain-texts']);
    if (pretrainTexts !== null && (!Number.isInteger(pretrainTexts) || pretrainTexts < 32)) throw new Error(`repro: --pretrain-texts must be an integer >= 32 or "all", got ${JSON.stringify(values['pretrain-texts'])}`);
  }
  let trainPrompts: number | undefined;
  if (values['train-prompts'] !== undefined) {
    trainPrompts = parseDecimal(values['train-prompts']);
    if (!Number.isInteger(trainPrompts) || trainPrompts < 32) throw new Error(`repro: --train-prompts must be an integer >= 32, got ${JSON.stringify(values['train-prompts'])}`);
  }
  const r = await runRepro({
    pretrainTexts, trainPrompts,
    task, seeds, out: values.out ?? `runs/repro-${task}`, dataDir: values['data-dir'], cacheDir: values['cache-dir'],
    quick: values.quick, png: !values['no-png'],
  });
  console.log(r.table);
  console.log(JSON.stringify({ results: r.results, totalSeconds: Number(r.totalSeconds.toFixed(1)) }));
}
