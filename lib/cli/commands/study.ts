/**
 * `rarlhf study --spec <file.json> [--out <dir>] [--data-dir <dir>] [--cache-dir <dir>] [--quick] [--no-png]`:
 * arms x seeds of PPO runs on a repro miniature with a paired bootstrap comparison against the
 * baseline arm (lib/study/). Resumable: rerun the same command after a stop.
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { runStudy } from '../../study/run';
import { readDefaults } from '../../data/readers';
import { RECIPE_OPTIONS } from '../run-args';

const HELP = `usage: rarlhf study --spec <file.json> [--out runs/study-<spec name>] [--data-dir <dir>] [--cache-dir <dir>] [--quick] [--no-png]
A spec names a miniature task, seeds, the reward-model kind and arms, each {"name", "algo": "rlhf"|"ra-rlhf",
"set": ["key=value", ...]} (overrides on the repro's PPO config, as train --set); see configs/study-imdb-mini.json.
Shared stages (tokenizer, pretraining, SFT, reward model) are cached under --cache-dir (default <out>/../cache)
exactly as rarlhf repro caches them. Each arm-seed is a run folder <out>/<arm>/seed-<s>; rerunning after a stop
(Ctrl-C, kill -9) skips finished arm-seeds and restarts a half-finished one. Writes <out>/results.md,
results.json (arms[] with per-seed metrics, paired[] with each arm minus the baseline and its bootstrap 95% interval)
and figures/. --quick: test-sized models and budgets (numbers are not meaningful).
--allow-replacement: read invalid UTF-8 in the data as U+FFFD (counted and printed) instead of failing.`;

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      spec: { type: 'string' },
      ...RECIPE_OPTIONS,
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  if (!values.spec) throw new Error(`study: --spec <file.json> is required\n${HELP}`);
  readDefaults.allowReplacement = values['allow-replacement']!;
  const r = await runStudy({
    specFile: values.spec, out: values.out ?? path.join('runs', `study-${path.basename(values.spec, '.json')}`),
    dataDir: values['data-dir'], cacheDir: values['cache-dir'], quick: values.quick, png: !values['no-png'],
  });
  console.log(JSON.stringify({ results: r.results, json: r.json, totalSeconds: Number(r.totalSeconds.toFixed(1)) }));
}
