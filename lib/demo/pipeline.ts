/**
 * The offline demo, top to bottom: the paper's pipeline on a generated review task.
 *
 *   corpus -> BPE tokenizer -> pretrain a tiny GPT-2 (causal LM on all reviews) -> SFT (positive
 *   reviews) -> reward model (kit trainer, corpus labels) -> RLHF and RA-RLHF (same budget, same
 *   seed) -> generations on held-out prompts incl. the hostile tail -> metrics -> report.
 *
 * Every stage writes into <out>/<stage>/ (config.json, metrics.jsonl, done.json, checkpoint) and is
 * skipped on a rerun with the same config, so an interrupted demo resumes where it stopped.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initEngine } from '../engine';
import { GPT2LMHeadModel } from '../models/gpt2';
import { GPT2Tokenizer } from '../text/gpt2-tokenizer';
import { trainByteLevelBPE } from '../text/bpe-trainer';
import { writeGenerations } from '../eval/generations';
import { readMetricsJsonl } from '../eval/figures';
import { generateCorpus, hostileTailThreshold, splitCorpus, type DemoReview } from './corpus';
import { demoConfig, type DemoConfig } from './config';
import { Progress, Stage, runStage, writeJson, type StageRecord } from '../pipeline/run-dir';
import { causalLMSteps, tinyGPT2Config, trainCausalLM } from '../pipeline/adapters';
import { AutoModelForCausalLM } from '../models/pretrained';
import { trainSentimentReward } from '../pipeline/reward-adapter';
import { AutoRewardModel } from '../rewards/load';
import { runPPOStage } from '../pipeline/ppo-adapter';
import { generationRows, loadGenerationModels } from '../pipeline/generations';
import { evalSpec, evaluateFile, exampleGenerations, modelPerplexity, resultsTable, writeFigures } from '../pipeline/report';

export interface DemoOptions {
  out: string;
  quick?: boolean;
  seed?: number;
  /** no progress output (tests) */
  quiet?: boolean;
  /** render PNG figures when Chromium exists (default true) */
  png?: boolean;
  /** extra RA-RLHF arms (train-config overrides, e.g. another risk.measure) trained and evaluated beside the four models */
  arms?: readonly DemoArm[];
}

export interface DemoArm {
  /** model name in the tables ([A-Za-z0-9_.-]) */
  name: string;
  /** `--set key=value` overrides of the RA-RLHF stage's train config */
  sets: readonly string[];
}

/** The risk measures of lib/rl/risk-measures.ts and CeSoR's sampler, as demo arms (`rarlhf demo --measures`). */
export const MEASURE_ARMS: readonly DemoArm[] = [
  { name: 'ra_per_prompt', sets: ['risk.measure=cvar_per_prompt', 'risk.samples_per_prompt=4'] },
  { name: 'ra_entropic', sets: ['risk.measure=entropic', 'risk.entropic_lambda=1'] },
  { name: 'ra_mean_variance', sets: ['risk.measure=mean_variance', 'risk.mv_coef=0.5'] },
  { name: 'ra_cesor', sets: ['risk.sampler=cross_entropy'] },
];

export interface DemoResult {
  out: string;
  report: string;
  timings: StageRecord[];
  totalSeconds: number;
  metrics: Record<string, Record<string, number>>;
}

/** Model names in the generations table, in the paper's order. */
export const DEMO_MODELS = ['gpt2', 'sft', 'rlhf', 'ra_rlhf'] as const;

function readJsonl<T>(file: string): T[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);
}

function writeJsonl(file: string, rows: readonly unknown[]): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const t0 = performance.now();
  const cfg: DemoConfig = demoConfig(Boolean(o.quick), o.seed ?? 0);
  const out = path.resolve(o.out);
  fs.mkdirSync(out, { recursive: true });
  writeJson(path.join(out, 'config.json'), cfg);
  const progress = new Progress(o.quiet);
  const timings: StageRecord[] = [];
  const engine = await initEngine({ quiet: o.quiet });
  progress.log(`rarlhf demo -> ${out} (${o.quick ? 'quick' : 'full'} config, backend ${engine.backend})`);
  const dir = (name: string) => path.join(out, name);

  // 1. Corpus ---------------------------------------------------------------------------------
  await runStage(new Stage(dir('corpus'), 'corpus', { corpus: cfg.corpus, seed: cfg.seed }), progress, async (st) => {
    const all = generateCorpus({ seed: cfg.seed, ...cfg.corpus });
    const { train, test } = splitCorpus(all, cfg.corpus.testFraction, cfg.seed);
    writeJsonl(path.join(st.dir, 'train.jsonl'), train);
    writeJsonl(path.join(st.dir, 'test.jsonl'), test);
    return { train: train.length, test: test.length, tailTest: test.filter((r) => r.hostile).length };
  }, timings);
  const train = readJsonl<DemoReview>(path.join(dir('corpus'), 'train.jsonl'));
  const test = readJsonl<DemoReview>(path.join(dir('corpus'), 'test.jsonl'));

  // 2. Tokenizer ------------------------------------------------------------------------------
  await runStage(new Stage(dir('tokenizer'), 'tokenizer', { tokenizer: cfg.tokenizer, corpus: cfg.corpus, seed: cfg.seed }), progress, async (st) => {
    const { tokenizer, stats } = trainByteLevelBPE(train.map((r) => r.text), { vocabSize: cfg.tokenizer.vocabSize });
    tokenizer.save(st.dir);
    return { vocabSize: tokenizer.vocabSize, merges: stats.merges };
  }, timings);
  const tokenizer = GPT2Tokenizer.fromDir(dir('tokenizer'));

  // 3. Pretraining: the stand-in for GPT-2's web pretraining ------------------------------------
  const lmStage = async (name: string, texts: string[], init: string | null, hp: DemoConfig['pretrain']) =>
    runStage(new Stage(dir(name), name, { trainer: 'trainSFT', hp, model: cfg.model, init, seed: cfg.seed, corpus: cfg.corpus, tokenizer: cfg.tokenizer }), progress, async (st) => {
      const model = init ? (await AutoModelForCausalLM.fromPretrained(dir(init))).model : new GPT2LMHeadModel(tinyGPT2Config(cfg.model, tokenizer), { seed: cfg.seed });
      progress.start(name, causalLMSteps(texts.length, hp));
      const summary = await trainCausalLM(model, tokenizer, texts, st.dir, {
        ...hp, seed: cfg.seed, appendEos: true, onStep: (step, loss) => progress.update(step, `loss ${loss.toFixed(3)}`),
      });
      model.dispose();
      return { steps: summary.steps, evalLossBefore: summary.eval_loss_before, evalLoss: summary.eval_loss, finalTrainLoss: summary.final_train_loss };
    }, timings);
  await lmStage('pretrain', train.map((r) => r.text), null, cfg.pretrain);
  // 4. SFT on positive reviews only (paper: IMDB label == 1) -----------------------------------
  await lmStage('sft', train.filter((r) => r.label === 1).map((r) => r.text), 'pretrain/checkpoints/final', cfg.sft);

  // 5. Reward model: the kit's sentiment reward trainer on the corpus labels -------------------
  await runStage(new Stage(dir('reward'), 'reward', { reward: cfg.reward, corpus: cfg.corpus, seed: cfg.seed }), progress, async (st) => {
    const r = await trainSentimentReward(train.map((x) => ({ text: x.text, label: x.label })), test.map((x) => ({ text: x.text, label: x.label })),
      { epochs: cfg.reward.epochs, seed: cfg.seed, log: (m) => st.log({ msg: m }) });
    await r.model.save(path.join(st.dir, 'model'));
    r.model.dispose();
    return { testAccuracy: r.testAccuracy, seconds: r.seconds };
  }, timings);
  const reward = await AutoRewardModel.fromPretrained(path.join(dir('reward'), 'model'));

  // 6. RLHF and RA-RLHF: same prompts, budget and seed; only the risk schedule differs ---------
  // Training prompts: the opening sentence of every training review (the hostile tail included).
  const promptsFile = path.join(dir('corpus'), 'train.jsonl');
  const prompts = train.map((r) => tokenizer.encode(r.prompt));
  const arms = o.arms ?? [];
  const ppoRuns = [{ name: 'rlhf', algo: 'rlhf' as const, sets: [] as readonly string[] }, { name: 'ra_rlhf', algo: 'ra_rlhf' as const, sets: [] }, ...arms.map((a) => ({ ...a, algo: 'ra_rlhf' as const }))];
  for (const run of ppoRuns) {
    const { algo } = run;
    // arms add their overrides to the key; the two paper stages keep theirs (cached demos stay valid)
    const key = { algo, ppo: cfg.ppo, risk: algo === 'ra_rlhf' ? cfg.risk : null, model: cfg.model, seed: cfg.seed, corpus: cfg.corpus, sft: cfg.sft, pretrain: cfg.pretrain, ...(run.sets.length ? { sets: run.sets } : {}) };
    await runStage(new Stage(dir(run.name), run.name, key), progress, async (st) =>
      runPPOStage({
        algo, task: 'demo', initDir: path.join(dir('sft'), 'checkpoints', 'final'), outDir: st.dir, prompts, reward, tokenizer,
        ppo: cfg.ppo, risk: cfg.risk, seed: cfg.seed, progress, sets: run.sets, rewardDir: path.join(dir('reward'), 'model'), promptsFile,
      }), timings);
  }
  const names = [...DEMO_MODELS, ...arms.map((a) => a.name)];

  // 7. Generations on held-out prompts (the hostile tail included) ------------------------------
  const evalPrompts = test.slice(0, cfg.eval.nPrompts);
  const genFile = path.join(out, 'generations.jsonl');
  const ckpt: Record<string, string> = {
    gpt2: 'pretrain/checkpoints/final', sft: 'sft/checkpoints/final', rlhf: 'rlhf/checkpoints/final', ra_rlhf: 'ra_rlhf/checkpoints/final',
    ...Object.fromEntries(arms.map((a) => [a.name, `${a.name}/checkpoints/final`])),
  };
  await runStage(new Stage(dir('generations'), 'generations', { cfg, ckpt }), progress, async () => {
    const models = await loadGenerationModels(names.map((name) => ({ name, dir: dir(ckpt[name]) })));
    progress.start('generate', evalPrompts.length * models.length);
    const rows = await generationRows(
      evalPrompts.map((r) => ({ prompt: r.prompt, cls: r.label, extra: { hostile: r.hostile } })),
      models, reward, { maxNewTokens: cfg.eval.maxNewTokens, seed: cfg.seed, onProgress: (d) => progress.update(d) },
    );
    writeGenerations(genFile, rows);
    for (const m of models) m.model.dispose();
    return { rows: rows.length };
  }, timings);

  // 8. Evaluation + report ---------------------------------------------------------------------
  const tEval = performance.now();
  const genRows = readJsonl<Record<string, number | string | boolean>>(genFile);
  const tail = hostileTailThreshold(genRows.filter((r) => r.hostile === true).map((r) => Number(r.prompt_score))) ?? -2.5;
  const spec = evalSpec(names, tail, cfg.eval.cvarAlpha, false);
  const result = evaluateFile(genFile, spec);
  const pplTexts = test.filter((r) => r.label === 1).slice(0, cfg.eval.perplexityTexts).map((r) => r.text);
  const ppl: Record<string, number[]> = {};
  for (const name of names) {
    const { model } = await AutoModelForCausalLM.fromPretrained(dir(ckpt[name]));
    ppl[name] = [(await modelPerplexity(model, tokenizer, pplTexts)).mean];
    model.dispose();
  }
  const table = resultsTable([result], ppl);
  const curves = ppoRuns.map(({ name }) => ({ name, records: readMetricsJsonl(path.join(dir(name), 'metrics.jsonl')) }));
  const figs = await writeFigures(path.join(out, 'figures'), {
    curves,
    quantiles: { q: result.quantiles.q, curves: Object.fromEntries(result.models.map((m) => [m.name, m.quantileReward])) },
    shift: { result, classNames: { '0': 'negative', '1': 'positive' } },
  }, o.png ?? true);
  timings.push({ stage: 'eval+report', seconds: (performance.now() - tEval) / 1000, cached: false });

  const metrics: DemoResult['metrics'] = {};
  for (const m of result.models) {
    metrics[m.name] = {
      meanReward: m.meanReward, tailReward: m.tailReward, tailN: m.tailN, cvar: m.cvar,
      distinct1: m.distinct.corpus[1], distinct2: m.distinct.corpus[2], distinct3: m.distinct.corpus[3], perplexity: ppl[m.name][0],
      hostileReward: mean(genRows.filter((r) => r.hostile === true).map((r) => Number(r[`${m.name}_reward`]))),
    };
  }
  const totalSeconds = (performance.now() - t0) / 1000;
  writeJson(path.join(out, 'results.json'), { tail, cvarAlpha: cfg.eval.cvarAlpha, metrics, timings, totalSeconds, eval: result });
  const report = path.join(out, 'report.md');
  fs.writeFileSync(report, renderReport(cfg, o, tail, table.markdown, metrics, timings, totalSeconds, figs.images, figs.html, exampleGenerations(genFile, names, 4), out));
  progress.log(`report: ${report} (${totalSeconds.toFixed(0)} s)`);
  return { out, report, timings, totalSeconds, metrics };
}

function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

function renderReport(
  cfg: DemoConfig, o: DemoOptions, tail: number, table: string, metrics: DemoResult['metrics'], timings: StageRecord[],
  totalSeconds: number, images: string[], htmls: string[], examples: string, out: string,
): string {
  const rel = (f: string) => path.relative(out, f);
  const hostile = Object.keys(metrics).map((n) => `| ${n} | ${metrics[n].hostileReward.toFixed(2)} |`).join('\n');
  return `# rarlhf demo report

Generated task: ${cfg.corpus.nReviews} templated movie reviews (AFINN lexicon words), ${Math.round(cfg.corpus.tailFraction * 100)}% of them opening with a
hostile sentence (the tail). Policy: GPT-2 architecture, ${cfg.model.n_layer} layers, d ${cfg.model.n_embd}, BPE vocabulary ${cfg.tokenizer.vocabSize}.
Config: ${o.quick ? 'quick (test-sized; numbers are not meaningful)' : 'full'}; seed ${cfg.seed}. PPO budget (both algorithms): ${cfg.ppo.steps} steps x ${cfg.ppo.batchSize} prompts;
RA-RLHF soft-risk alpha ${cfg.risk.alpha}, warm start n ${cfg.risk.warmStart}, rho ${cfg.risk.rho}.${(o.arms ?? []).length ? `
Extra RA-RLHF arms: ${(o.arms ?? []).map((a) => `${a.name} (${a.sets.join(', ')})`).join('; ')}.` : ''}

## Results (held-out prompts)

Tail = prompts with prompt score <= ${tail} (the reward model's score of the prompt alone). CVaR at alpha ${cfg.eval.cvarAlpha}.
Perplexity: held-out positive reviews under each model.

${table}

Mean reward on the hostile-opening prompts only:

| model | reward |
|---|---:|
${hostile}

## Figures

${images.map((f) => `![${path.basename(f, path.extname(f))}](${rel(f)})`).join('\n\n')}

Interactive: ${htmls.map((f) => `[${path.basename(f)}](${rel(f)})`).join(', ')}

## Example generations (lowest prompt scores)

${examples}

## Timings (${totalSeconds.toFixed(1)} s total)

| stage | seconds | cached (seconds of the run that made it) |
|---|---:|---|
${timings.map((t) => `| ${t.stage} | ${t.seconds.toFixed(1)} | ${t.cached ? 'yes' : ''} |`).join('\n')}
`;
}
