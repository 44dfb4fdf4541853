/**
 * Build what `rarlhf sft` / `rarlhf train` need from a resolved config: models from checkpoint
 * folders, the tokenizer, the reward model, and prompts/texts from the task. Thin glue over
 * lib/models, lib/rewards and lib/data so the CLI commands stay small.
 */
import * as path from 'node:path';
import { Rng } from '../engine';
import { AutoModelForCausalLM, AutoModelForCausalLMWithValueHead } from '../models/pretrained';
import { missingTokenizerMessage } from '../models/load-checks';
import { dataLog } from '../data/strict';
import { GPT2LMHeadModel, GPT2WithValueHead, gpt2Config } from '../models/gpt2';
import { resolveDataDir } from '../data/paths';
import { readPromptFile } from '../data/prompts';
import { loadTask } from '../data/tasks';
import { loadRewardModel } from '../rewards/load';
import type { RewardModel } from '../rewards/types';
import { GPT2Tokenizer } from '../text/gpt2-tokenizer';
import type { SFTConfig, TrainConfig } from './config';

export function defaultTokenizer(dataDir: string | null): GPT2Tokenizer {
  return GPT2Tokenizer.fromDir(path.join(resolveDataDir(dataDir ?? undefined), 'tokenizers', 'gpt2'));
}

/** The checkpoint's own tokenizer; none is an error (another tokenizer's ids would mean other words). */
function ownTokenizer(tokenizer: GPT2Tokenizer | undefined, dir: string, field: string, hint: string): GPT2Tokenizer {
  if (tokenizer) return tokenizer;
  throw new Error(`config field "${field}": ${missingTokenizerMessage(dir)}; ${hint}`);
}

export interface PPOSetup {
  policy: GPT2WithValueHead;
  ref: GPT2LMHeadModel;
  tokenizer: GPT2Tokenizer;
  rewardModel: RewardModel;
  trainPrompts: number[][];
  notes: string[];
}

export async function setupPPO(cfg: TrainConfig): Promise<PPOSetup> {
  checkPromptSource(cfg); // before minutes of model loading
  const p = await AutoModelForCausalLMWithValueHead.fromPretrained(cfg.model.policy, { field: 'model.policy', valueHeadSeed: cfg.model.value_head_seed });
  const policy = p.model;
  const ref = (await AutoModelForCausalLM.fromPretrained(cfg.model.ref ?? cfg.model.policy, { field: cfg.model.ref ? 'model.ref' : 'model.policy' })).model;
  const tokenizer = ownTokenizer(p.tokenizer, p.dir, 'model.policy', 'a policy checkpoint must carry the tokenizer it was trained with (rarlhf sft / train write it)');
  if (tokenizer.vocabSize > policy.config.vocab_size) {
    throw new Error(`tokenizer has ${tokenizer.vocabSize} tokens but the policy's vocab_size is ${policy.config.vocab_size}`);
  }
  const rewardModel = await loadRewardModel(cfg.reward.model);
  const { queries, notes } = await trainQueries(cfg, tokenizer);
  let trainPrompts = queries.filter((q) => q.length > 0);
  const empty = queries.length - trainPrompts.length;
  if (empty > 0) dataLog(`${cfg.task}: dropped ${empty} of ${queries.length} train prompts that tokenize to no tokens (empty prompts)`);
  if (cfg.train.max_prompts !== null && trainPrompts.length > cfg.train.max_prompts) {
    dataLog(`${cfg.task}: train.max_prompts ${cfg.train.max_prompts} keeps the first ${cfg.train.max_prompts} of ${trainPrompts.length} train prompts`);
    trainPrompts = trainPrompts.slice(0, cfg.train.max_prompts);
  }
  return { policy, ref, tokenizer, rewardModel, trainPrompts, notes };
}

/** The demo task has no loader: its train prompts must come from train.prompts_file. */
function checkPromptSource(cfg: TrainConfig): void {
  if (cfg.task === 'demo' && cfg.train.prompts_file === null) {
    throw new Error('config field "task": the demo task has no data loader; name its prompts in train.prompts_file (rarlhf demo writes <demo>/corpus/train.jsonl)');
  }
}

/** Query ids from train.prompts_file when set, else from the task's loader ('demo' has none). */
export async function trainQueries(cfg: TrainConfig, tokenizer: GPT2Tokenizer): Promise<{ queries: number[][]; notes: string[] }> {
  checkPromptSource(cfg);
  if (cfg.train.prompts_file !== null) return { queries: (await readPromptFile(cfg.train.prompts_file)).map((p) => tokenizer.encode(p)), notes: [] };
  const task = await loadTask(cfg.task, { dataDir: cfg.data_dir ?? undefined, tokenizer });
  return { queries: task.train.map((t) => t.queryIds), notes: task.notes };
}

export interface SFTSetup {
  model: GPT2LMHeadModel;
  tokenizer: GPT2Tokenizer;
  texts: string[];
  notes: string[];
}

export async function setupSFT(cfg: SFTConfig): Promise<SFTSetup> {
  let model: GPT2LMHeadModel;
  let tokenizer: GPT2Tokenizer | undefined = cfg.model.tokenizer ? GPT2Tokenizer.fromDir(cfg.model.tokenizer) : undefined;
  if (cfg.model.init) {
    const l = await AutoModelForCausalLM.fromPretrained(cfg.model.init, { field: 'model.init' });
    model = l.model;
    tokenizer = tokenizer ?? ownTokenizer(l.tokenizer, l.dir, 'model.init', 'add its tokenizer files, or name the tokenizer folder in model.tokenizer');
  }
  tokenizer = tokenizer ?? defaultTokenizer(cfg.data_dir);
  if (!cfg.model.init) {
    const s = cfg.model.scratch;
    const eos = tokenizer.eosTokenId;
    model = new GPT2LMHeadModel(
      gpt2Config({ vocab_size: tokenizer.vocabSize, n_layer: s.n_layer, n_embd: s.n_embd, n_head: s.n_head, n_positions: s.n_positions, resid_pdrop: s.dropout, embd_pdrop: s.dropout, attn_pdrop: s.dropout, bos_token_id: eos, eos_token_id: eos }),
      { seed: cfg.seed },
    );
  }
  const task = await loadTask(cfg.task, { dataDir: cfg.data_dir ?? undefined, tokenizer });
  let texts = task.sftTexts;
  if (cfg.sft.max_texts !== null && texts.length > cfg.sft.max_texts) {
    dataLog(`${cfg.task}: sft.max_texts ${cfg.sft.max_texts} keeps a seeded sample of ${cfg.sft.max_texts} of ${texts.length} SFT texts`);
    texts = new Rng(cfg.seed).shuffle(texts).slice(0, cfg.sft.max_texts);
  }
  return { model: model!, tokenizer, texts, notes: task.notes };
}
