/**
 * `npx rarlhf demo [--out runs/demo] [--quick] [--seed 0] [--no-png]`: the whole pipeline offline
 * on a generated review task (lib/demo/pipeline.ts). Reruns reuse finished stages.
 */
import { parseArgs } from 'node:util';
import { MEASURE_ARMS, runDemo } from '../../demo/pipeline';
import { parseDecimal } from '../../data/strict';

const HELP = `usage: rarlhf demo [--out runs/demo] [--quick] [--seed N] [--measures] [--no-png]

Runs offline, end to end: generated review corpus -> BPE tokenizer -> pretrain a tiny GPT-2 ->
SFT on positive reviews -> kit reward model -> RLHF and RA-RLHF -> generations on held-out prompts
(incl. a hostile tail) -> metrics -> <out>/report.md with figures. Full config: ~5 min on 2 cores.
  --quick    test-sized config (~1 min; numbers not meaningful)
  --fresh    delete <out> first instead of reusing finished stages
  --measures also train RA-RLHF with the other risk measures (per-prompt CVaR, entropic, mean-variance)
             and CeSoR's prompt sampler (lib/rl/README.md), same budget and seed, in the same tables`;

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string', default: 'runs/demo' },
      quick: { type: 'boolean', default: false },
      seed: { type: 'string', default: '0' },
      'no-png': { type: 'boolean', default: false },
      fresh: { type: 'boolean', default: false },
      measures: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const seed = parseDecimal(values.seed!); // not Number(): "" would be seed 0, "0x1" seed 1
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`demo: --seed must be a non-negative integer, got "${values.seed}"`);
  if (values.fresh) (await import('node:fs')).rmSync(values.out!, { recursive: true, force: true });
  const r = await runDemo({ out: values.out!, quick: values.quick, seed, png: !values['no-png'], arms: values.measures ? MEASURE_ARMS : [] });
  console.log(JSON.stringify({ report: r.report, totalSeconds: Number(r.totalSeconds.toFixed(1)), metrics: r.metrics }));
}
