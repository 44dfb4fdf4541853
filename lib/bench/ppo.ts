/**
 * `rarlhf bench ppo [--config configs/imdb-mini.json] [--steps 3] [--vocab 4096|gpt2] [--set k=v ...]`:
 * seconds per PPO step of the miniature configuration, split into rollout (sampling), scoring
 * (reward model) and optimisation (forward passes + ppo_epochs x minibatch updates). The policy is
 * a fresh GPT-2 of the miniature SFT size (configs/sft-imdb-mini.json). Its vocabulary is, as in
 * `rarlhf repro`, a byte-level BPE of --vocab tokens trained on 2,000 of the task's texts (default
 * 4,096), or the full GPT-2 tokenizer with `--vocab gpt2`; the reward is the kit reward model when
 * `reward.model` exists, else a cheap character-count stand-in. The first step (kernel warm-up)
 * is excluded from the medians.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { describeEngine, initEngine } from '../engine';
import { trainByteLevelBPE } from '../text/bpe-trainer';
import { formatProfile, startKernelProfile, type KernelTiming } from '../engine/profile';
import { GPT2LMHeadModel, GPT2WithValueHead, gpt2Config, gpt2ParameterCount } from '../models/gpt2';
import { loadTask } from '../data/tasks';
import { loadRewardModel } from '../rewards/load';
import type { RewardModel } from '../rewards/types';
import { loadSFTConfig, loadTrainConfig } from '../rl/config';
import { defaultTokenizer } from '../rl/setup';
import { trainPPO, type StepRecord } from '../rl/train-loop';

const ROOT = path.resolve(__dirname, '..', '..');

const median = (xs: number[]) => {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length ? (s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2 : NaN;
};

export async function bench(argv: string[]): Promise<object> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: 'string' }, steps: { type: 'string' }, vocab: { type: 'string', default: '4096' }, profile: { type: 'boolean', default: false }, set: { type: 'string', multiple: true } },
    strict: true,
  });
  const file = values.config ?? path.join(ROOT, 'configs', 'imdb-mini.json');
  const steps = Number(values.steps ?? 3);
  if (!Number.isInteger(steps) || steps < 2) throw new Error(`bench ppo: --steps must be an integer >= 2 (the first step is warm-up), got ${values.steps}`);
  const cfg = loadTrainConfig(file, values.set ?? []);
  cfg.train.steps = steps;
  const engine = await initEngine({ quiet: true });
  let tokenizer = defaultTokenizer(cfg.data_dir);
  let task = await loadTask(cfg.task, { dataDir: cfg.data_dir ?? undefined, tokenizer });
  if (values.vocab !== 'gpt2') {
    const vocabSize = Number(values.vocab);
    if (!Number.isInteger(vocabSize) || vocabSize < 300) throw new Error(`bench ppo: --vocab must be an integer >= 300 or "gpt2", got ${values.vocab}`);
    tokenizer = trainByteLevelBPE(task.sftTexts.slice(0, 2000), { vocabSize }).tokenizer;
    task = await loadTask(cfg.task, { dataDir: cfg.data_dir ?? undefined, tokenizer });
  }
  const trainPrompts = task.train.map((t) => t.queryIds).filter((q) => q.length > 0);

  const sftFile = path.join(ROOT, 'configs', `sft-${cfg.task}.json`);
  const s = (fs.existsSync(sftFile) ? loadSFTConfig(sftFile) : loadSFTConfig(undefined)).model.scratch;
  const eos = tokenizer.eosTokenId;
  const mc = gpt2Config({ vocab_size: tokenizer.vocabSize, n_layer: s.n_layer, n_embd: s.n_embd, n_head: s.n_head, n_positions: Math.max(s.n_positions, 64), resid_pdrop: s.dropout, embd_pdrop: s.dropout, attn_pdrop: s.dropout, bos_token_id: eos, eos_token_id: eos });
  const policy = new GPT2WithValueHead(new GPT2LMHeadModel(mc, { seed: 0 }), { seed: 1 });
  const ref = new GPT2LMHeadModel(mc, { seed: 0 });

  let rewardModel: RewardModel;
  if (fs.existsSync(cfg.reward.model)) rewardModel = await loadRewardModel(cfg.reward.model);
  else rewardModel = { name: 'stand-in: share of vowels', score: async (texts) => texts.map((t) => (t.match(/[aeiou]/g)?.length ?? 0) / Math.max(1, t.length)) };

  const recs: StepRecord[] = [];
  // --profile times every kernel from the second step on (the first is warm-up)
  let stopProfile: (() => KernelTiming[]) | null = null;
  const onStep = (r: StepRecord) => {
    recs.push(r);
    if (values.profile && recs.length === 1) stopProfile = startKernelProfile();
  };
  await trainPPO(cfg, { algo: 'ra-rlhf', policy, ref, tokenizer, rewardModel, trainPrompts, progress: false, onStep });
  const profile = stopProfile ? formatProfile((stopProfile as () => KernelTiming[])(), 15) : undefined;
  const timed = recs.slice(1);
  const pick = (k: string) => median(timed.map((r) => r[k]));
  const out = {
    config: path.relative(ROOT, file),
    engine: describeEngine(engine),
    reward: rewardModel.name,
    params: gpt2ParameterCount(mc),
    vocab: mc.vocab_size,
    batch_size: cfg.ppo.batch_size,
    mini_batch_size: cfg.ppo.mini_batch_size,
    ppo_epochs: cfg.ppo.ppo_epochs,
    prompt_tokens_mean: pick('tokens/queries_len_mean'),
    response_tokens_mean: pick('tokens/responses_len_mean'),
    steps_timed: timed.length,
    sec_per_step: pick('time/step'),
    rollout_s: pick('time/rollout'),
    scoring_s: pick('time/score'),
    optimisation_s: pick('time/optimize'),
    optimisation_forward_s: pick('time/ppo/forward_pass'),
    optimisation_updates_s: pick('time/ppo/optimize_step'),
    generated_tokens_per_s: pick('time/tokens_per_s'),
    ...(profile ? { kernels: profile } : {}),
  };
  policy.dispose();
  ref.dispose();
  return out;
}
