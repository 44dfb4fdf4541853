/**
 * `npx rarlhf baselines --task imdb-mini|jigsaw-mini|imdb-small [--methods ...]`: prompted GPT-2,
 * best-of-n, DExperts and Quark beside GPT2 / SFT / RLHF / RA-RLHF through one generation and
 * evaluation path (lib/baselines/run.ts), the rebuttal's table in <out>/results.md.
 */
import { parseArgs } from 'node:util';
import { runBaselines } from '../../baselines/run';
import { BASELINE_METHODS, parseMethods } from '../../baselines/config';
import { readDefaults } from '../../data/readers';
import { numberFlag, positiveInt, seedsFlag } from '../flags';
import { RECIPE_OPTIONS, SEED_OPTIONS, miniatureTask } from '../run-args';

const HELP = `usage: rarlhf baselines --task imdb-mini|imdb-small|jigsaw-mini [--methods ${BASELINE_METHODS.join(',')}]
                        [--seeds 3 | --seed-list 0,1,2] [--out runs/baselines-<task>] [--data-dir <dir>] [--cache-dir <dir>] [--quick] [--no-png]
                        [--prompt-prefix TEXT] [--best-of 4,16] [--dexperts-alpha A]
Shared stages (tokenizer, pretraining = GPT2, SFT, reward model) come from repro's cache (--cache-dir, default
<out>/../cache); DExperts' anti-expert is cached there too. Per seed: RLHF, RA-RLHF and Quark from SFT, then one
generations table with every method. --quick: test-sized config that runs every method end to end in seconds.
--prompt-prefix: the prompted GPT-2's instruction (default "Generate positive sentiment: " / "Generate non-toxic text: ");
--best-of: the n of best-of-n rows (default 4,16); --dexperts-alpha: DExperts' alpha (default 3.2 IMDB, 2.0 Jigsaw).`;

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...RECIPE_OPTIONS,
      ...SEED_OPTIONS,
      task: { type: 'string' },
      methods: { type: 'string' },
      'prompt-prefix': { type: 'string' },
      'best-of': { type: 'string' },
      'dexperts-alpha': { type: 'string' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const task = miniatureTask('baselines', values.task, HELP);
  readDefaults.allowReplacement = values['allow-replacement']!;
  const bestOf = values['best-of']?.split(',').map((x) => numberFlag('--best-of', x.trim(), positiveInt('samples per prompt')));
  const dexpertsAlpha = values['dexperts-alpha'] === undefined ? undefined : numberFlag('--dexperts-alpha', values['dexperts-alpha'], { min: 0, what: 'DExperts alpha' });
  const r = await runBaselines({
    promptPrefix: values['prompt-prefix'], bestOf, dexpertsAlpha,
    task, methods: parseMethods(values.methods), seeds: seedsFlag('baselines', values),
    out: values.out ?? `runs/baselines-${task}`, dataDir: values['data-dir'], cacheDir: values['cache-dir'], quick: values.quick, png: !values['no-png'],
  });
  console.log(r.table);
  console.log(JSON.stringify({ results: r.results, totalSeconds: Number(r.totalSeconds.toFixed(1)) }));
}
