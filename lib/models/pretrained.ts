/**
 * One loading verb, as transformers.js: `X.fromPretrained(idOrDir)`. A folder loads directly; a
 * Hugging Face id ("gpt2", "org/name") resolves through the local HF cache (lib/models/hub.ts:
 * downloaded on first use, HF_HUB_OFFLINE=1 reads the cache only); a missing path that is not
 * shaped like an id is an error without any request. Reward models: lib/rewards AutoRewardModel.
 */
import { GPT2Tokenizer } from '../text/gpt2-tokenizer';
import { loadGPT2, loadGPT2WithValueHead } from './checkpoint';
import type { GPT2LMHeadModel, GPT2WithValueHead } from './gpt2';
import { classifyModelRef, hubDownload, type HubDownloadOptions } from './hub';
import { hasTokenizerFiles, missingTokenizerMessage } from './load-checks';

export interface PretrainedOptions extends Pick<HubDownloadOptions, 'revision' | 'cacheDir' | 'endpoint' | 'offline'> {
  /** names the input in errors (a config field such as "model.policy") */
  field?: string;
}

/** The local folder of `idOrDir`: the folder itself, or the Hub snapshot in the cache. */
export async function resolvePretrained(idOrDir: string, o: PretrainedOptions = {}): Promise<string> {
  const what = o.field ? `config field "${o.field}"` : 'fromPretrained';
  if (!idOrDir) throw new Error(`${what} is empty: give a checkpoint folder or a Hugging Face id`);
  const ref = classifyModelRef(idOrDir);
  if (ref.kind === 'local') return idOrDir;
  if (ref.kind === 'missing') throw new Error(`${what}: ${ref.message}`);
  try {
    return (await hubDownload(idOrDir, { revision: o.revision, cacheDir: o.cacheDir, endpoint: o.endpoint, offline: o.offline, progress: false })).snapshotDir;
  } catch (e) {
    throw new Error(`${what}: "${idOrDir}" is not a local folder and not available as a Hugging Face model (${(e as Error).message})`);
  }
}

export const AutoTokenizer = {
  /** The GPT-2 byte-level BPE tokenizer of a checkpoint (vocab.json + merges.txt or tokenizer.json). */
  async fromPretrained(idOrDir: string, o: PretrainedOptions = {}): Promise<GPT2Tokenizer> {
    const dir = await resolvePretrained(idOrDir, o);
    if (!hasTokenizerFiles(dir)) throw new Error(missingTokenizerMessage(dir));
    return GPT2Tokenizer.fromDir(dir);
  },
};

interface LoadedLM { model: GPT2LMHeadModel; tokenizer?: GPT2Tokenizer; dir: string }

/** The LM of a checkpoint (a value head in it is ignored), with its tokenizer when it has one (required with `requireTokenizer`). */
async function causalLM(idOrDir: string, o: PretrainedOptions & { requireTokenizer: true }): Promise<LoadedLM & { tokenizer: GPT2Tokenizer }>;
async function causalLM(idOrDir: string, o?: PretrainedOptions & { requireTokenizer?: boolean }): Promise<LoadedLM>;
async function causalLM(idOrDir: string, o: PretrainedOptions & { requireTokenizer?: boolean } = {}): Promise<LoadedLM> {
  const dir = await resolvePretrained(idOrDir, o);
  const { model, tokenizer } = loadGPT2(dir);
  if (o.requireTokenizer && !tokenizer) {
    model.dispose();
    throw new Error(`${o.field ? `config field "${o.field}": ` : ''}${missingTokenizerMessage(dir)}`);
  }
  return { model, tokenizer, dir };
}

export const AutoModelForCausalLM = { fromPretrained: causalLM };

/** trl's AutoModelForCausalLMWithValueHead: v_head from the checkpoint when it has one, else freshly initialised. */
export const AutoModelForCausalLMWithValueHead = {
  async fromPretrained(idOrDir: string, o: PretrainedOptions & { valueHeadSeed?: number } = {}): Promise<{ model: GPT2WithValueHead; tokenizer?: GPT2Tokenizer; dir: string }> {
    const dir = await resolvePretrained(idOrDir, o);
    const { model, tokenizer } = loadGPT2WithValueHead(dir, { seed: o.valueHeadSeed ?? 0 });
    return { model, tokenizer, dir };
  },
};
