/**
 * Arguments shared by the training commands (`sft`, `train`: a config, overrides, a run folder,
 * resume) and by the miniature recipes (`repro`, `baselines`, `study`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, parseJsonText, type Json } from '../config/index';
import { TASKS } from '../data/task-specs';

export const RUN_OPTIONS = {
  config: { type: 'string' },
  set: { type: 'string', multiple: true },
  out: { type: 'string' },
  resume: { type: 'boolean', default: false },
  force: { type: 'boolean', default: false },
  'no-progress': { type: 'boolean', default: false },
  'data-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Options of the miniature recipes: output, data and cache folders, test size, figures, UTF-8 rule. */
export const RECIPE_OPTIONS = {
  out: { type: 'string' },
  'data-dir': { type: 'string' },
  'cache-dir': { type: 'string' },
  quick: { type: 'boolean', default: false },
  'no-png': { type: 'boolean', default: false },
  'allow-replacement': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** `--seeds N | --seed-list a,b` (read with flags.ts seedsFlag). */
export const SEED_OPTIONS = { seeds: { type: 'string', default: '3' }, 'seed-list': { type: 'string' } } as const;

/** A recipe's `--task`: one of the miniatures (task specs with `scaledFrom`); errors list them. */
export function miniatureTask(command: string, task: string | undefined, help: string): string {
  const miniatures = Object.values(TASKS).filter((t) => t.scaledFrom).map((t) => t.name as string);
  if (!task || !miniatures.includes(task)) throw new Error(`${command}: --task must be one of ${miniatures.join(', ')}, got ${JSON.stringify(task)}\n${help}`);
  return task;
}

/** The run's `--set` overrides, with `--data-dir <dir>` as the config's `data_dir` (the same key, one spelling per command line). */
export function runOverrides(values: { set?: string[]; 'data-dir'?: string }): string[] {
  return [...(values.set ?? []), ...(values['data-dir'] !== undefined ? [`data_dir=${values['data-dir']}`] : [])];
}

/** Exit codes of a run stopped by a signal (lib/rl/checkpointing.ts SIGNAL_EXIT_CODE). */
export { SIGNAL_EXIT_CODE } from '../rl/checkpointing';

/**
 * The config file to load: --config, or with --resume and no --config the run folder's resolved
 * config.json. Returns it with the run folder (`out`) and its config path (`saved`).
 */
export function runConfigFile(values: { out?: string; config?: string; resume?: boolean }, usage: string): { out: string; configFile: string; saved: string } {
  if (!values.out) throw new Error(`--out <run dir> is required\n${usage}`);
  const saved = path.join(values.out, 'config.json');
  const configFile = values.config ?? (values.resume && fs.existsSync(saved) ? saved : undefined);
  if (!configFile) throw new Error(`--config <file> is required\n${usage}`);
  return { out: values.out, configFile, saved };
}

/** A run folder's config.json as an object; errors name the file (and line:column of bad JSON). */
export function readRunConfig(file: string): Record<string, Json> {
  if (!fs.existsSync(file)) throw new ConfigError(`--resume: ${file} is missing, so the run's config cannot be checked (was the folder written by rarlhf?)`);
  const obj = parseJsonText(fs.readFileSync(file, 'utf8'), file);
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new ConfigError(`${file}: expected a JSON object (the run's resolved config)`);
  return obj as Record<string, Json>;
}
