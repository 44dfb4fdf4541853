/**
 * Checks a checkpoint folder must pass before its weights are used: a folder (not a file), finite
 * weights, and tokenizer files where the caller needs them. A NaN weight would otherwise load
 * fine and generate "!!!!!!" (token 0) with exit code 0; a missing tokenizer would otherwise be
 * replaced by some other tokenizer whose ids mean different words.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { HostTensor } from './safetensors';

/** `dir` must exist and be a folder; names what was given instead. */
export function checkCheckpointDir(dir: string): void {
  if (!fs.existsSync(dir)) throw new Error(`checkpoint folder ${dir} does not exist`);
  if (!fs.statSync(dir).isDirectory()) throw new Error(`${dir} is a file; expected a checkpoint folder (config.json + model.safetensors + tokenizer files)`);
}

/** Throw naming the file and tensor when any float weight is NaN or +-Inf. */
export function checkFiniteWeights(tensors: Map<string, HostTensor>, file: string): void {
  for (const [name, t] of tensors) {
    const v = t.values;
    if (!(v instanceof Float32Array)) continue; // integer tensors are always finite
    let bad = 0;
    let first = -1;
    for (let i = 0; i < v.length; i++) {
      // x - x is NaN exactly for NaN and +-Inf: one cheap test per value.
      if (v[i] - v[i] !== 0) {
        if (first < 0) first = i;
        bad++;
      }
    }
    if (bad > 0) {
      throw new Error(
        `${file}: tensor "${name}" has ${bad} non-finite value(s) of ${v.length} (first: ${v[first]} at flat index ${first}); ` +
          'the checkpoint is corrupt or from a diverged run, so it is not loaded',
      );
    }
  }
}

/** Tokenizer layouts GPT2Tokenizer.fromDir reads (lib/text/bpe-files.ts). */
export const TOKENIZER_LAYOUTS = [['vocab.json', 'merges.txt'], ['encoder.json', 'vocab.bpe'], ['tokenizer.json']] as const;

export function hasTokenizerFiles(dir: string): boolean {
  return TOKENIZER_LAYOUTS.some((files) => files.some((f) => fs.existsSync(path.join(dir, f))));
}

/** "<dir>: no tokenizer files (missing vocab.json + merges.txt, or tokenizer.json)". */
export function missingTokenizerMessage(dir: string): string {
  return `${dir}: no tokenizer files (missing ${path.join(dir, 'vocab.json')} + merges.txt, or tokenizer.json, or encoder.json + vocab.bpe)`;
}
