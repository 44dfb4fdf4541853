/**
 * `rarlhf baselines`: the paper's final-version baselines (prompted GPT-2, best-of-n, DExperts,
 * Quark) beside GPT2 / SFT / RLHF / RA-RLHF on one miniature task, through one generation and
 * evaluation path: the same test prompts, one sample per prompt and seed, the same reward model,
 * tail rule, perplexity texts and Distinct-n. Shared stages come from repro's cache
 * (lib/repro/pipeline.ts prepareRepro); per seed, under <out>/seed-<s>/:
 *
 *   rlhf, ra_rlhf (repro's stages) · quark · generations.jsonl (every method) -> results.md / .json
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DExpertsLM } from '../models/dexperts';
import { RestrictedVocabLM } from '../models/control-tokens';
import { trainQuark } from '../rl/quark';
import { readGenerations, writeGenerations, type GenerationsTable, type Row } from '../eval/generations';
import { evaluateTable, meanQuantileCurves, type EvalResult } from '../eval/evaluate';
import { frontierMarkdown, type FrontierResult } from '../eval/risk-frontier';
import { markdownTable } from '../eval/tables';
import { mean } from '../eval/metrics';
import { Stage, configHash, runStage, writeJson, type StageRecord } from '../pipeline/run-dir';
import { causalLMSteps, saveLM, trainCausalLM } from '../pipeline/adapters';
import { AutoModelForCausalLM } from '../models/pretrained';
import { generationRows, type GenerationModel } from '../pipeline/generations';
import { evalSpec, modelPerplexity, resultsTable, seedFrontier, writeFigures } from '../pipeline/report';
import { ppoSeedStages, prepareRepro, type ReproContext, type ReproOptions } from '../repro/pipeline';
import { baselinesConfig, methodRows, BASELINE_METHODS, type BaselineMethod, type BaselinesConfig, type BaselinesOverrides } from './config';

export interface BaselinesOptions extends ReproOptions, BaselinesOverrides {
  methods?: BaselineMethod[];
}

export interface MethodCost {
  /** seconds of the method's own training stages (mean over seeds; shared stages once) */
  trainSeconds: number;
  /** reward-model calls during training (per seed) */
  trainRewardCalls: number;
  /** seconds to generate the test table (mean over seeds) */
  generateSeconds: number;
  /** reward-model calls to produce the table's responses (per seed): prompts x n for best-of-n */
  generateRewardCalls: number;
}

export interface BaselinesResult {
  out: string;
  results: string;
  table: string;
  cost: Record<string, MethodCost>;
  totalSeconds: number;
}

/** The rebuttal table's columns (CVaR and length stay in results.json). */
const COLUMNS = ['meanReward', 'tailReward', 'perplexity', 'distinct1', 'distinct2', 'distinct3'] as const;

/** DExperts' anti-expert: the SFT recipe from GPT2 on the opposite class; shared across seeds like SFT. */
async function antiExpertStage(ctx: ReproContext, timings: StageRecord[]): Promise<{ dir: string; seconds: number }> {
  const { cfg, shared, task, progress, cache } = ctx;
  const texts = cfg.sft.maxTexts ? task.antiTexts.slice(0, cfg.sft.maxTexts) : task.antiTexts;
  if (texts.length === 0) throw new Error(`baselines: task ${cfg.task} has no anti-expert texts (the opposite class of its SFT texts)`);
  const key = { trainer: 'trainSFT', role: 'anti-expert', init: shared.gpt2, sft: cfg.sft, texts: texts.length };
  const st = new Stage(path.join(cache, `anti-expert-${configHash(key)}`), 'anti-expert', key);
  const r = await runStage(st, progress, async (s) => {
    const { model } = await AutoModelForCausalLM.fromPretrained(shared.gpt2);
    progress.start('anti-expert', causalLMSteps(texts.length, cfg.sft));
    const summary = await trainCausalLM(model, shared.tokenizer, texts, s.dir, { ...cfg.sft, onStep: (i, loss) => progress.update(i, `loss ${loss.toFixed(3)}`) });
    model.dispose();
    return { texts: texts.length, steps: summary.steps, evalLoss: summary.eval_loss };
  }, timings);
  return { dir: path.join(st.dir, 'checkpoints', 'final'), seconds: Number(r.seconds ?? 0) };
}

async function quarkStage(ctx: ReproContext, bc: BaselinesConfig, seed: number, seedDir: string): Promise<{ dir: string; seconds: number; rewardCalls: number }> {
  const { shared, reward, trainPrompts, progress, timings } = ctx;
  const key = { algo: 'quark', seed, quark: bc.quark, sft: shared.sft, reward: shared.reward, trainPrompts: trainPrompts.length };
  const st = new Stage(path.join(seedDir, 'quark'), `quark seed ${seed}`, key);
  const r = await runStage(st, progress, async (s) => {
    const { model: init } = await AutoModelForCausalLM.fromPretrained(shared.sft);
    progress.start('quark', bc.quark.steps);
    try {
      const q = await trainQuark({ ...bc.quark, seed }, {
        init, tokenizer: shared.tokenizer, prompts: trainPrompts, reward, outDir: s.dir,
        onStep: (i, rec) => progress.update(i, `lm ${rec['loss/lm'].toFixed(3)} kl ${rec['loss/kl'].toFixed(3)}`),
      });
      saveLM(q.policy, shared.tokenizer, path.join(s.dir, 'checkpoints', 'final'), { quark: { best_token: q.bestToken, control_tokens: bc.quark.K, text_vocab: shared.tokenizer.vocabSize } });
      q.policy.dispose();
      return { ...q.summary, rewardCalls: q.rewardCalls };
    } finally {
      init.dispose();
    }
  }, timings);
  return { dir: path.join(st.dir, 'checkpoints', 'final'), seconds: Number(r.seconds ?? 0), rewardCalls: Number(r.rewardCalls) };
}

interface Built { gen: GenerationModel; ppl: () => Promise<number>; dispose: () => void }

/** n of a best_of_<n> row, else null. */
function bestOfN(row: string): number | null {
  const m = /^best_of_(\d+)$/.exec(row);
  return m ? Number(m[1]) : null;
}

/** The row whose model scores a row's perplexity: the prompt prefix and best-of-n leave the model as it is. */
function perplexityRow(row: string): string {
  return row === 'gpt2_prompted' ? 'gpt2' : bestOfN(row) !== null ? 'sft' : row;
}

/** The generation model of a table row, and its perplexity on the held-out texts. */
async function buildRow(row: string, ctx: ReproContext, bc: BaselinesConfig, ckpt: Record<string, string>): Promise<Built> {
  const { shared, pplTexts, cfg } = ctx;
  const tokenizer = shared.tokenizer;
  const ppl = (m: Parameters<typeof modelPerplexity>[0]) => async () => (await modelPerplexity(m, tokenizer, pplTexts, cfg.eval.perplexityChars)).mean;
  const lm = async (dir: string) => (await AutoModelForCausalLM.fromPretrained(dir)).model;
  const single = async (dir: string, extra: Partial<GenerationModel> = {}): Promise<Built> => {
    const model = await lm(dir);
    return { gen: { name: row, model, tokenizer, ...extra }, ppl: ppl(model), dispose: () => model.dispose() };
  };
  if (row === 'gpt2' || row === 'sft' || row === 'rlhf' || row === 'ra_rlhf') return single(ckpt[row]);
  // The instruction conditions generation only; perplexity is the GPT2 model's own.
  if (row === 'gpt2_prompted') return single(ckpt.gpt2, { queryPrefix: tokenizer.encode(bc.prompted.prefix) });
  const n = bestOfN(row);
  if (n !== null) return single(ckpt.sft, { bestOf: n });
  if (row === 'dexperts') {
    const models = [await lm(ckpt.gpt2), await lm(ckpt.sft), await lm(ckpt.anti)];
    const ens = new DExpertsLM(models[0], models[1], models[2], bc.dexperts.alpha, bc.dexperts.filterP);
    // filtered tokens have probability 0: perplexity under the unfiltered ensemble
    return { gen: { name: row, model: ens, tokenizer }, ppl: ppl(ens.withFilterP(1)), dispose: () => models.forEach((m) => m.dispose()) };
  }
  if (row === 'quark') {
    const model = await lm(ckpt.quark);
    const best = tokenizer.vocabSize; // the first control token = the best quantile
    return {
      gen: { name: row, model: new RestrictedVocabLM(model, tokenizer.vocabSize), tokenizer, queryPrefix: [best] },
      ppl: ppl(new RestrictedVocabLM(model, tokenizer.vocabSize, best)),
      dispose: () => model.dispose(),
    };
  }
  throw new Error(`baselines: no model for row "${row}"`);
}

export async function runBaselines(o: BaselinesOptions): Promise<BaselinesResult> {
  const t0 = performance.now();
  const ctx = await prepareRepro(o, 'baselines');
  const { spec, cfg, out, progress, timings, shared, testPrompts } = ctx;
  const bc = baselinesConfig(spec, cfg, o);
  const methods = o.methods ?? [...BASELINE_METHODS];
  const rows = methodRows(methods, bc);
  writeJson(path.join(out, 'config.json'), { task: cfg.task, seeds: o.seeds, methods, rows, repro: cfg, baselines: bc, reward: o.reward ?? 'linear' });

  const sftSeconds = timings.find((t) => t.stage === 'sft')?.seconds ?? 0;
  const anti = methods.includes('dexperts') ? await antiExpertStage(ctx, timings) : null;
  const cost: Record<string, { train: number[]; trainCalls: number; gen: number[]; genCalls: number }> = Object.fromEntries(rows.map((r) => [r, { train: [], trainCalls: 0, gen: [], genCalls: 0 }]));
  const results: EvalResult[] = [];
  const tables: GenerationsTable[] = [];
  const ppl: Record<string, number[]> = Object.fromEntries(rows.map((r) => [r, []]));
  const pplCache = new Map<string, number>(); // seed-independent models are scored once

  for (const seed of o.seeds) {
    const seedDir = path.join(out, `seed-${seed}`);
    const ckpt: Record<string, string> = { gpt2: shared.gpt2, sft: shared.sft };
    if (anti) ckpt.anti = anti.dir;
    const own: Record<string, { seconds: number; calls: number }> = {};
    if (methods.includes('rlhf') || methods.includes('ra_rlhf')) {
      const ppo = await ppoSeedStages(ctx, seed, seedDir);
      for (const a of ['rlhf', 'ra_rlhf'] as const) {
        ckpt[a] = ppo[a].checkpoint;
        own[a] = { seconds: ppo[a].seconds, calls: cfg.ppo.steps * cfg.ppo.batchSize };
      }
    }
    if (methods.includes('quark')) {
      const q = await quarkStage(ctx, bc, seed, seedDir);
      ckpt.quark = q.dir;
      own.quark = { seconds: q.seconds, calls: q.rewardCalls };
    }
    own.sft = { seconds: sftSeconds, calls: 0 };
    if (anti) own.dexperts = { seconds: anti.seconds, calls: 0 };

    const genFile = path.join(seedDir, 'generations.jsonl');
    const gen = await runStage(new Stage(path.join(seedDir, 'generations'), `generations seed ${seed}`, { seed, eval: cfg.eval, rows, ckpt, baselines: bc }), progress, async () => {
      const table: Row[][] = [];
      const seconds: Record<string, number> = {};
      for (const row of rows) {
        const b = await buildRow(row, ctx, bc, ckpt);
        const tg = performance.now();
        try {
          progress.start(`generate ${row}`, testPrompts.length);
          table.push(await generationRows(testPrompts.map((p) => ({ prompt: p.query, cls: p.label })), [b.gen], ctx.reward, {
            maxNewTokens: cfg.eval.maxNewTokens, minNewTokens: cfg.eval.minNewTokens, seed, onProgress: (d) => progress.update(d),
          }));
          progress.stop();
        } finally {
          b.dispose();
        }
        seconds[row] = (performance.now() - tg) / 1000;
      }
      // one table: each model's columns side by side (same prompts, same order)
      const merged = table[0].map((r, i) => Object.assign({}, ...table.map((t) => t[i])) as Row);
      writeGenerations(genFile, merged);
      return { rows: merged.length, generateSeconds: seconds };
    }, timings);
    const genSeconds = gen.generateSeconds as Record<string, number>;
    const genTable = readGenerations(genFile);
    tables.push(genTable);
    results.push(evaluateTable(genTable, evalSpec(rows, cfg.eval.tail, cfg.eval.cvarAlpha, false)));

    for (const row of rows) {
      const c = cost[row];
      const mine = own[row] ?? { seconds: 0, calls: 0 };
      c.train.push(mine.seconds);
      c.trainCalls = mine.calls;
      c.gen.push(genSeconds[row]);
      c.genCalls = testPrompts.length * (bestOfN(row) ?? 1);
      // keyed by the checkpoint: shared models are scored once, per-seed ones once per seed
      const source = perplexityRow(row);
      const key = `${source}:${ckpt[source] ?? ckpt.anti ?? ''}`;
      if (!pplCache.has(key)) {
        const b = await buildRow(source, ctx, bc, ckpt);
        try { pplCache.set(key, await b.ppl()); } finally { b.dispose(); }
      }
      ppl[row].push(pplCache.get(key)!);
    }
  }

  const table = resultsTable(results, ppl);
  const markdown = markdownTable(table.rows, { tail: cfg.eval.tail, cvarAlpha: cfg.eval.cvarAlpha, columns: COLUMNS });
  const costs: Record<string, MethodCost> = Object.fromEntries(rows.map((r) => [r, {
    trainSeconds: mean(cost[r].train), trainRewardCalls: cost[r].trainCalls, generateSeconds: mean(cost[r].gen), generateRewardCalls: cost[r].genCalls,
  }]));
  const figs = await writeFigures(path.join(out, 'figures'), { quantiles: { q: results[0].quantiles.q, curves: meanQuantileCurves(results) } }, o.png ?? true);
  // CVaR at alpha 0.05 .. 1 of every method, minus RLHF (else the first row) with paired bootstrap intervals
  const frontier = await seedFrontier(path.join(out, 'frontier'), tables, evalSpec(rows, cfg.eval.tail, cfg.eval.cvarAlpha, false), { png: o.png });
  const totalSeconds = (performance.now() - t0) / 1000;
  writeJson(path.join(out, 'results.json'), { task: cfg.task, seeds: o.seeds, rows, table: table.rows, perplexity: ppl, cost: costs, frontier, baselines: bc, timings, totalSeconds });
  const md = renderBaselines(ctx, bc, o, markdown, table.markdown, frontier, costs, timings, totalSeconds, figs.images.map((f) => path.relative(out, f)));
  const resultsFile = path.join(out, 'results.md');
  fs.writeFileSync(resultsFile, md);
  await ctx.reward.dispose?.();
  progress.log(`results: ${resultsFile} (${totalSeconds.toFixed(0)} s)`);
  return { out, results: resultsFile, table: markdown, cost: costs, totalSeconds };
}

function renderBaselines(ctx: ReproContext, bc: BaselinesConfig, o: BaselinesOptions, table: string, fullTable: string, frontier: FrontierResult, cost: Record<string, MethodCost>, timings: StageRecord[], total: number, images: string[]): string {
  const { cfg, testPrompts } = ctx;
  const words = ctx.spec.steering;
  const q = bc.quark;
  return `# Baselines: ${cfg.task}${o.quick ? ' (quick test config: numbers are not meaningful)' : ''}

The rebuttal's layout: mean ± sample std over ${o.seeds.length} seed(s) [${o.seeds.join(', ')}]; every model sampled once on each of the
${testPrompts.length} held-out test prompts per seed (top-k 0, top-p 1, temperature 1, ${cfg.eval.maxNewTokens} new tokens), scored by the same reward
model. Tail = prompt score ≤ ${cfg.eval.tail}. Perplexity on ${ctx.pplTexts.length} held-out ${words.sftTexts}.
GPT2 / SFT / anti-expert are shared across seeds (their std is sampling noise); RLHF, RA-RLHF and Quark train once per seed.

${table}

All columns (CVaR at α ${cfg.eval.cvarAlpha}, length):

${fullTable}

## Risk frontier: CVaR at several α, minus ${frontier.reference}

CVaR_α of per-prompt rewards (mean over seeds; α = 1 is the mean reward) and each method − ${frontier.reference} with a paired
two-level bootstrap 95% interval (${frontier.resamples} resamples of seeds, then prompts). Figure: [frontier/frontier.svg](frontier/frontier.svg).

${frontierMarkdown(frontier)}

## Cost

| Method | own training (s) | reward calls in training | generating the table (s) | reward calls for the table |
|---|---:|---:|---:|---:|
${Object.entries(cost).map(([m, c]) => `| ${m} | ${c.trainSeconds.toFixed(1)} | ${c.trainRewardCalls} | ${c.generateSeconds.toFixed(1)} | ${c.generateRewardCalls} |`).join('\n')}

Own training: SFT = the SFT stage; DExperts = its anti-expert (the expert is the SFT model); Quark, RLHF, RA-RLHF = their
stages from SFT (per seed, mean). GPT2 pretraining (the start point of all) is in the timings below.

## Methods

- **gpt2_prompted**: the GPT2 model with "${bc.prompted.prefix}" in front of each prompt at inference only; the reward scores the
  prompt + response without it. The kit's GPT2 is a small LM pretrained on the task text, not an instruction-following model.
- **best_of_n**: n samples per prompt from SFT, the one with the highest reward kept (n reward calls per prompt).
- **dexperts**: logits = GPT2 + ${bc.dexperts.alpha} (SFT expert - anti-expert), base nucleus-filtered at p ${bc.dexperts.filterP}; anti-expert = SFT recipe on
  ${words.antiTexts}. Perplexity under the unfiltered ensemble.
- **quark**: K ${q.K} reward-quantile tokens, kl_coef ${q.kl_coef}, entropy_coef ${q.entropy_coef}, lr ${q.learning_rate}, batch ${q.batch_size}, ${q.steps} steps,
  exploration every ${q.sample_interval} steps on ${q.prompts_per_round} prompts, warm-up ${q.warmup_steps}; from SFT; generation with the best-quantile token.
- **rlhf / ra_rlhf**: repro's PPO stages (${cfg.ppo.steps} steps x ${cfg.ppo.batchSize} prompts; RA-RLHF alpha ${cfg.risk.alpha}, n ${cfg.risk.warmStart}, rho ${cfg.risk.rho}).

See lib/baselines/config.ts for each default's source and what the miniature changes.

## Figures

${images.map((f) => `![${path.basename(f, path.extname(f))}](${f})`).join('\n\n')}

## Timings (${(total / 60).toFixed(1)} min total)

| stage | seconds | cached |
|---|---:|---|
${timings.map((t) => `| ${t.stage} | ${t.seconds.toFixed(1)} | ${t.cached ? 'yes' : ''} |`).join('\n')}
`;
}
