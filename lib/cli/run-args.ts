/** Arguments shared by the training commands (`sft`, `train`): a config, overrides, a run folder, resume. */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const RUN_OPTIONS = {
  config: { type: 'string' },
  set: { type: 'string', multiple: true },
  out: { type: 'string' },
  resume: { type: 'boolean', default: false },
  'no-progress': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h' },
} as const;

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
