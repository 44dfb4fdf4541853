/**
 * `npx rarlhf generate --task <t> --model NAME=<checkpoint dir> ... --out <file.jsonl|csv>`
 * Writes a generations table (lib/eval/generations.ts format) for the task's test prompts: prompt,
 * class, prompt_score, [sample], and per model <NAME>_response / <NAME>_reward. `rarlhf eval`
 * reads it. Sampling is the paper's test-time setting (top_k 0, top_p 1, min_length = max).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { initEngine } from '../../engine';
import { loadTask, getTaskSpec } from '../../data/tasks';
import { minNewTokens } from '../../data/prompts';
import { loadRewardModel } from '../../rewards/load';
import { evalRowsFor } from '../../rewards/heldout';
import { writeGenerations } from '../../eval/generations';
import { generationRows, loadGenerationModels, type GenerationModel } from '../../pipeline/generations';
import { Progress } from '../../pipeline/run-dir';
import { readDefaults } from '../../data/readers';
import { parseDecimal } from '../../data/strict';
import { checkOutputPath } from '../../rl/run-folder';

const USAGE = `usage: rarlhf generate --task <task> --model NAME=<checkpoint dir> [--model NAME2=<dir> ...] --out <file.jsonl|.csv>
    [--reward <spec>] [--samples k] [--n-prompts N] [--data-dir <dir>] [--seed n] [--max-new-tokens n] [--batch-size n]
  --task       ${'imdb-gen | jigsaw-gen | rtp-gen | imdb-mini | jigsaw-mini'} (test prompts, prompt length, generation length)
  --model      NAME=<dir>: an HF-layout checkpoint with tokenizer files (rarlhf sft/train output); repeatable
  --reward     kit reward folder | ONNX classifier folder | HF id in the local hub cache (default: the task's classifier id)
  --allow-replacement  read invalid UTF-8 in the task's data as U+FFFD (counted and printed) instead of failing
  --samples    samples per prompt (default 1, as the paper); k > 1 adds a "sample" column
  --n-prompts  first N test prompts (default: all of the task's test set; with a kit toxicity reward model,
               only the test rows on the evaluation side of its held-out rule)`;

function posInt(name: string, v: string | undefined, dflt?: number): number | undefined {
  if (v === undefined) return dflt;
  const n = parseDecimal(v); // not Number(): "0x10" is not 16 here
  if (!Number.isInteger(n) || n < 1) throw new Error(`generate: --${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

/** "NAME=<dir>" -> { name, dir }; names become column prefixes. */
export function parseModelArg(arg: string): { name: string; dir: string } {
  const eq = arg.indexOf('=');
  if (eq <= 0 || eq === arg.length - 1) throw new Error(`generate: --model must be NAME=<checkpoint dir>, got ${JSON.stringify(arg)}`);
  const name = arg.slice(0, eq);
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new Error(`generate: model name ${JSON.stringify(name)} must match [A-Za-z0-9_.-]+ (it becomes a column name)`);
  return { name, dir: arg.slice(eq + 1) };
}

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      task: { type: 'string' },
      model: { type: 'string', multiple: true },
      reward: { type: 'string' },
      samples: { type: 'string' },
      'n-prompts': { type: 'string' },
      'data-dir': { type: 'string' },
      seed: { type: 'string' },
      'max-new-tokens': { type: 'string' },
      'batch-size': { type: 'string' },
      out: { type: 'string' },
      quiet: { type: 'boolean', default: false },
      'allow-replacement': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (!values.task) throw new Error(`generate: --task is required\n${USAGE}`);
  if (!values.out) throw new Error(`generate: --out <file.jsonl|.csv> is required\n${USAGE}`);
  if (!values.model?.length) throw new Error(`generate: at least one --model NAME=<dir> is required\n${USAGE}`);
  checkOutputPath(values.out, 'file', 'generate: --out'); // before loading and generating, not after
  readDefaults.allowReplacement = values['allow-replacement']!; // dataset loaders: invalid UTF-8 as U+FFFD, counted
  const spec = getTaskSpec(values.task);
  const samples = posInt('samples', values.samples, 1)!;
  const nPrompts = posInt('n-prompts', values['n-prompts']);
  const seed = values.seed === undefined ? spec.seed : parseDecimal(values.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`generate: --seed must be a non-negative integer, got ${JSON.stringify(values.seed)}`);
  const maxNew = posInt('max-new-tokens', values['max-new-tokens'], spec.maxNewTokens)!;
  const progress = new Progress(values.quiet);

  await initEngine({ quiet: values.quiet });
  const args = values.model.map(parseModelArg);
  for (const { name, dir } of args) if (!fs.existsSync(dir)) throw new Error(`generate: --model ${name}=${dir}: folder not found`);
  const loaded = await loadGenerationModels(args);
  const models: GenerationModel[] = loaded;
  // Prompts are the first L tokens under the first model's tokenizer (the policies of one run share it).
  const reward = await loadRewardModel(values.reward ?? spec.reward.model);
  // A kit toxicity reward model must not score prompts it was trained on (held-out rule).
  const evalRows = evalRowsFor(reward);
  const task = await loadTask(values.task, { dataDir: values['data-dir'], tokenizer: models[0].tokenizer, evalRows });
  const test = nPrompts ? task.test.slice(0, nPrompts) : task.test;
  // Test-time min_length counts the (left-padded) prompt, as HF batched generate does: the floor
  // on new tokens is min_length minus the longest prompt (0 for IMDB's 64-token prompts).
  const minNew = Math.min(maxNew, minNewTokens(spec.evalMinLength, Math.max(...test.map((p) => p.queryIds.length))));
  progress.log(`generate: ${test.length} prompts${evalRows === 'reward-heldout' ? ' (reward-heldout rows)' : ''} x ${samples} sample(s) x ${models.length} model(s), ${maxNew} new tokens, reward ${reward.name}`);
  progress.start('generate', test.length * samples * models.length);
  const rows = await generationRows(
    test.map((p) => ({ prompt: p.query, cls: p.label })),
    models, reward,
    { maxNewTokens: maxNew, minNewTokens: minNew, samples, seed, batchSize: posInt('batch-size', values['batch-size'], 64), onProgress: (d) => progress.update(d) },
  );
  progress.stop();
  writeGenerations(values.out, rows);
  for (const m of loaded) m.model.dispose();
  await reward.dispose?.();
  progress.log(`wrote ${rows.length} rows to ${path.resolve(values.out)}`);
}
