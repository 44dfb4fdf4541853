/**
 * The miniature paper reproduction (`rarlhf repro`): the paper's protocol on imdb-mini /
 * jigsaw-mini, then Table 2's columns as mean ± std over seeds for GPT2 / SFT / RLHF / RA-RLHF.
 *
 *   shared, cached by config hash under <cache>/<task>/:  tokenizer -> pretrain ("GPT2") -> SFT; reward model
 *   per seed, under <out>/seed-<s>/:                      RLHF, RA-RLHF (same budget and seed) -> generations
 *   <out>/results.md, results.json, figures/
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initEngine } from '../engine';
import { Rng } from '../engine/rng';
import { GPT2LMHeadModel } from '../models/gpt2';
import { GPT2Tokenizer } from '../text/gpt2-tokenizer';
import { trainByteLevelBPE } from '../text/bpe-trainer';
import { loadTask, getTaskSpec, type TaskData } from '../data/tasks';
import type { TaskSpec } from '../data/task-specs';
import { pretrainTexts, trainPromptIds } from '../data/task-texts';
import { AutoRewardModel } from '../rewards/load';
import type { RewardModel } from '../rewards/types';
import { evalRowsFor } from '../rewards/heldout';
import { readGenerations, writeGenerations, type GenerationsTable } from '../eval/generations';
import { evaluateTable, meanQuantileCurves, type EvalResult } from '../eval/evaluate';
import { readMetricsJsonl } from '../eval/figures';
import { Progress, Stage, configHash, runStage, writeJson, type StageRecord } from '../pipeline/run-dir';
import { causalLMSteps, tinyGPT2Config, trainCausalLM } from '../pipeline/adapters';
import { AutoModelForCausalLM } from '../models/pretrained';
import { runPPOStage } from '../pipeline/ppo-adapter';
import { generationRows, loadGenerationModels } from '../pipeline/generations';
import { evalSpec, modelPerplexity, resultsTable, seedFrontier, writeFigures } from '../pipeline/report';
import { frontierMarkdown } from '../eval/risk-frontier';
import { reproConfig, type ReproConfig } from './config';
import { kitRewardStage, type RewardStageContext } from './reward-stage';

export type { RewardStageContext };

export interface ReproOptions {
  task: 'imdb-mini' | 'jigsaw-mini' | string;
  dataDir?: string;
  seeds: number[];
  out: string;
  /** shared stage cache (default <out>/../cache) */
  cacheDir?: string;
  quick?: boolean;
  /** cap on pretraining texts (default / null = all) */
  pretrainTexts?: number | null;
  /** PPO train prompts (default: the task's trainSize); sets M and the warm start n (config.ts ppoBudget) */
  trainPrompts?: number | null;
  quiet?: boolean;
  png?: boolean;
  /** reward-model kind, a key of REWARD_KINDS (default 'linear': the kit's hashed n-gram model) */
  reward?: string;
}

export const REPRO_MODELS = ['gpt2', 'sft', 'rlhf', 'ra_rlhf'] as const;

export interface ReproResult {
  out: string;
  results: string;
  timings: StageRecord[];
  totalSeconds: number;
  table: string;
}

/** Shared stages; each key covers everything its output depends on. */
async function sharedStages(cfg: ReproConfig, task: TaskData, o: ReproOptions, cache: string, progress: Progress, timings: StageRecord[]) {
  const stage = (name: string, key: unknown) => new Stage(path.join(cache, `${name}-${configHash(key)}`), name, key);
  let texts: string[] | null = null;
  const getTexts = async () => (texts ??= new Rng(cfg.pretrain.seed).shuffle(await pretrainTexts(task, o.dataDir)).slice(0, cfg.pretrain.maxTexts ?? undefined));

  const tokKey = { task: cfg.task, tokenizer: cfg.tokenizer, pretrainTexts: cfg.pretrain.maxTexts, seed: cfg.pretrain.seed };
  const tokStage = stage('tokenizer', tokKey);
  await runStage(tokStage, progress, async (st) => {
    const { tokenizer, stats } = trainByteLevelBPE((await getTexts()).slice(0, cfg.tokenizer.maxTexts), { vocabSize: cfg.tokenizer.vocabSize });
    tokenizer.save(st.dir);
    return { vocabSize: tokenizer.vocabSize, merges: stats.merges };
  }, timings);
  const tokenizer = GPT2Tokenizer.fromDir(tokStage.dir);

  const preKey = { trainer: 'trainSFT', tok: configHash(tokKey), model: cfg.model, pretrain: cfg.pretrain };
  const preStage = stage('pretrain', preKey);
  await runStage(preStage, progress, async (st) => {
    const texts = await getTexts();
    const model = new GPT2LMHeadModel(tinyGPT2Config(cfg.model, tokenizer), { seed: cfg.pretrain.seed });
    progress.start('pretrain', causalLMSteps(texts.length, cfg.pretrain));
    const summary = await trainCausalLM(model, tokenizer, texts, st.dir, { ...cfg.pretrain, appendEos: true, onStep: (s, loss) => progress.update(s, `loss ${loss.toFixed(3)}`) });
    model.dispose();
    return { texts: texts.length, steps: summary.steps, evalLossBefore: summary.eval_loss_before, evalLoss: summary.eval_loss, finalTrainLoss: summary.final_train_loss };
  }, timings);
  const gpt2 = path.join(preStage.dir, 'checkpoints', 'final');

  const sftKey = { trainer: 'trainSFT', pre: configHash(preKey), sft: cfg.sft, sftTexts: task.sftTexts.length };
  const sftStage = stage('sft', sftKey);
  await runStage(sftStage, progress, async (st) => {
    const { model } = await AutoModelForCausalLM.fromPretrained(gpt2);
    const sftTexts = cfg.sft.maxTexts ? task.sftTexts.slice(0, cfg.sft.maxTexts) : task.sftTexts;
    progress.start('sft', causalLMSteps(sftTexts.length, cfg.sft));
    const summary = await trainCausalLM(model, tokenizer, sftTexts, st.dir, { ...cfg.sft, onStep: (s, loss) => progress.update(s, `loss ${loss.toFixed(3)}`) });
    model.dispose();
    return { texts: sftTexts.length, steps: summary.steps, evalLossBefore: summary.eval_loss_before, evalLoss: summary.eval_loss, finalTrainLoss: summary.final_train_loss };
  }, timings);

  const kind = o.reward ?? 'linear';
  const rewardStage = Object.hasOwn(REWARD_KINDS, kind) ? REWARD_KINDS[kind] : undefined;
  if (!rewardStage) throw new Error(`repro: unknown reward kind "${kind}" (known: ${Object.keys(REWARD_KINDS).join(', ')})`);
  const reward = await rewardStage({ cfg, task, dataDir: o.dataDir, stage, progress, timings, quick: o.quick });

  return { tokenizer, gpt2, sft: path.join(sftStage.dir, 'checkpoints', 'final'), reward };
}

/** What a reward stage gets: `stage(name, key)` makes a cached stage folder under the task's cache. */

/**
 * Reward models by kind (a study spec's "reward" field, ReproOptions.reward): each trains or finds
 * a model as a cached stage and returns a folder loadRewardModel reads.
 */
export const REWARD_KINDS: Record<string, (c: RewardStageContext) => Promise<string>> = {
  /** the kit's hashed uni+bigram linear model, calibrated to the paper classifier's logit scale */
  linear: kitRewardStage('linear'),
  /** a small BERT (2 layers, d 128) the kit trains on the same rows, scored through its ONNX export */
  transformer: kitRewardStage('transformer'),
};

/** Everything the per-seed runs of `repro` and `study` share: config, cached stages, prompts, reward. */
export interface ReproContext {
  spec: TaskSpec;
  /** the data directory the task was read from (undefined = the default) */
  dataDir?: string;
  cfg: ReproConfig;
  out: string;
  cache: string;
  progress: Progress;
  timings: StageRecord[];
  shared: { tokenizer: GPT2Tokenizer; gpt2: string; sft: string; reward: string };
  reward: RewardModel;
  task: TaskData;
  taskNotes: string[];
  trainPrompts: number[][];
  testPrompts: TaskData['test'];
  pplTexts: string[];
  /** mean per-text perplexity of the held-out texts under a checkpoint */
  pplOf: (dir: string) => Promise<number>;
}

/** Engine, shared stages (cached), reward model, task prompts and perplexity texts. `command` labels the log line. */
export async function prepareRepro(o: ReproOptions, command = 'repro'): Promise<ReproContext> {
  const spec = getTaskSpec(o.task);
  const cfg = reproConfig(spec, { quick: o.quick, pretrainTexts: o.pretrainTexts, trainPrompts: o.trainPrompts });
  const out = path.resolve(o.out);
  const cache = path.resolve(o.cacheDir ?? path.join(out, '..', 'cache'), cfg.task);
  fs.mkdirSync(out, { recursive: true });
  const progress = new Progress(o.quiet);
  const timings: StageRecord[] = [];
  const engine = await initEngine({ quiet: o.quiet });
  progress.log(`rarlhf ${command} ${cfg.task} seeds [${o.seeds.join(', ')}] -> ${out} (cache ${cache}, backend ${engine.backend})`);

  // Prompts need the policy tokenizer: train it first (from raw task text), then load the task with it.
  const task0 = await loadTask(o.task, { dataDir: o.dataDir, tokenizer: { encode: () => [0], decode: () => '' } });
  const shared = await sharedStages(cfg, task0, o, cache, progress, timings);
  const reward = await AutoRewardModel.fromPretrained(shared.reward);
  // A kit toxicity model was trained on part of the Jigsaw rows: evaluate on its held-out side only.
  const task = await loadTask(o.task, { dataDir: o.dataDir, tokenizer: shared.tokenizer, evalRows: evalRowsFor(reward) });
  const trainPrompts = await trainPromptIds(task, cfg.trainPrompts, shared.tokenizer, o.dataDir);
  if (trainPrompts.length !== task.train.length) progress.log(`train prompts: ${trainPrompts.length} (M ${cfg.ppo.steps}, warm start n ${cfg.risk.warmStart})`);
  const testPrompts = task.test.slice(0, cfg.eval.nPrompts);
  const pplTexts = task.test.filter((p) => p.label === spec.sftClass).slice(0, cfg.eval.perplexityTexts).map((p) => p.text);

  // Perplexity of GPT2 / SFT does not depend on the seed: once.
  const pplOf = async (dir: string) => {
    const { model } = await AutoModelForCausalLM.fromPretrained(dir);
    try { return (await modelPerplexity(model, shared.tokenizer, pplTexts, cfg.eval.perplexityChars)).mean; } finally { model.dispose(); }
  };
  return { spec, dataDir: o.dataDir, cfg, out, cache, progress, timings, shared, reward, task, taskNotes: task.notes, trainPrompts, testPrompts, pplTexts, pplOf };
}

/**
 * RLHF and RA-RLHF for one seed from SFT, same budget and seed, as cached stages
 * <seedDir>/rlhf and <seedDir>/ra_rlhf (repro and baselines share them).
 */
export async function ppoSeedStages(
  ctx: Pick<ReproContext, 'cfg' | 'shared' | 'reward' | 'trainPrompts' | 'progress' | 'timings' | 'dataDir'>, seed: number, seedDir: string,
): Promise<Record<'rlhf' | 'ra_rlhf', { checkpoint: string; seconds: number }>> {
  const { cfg, shared, reward, trainPrompts: prompts, progress, timings } = ctx;
  const out = {} as Record<'rlhf' | 'ra_rlhf', { checkpoint: string; seconds: number }>;
  for (const algo of ['rlhf', 'ra_rlhf'] as const) {
    const key = { algo, seed, ppo: cfg.ppo, risk: algo === 'ra_rlhf' ? cfg.risk : null, sft: shared.sft, reward: shared.reward, trainPrompts: prompts.length };
    const r = await runStage(new Stage(path.join(seedDir, algo), `${algo} seed ${seed}`, key), progress, async (st) =>
      runPPOStage({ algo, task: cfg.task, initDir: shared.sft, outDir: st.dir, prompts, reward, tokenizer: shared.tokenizer, ppo: cfg.ppo, risk: cfg.risk, seed, progress, rewardDir: shared.reward, dataDir: ctx.dataDir }), timings);
    out[algo] = { checkpoint: path.join(seedDir, algo, 'checkpoints', 'final'), seconds: Number(r.seconds ?? 0) };
  }
  return out;
}

export async function runRepro(o: ReproOptions): Promise<ReproResult> {
  const t0 = performance.now();
  const { spec, cfg, out, cache, progress, timings, shared, reward, taskNotes, trainPrompts, testPrompts, pplTexts, pplOf } = await prepareRepro(o);
  writeJson(path.join(out, 'config.json'), { ...cfg, seeds: o.seeds, cache, reward: o.reward ?? 'linear', taskNotes: spec.notes });
  const ppl: Record<string, number[]> = { gpt2: [], sft: [], rlhf: [], ra_rlhf: [] };
  const basePpl = { gpt2: await pplOf(shared.gpt2), sft: await pplOf(shared.sft) };

  const results: EvalResult[] = [];
  const tables: GenerationsTable[] = [];
  const spec4 = evalSpec(REPRO_MODELS, cfg.eval.tail, cfg.eval.cvarAlpha, false);
  for (const seed of o.seeds) {
    const seedDir = path.join(out, `seed-${seed}`);
    const ppoRuns = await ppoSeedStages({ cfg, shared, reward, trainPrompts, progress, timings }, seed, seedDir);
    const ckpt: Record<string, string> = { gpt2: shared.gpt2, sft: shared.sft, rlhf: ppoRuns.rlhf.checkpoint, ra_rlhf: ppoRuns.ra_rlhf.checkpoint };
    const genFile = path.join(seedDir, 'generations.jsonl');
    await runStage(new Stage(path.join(seedDir, 'generations'), `generations seed ${seed}`, { seed, eval: cfg.eval, ckpt }), progress, async () => {
      const models = await loadGenerationModels(REPRO_MODELS.map((name) => ({ name, dir: ckpt[name] })));
      progress.start('generate', testPrompts.length * models.length);
      const rows = await generationRows(testPrompts.map((p) => ({ prompt: p.query, cls: p.label })), models, reward, {
        maxNewTokens: cfg.eval.maxNewTokens, minNewTokens: cfg.eval.minNewTokens, seed, onProgress: (d) => progress.update(d),
      });
      progress.stop();
      writeGenerations(genFile, rows);
      for (const m of models) m.model.dispose();
      return { rows: rows.length };
    }, timings);
    const genTable = readGenerations(genFile);
    tables.push(genTable);
    results.push(evaluateTable(genTable, spec4));
    ppl.gpt2.push(basePpl.gpt2);
    ppl.sft.push(basePpl.sft);
    ppl.rlhf.push(await pplOf(ckpt.rlhf));
    ppl.ra_rlhf.push(await pplOf(ckpt.ra_rlhf));
  }

  const table = resultsTable(results, ppl);
  const curves = meanQuantileCurves(results);
  const seed0 = path.join(out, `seed-${o.seeds[0]}`);
  const figs = await writeFigures(path.join(out, 'figures'), {
    curves: (['rlhf', 'ra_rlhf'] as const).flatMap((a) => o.seeds.map((s) => ({ name: `${a} seed ${s}`, records: readMetricsJsonl(path.join(out, `seed-${s}`, a, 'metrics.jsonl')) }))),
    quantiles: { q: results[0].quantiles.q, curves },
    shift: { result: results[0], classNames: { '0': spec.classNames[0], '1': spec.classNames[1] }, quantileCurves: curves },
  }, o.png ?? true);
  const frontier = await seedFrontier(path.join(out, 'frontier'), tables, spec4, { png: o.png });
  const totalSeconds = (performance.now() - t0) / 1000;
  writeJson(path.join(out, 'results.json'), { task: cfg.task, seeds: o.seeds, config: cfg, table: table.rows, perplexity: ppl, perplexityTexts: pplTexts.length, frontier, timings, totalSeconds, seed0Dir: seed0 });
  const md = renderResults(cfg, taskNotes, o, pplTexts.length, table.markdown, timings, totalSeconds, figs.images.map((f) => path.relative(out, f)), figs.html.map((f) => path.relative(out, f)))
    + `\n## Risk frontier: CVaR at several α, minus ${frontier.reference}\n\nPaired bootstrap 95% intervals (seeds, then prompts); α = 1 is the mean reward. Figure: [frontier/frontier.svg](frontier/frontier.svg).\n\n${frontierMarkdown(frontier)}\n`;
  const resultsFile = path.join(out, 'results.md');
  fs.writeFileSync(resultsFile, md);
  await reward.dispose?.();
  progress.log(`results: ${resultsFile} (${totalSeconds.toFixed(0)} s)`);
  return { out, results: resultsFile, timings, totalSeconds, table: table.markdown };
}

function renderResults(cfg: ReproConfig, notes: string[], o: ReproOptions, nPpl: number, table: string, timings: StageRecord[], total: number, images: string[], htmls: string[]): string {
  return `# Miniature reproduction: ${cfg.task}${o.quick ? ' (quick test config: numbers are not meaningful)' : ''}

Paper Table 2 columns, mean ± sample std over ${o.seeds.length} seed(s) [${o.seeds.join(', ')}]. GPT2 = the policy after
causal-LM pretraining on the task text; SFT = after supervised fine-tuning on ${getTaskSpec(cfg.task).steering.sftTexts};
RLHF / RA-RLHF = PPO from SFT, same budget and seed (one pass over ${cfg.trainPrompts} train prompts: ${cfg.ppo.steps} steps x ${cfg.ppo.batchSize} prompts, ${cfg.ppo.ppoEpochs} PPO epochs, lr ${cfg.ppo.lr}),
RA-RLHF with the soft-risk schedule alpha ${cfg.risk.alpha}, n ${cfg.risk.warmStart}, rho ${cfg.risk.rho}, M ${cfg.ppo.steps}.
Every model is sampled on ${cfg.eval.nPrompts} held-out test prompts with each seed (the paper copies one seed's GPT2/SFT
numbers, giving std 0; here their std is sampling noise). Tail = prompt score <= ${cfg.eval.tail}; CVaR (mean of the worst alpha fraction of rewards) at the task's risk level alpha ${cfg.eval.cvarAlpha};
perplexity on ${nPpl} held-out ${getTaskSpec(cfg.task).steering.sftTexts} (first ${cfg.eval.perplexityChars} chars, cut to the ${cfg.model.n_positions - 1}-token context).
Reward = the kit's reward model (see lib/rewards), on the paper classifier's scale.

${table}

## What was scaled and why

Policy: GPT-2 architecture, ${cfg.model.n_layer} layers, d ${cfg.model.n_embd}, ${cfg.model.n_head} heads, context ${cfg.model.n_positions}, BPE vocabulary ${cfg.tokenizer.vocabSize}
trained on the task text (no pretrained GPT-2 weights offline; see lib/repro/config.ts). Task scaling (lib/data/task-specs.ts):
${notes.map((n) => `- ${n}`).join('\n')}

## Figures

${images.map((f) => `![${path.basename(f, path.extname(f))}](${f})`).join('\n\n')}

Interactive: ${htmls.map((f) => `[${path.basename(f)}](${f})`).join(', ')}

## Timings (${(total / 60).toFixed(1)} min total)

| stage | seconds | cached (seconds of the run that made it) |
|---|---:|---|
${timings.map((t) => `| ${t.stage} | ${t.seconds.toFixed(1)} | ${t.cached ? 'yes' : ''} |`).join('\n')}
`;
}
