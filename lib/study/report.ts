/**
 * The study report: per arm mean ± std over seeds (mean reward, tail reward, CVaR, perplexity,
 * final kl_coef, selection diagnostics) and, for every arm against the baseline, the paired
 * two-level bootstrap 95% interval of the difference (lib/eval/bootstrap.ts). Writes results.json,
 * results.md and figures/ (quantile curves, training curves, paired differences).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { evaluateTable, promptView, type ModelResult } from '../eval/evaluate';
import { frontierMarkdown, riskFrontier, type FrontierResult } from '../eval/risk-frontier';
import { writeFrontier } from '../eval/frontier-report';
import { numberColumn, readGenerations, stringColumn, type GenerationsTable } from '../eval/generations';
import { mean, seedStats, type SeedStats } from '../eval/metrics';
import { pairedBootstrap, percentile, type BootstrapMetric } from '../eval/bootstrap';
import { preferFullBatch, quantileDiffFigure, quantileFigure, quantileTailFigure, readMetricsJsonl, trainingCurvesFigure, type Figure } from '../eval/figures';
import { quantileDiffBootstrap } from '../eval/quantile-diff';
import { baseLayout } from '../eval/style';
import { closeRenderer } from '../eval/render';
import { emptyFigureOutputs, evalSpec, writeFigure, type FigureOutputs } from '../pipeline/report';
import { modelColumns } from '../pipeline/generations';
import { writeJson } from '../pipeline/run-dir';
import type { ReproContext } from '../repro/pipeline';
import type { StudyArm, StudySpec } from './spec';

export interface ArmSeedRun { arm: StudyArm; seed: number; dir: string; genFile: string; perplexity: number }

/** Selection diagnostics averaged over the steps that dropped episodes (risk/kept < B). */
export const SELECTION_KEYS = ['risk/spearman_rank_score', 'risk/kept_score_mean', 'risk/dropped_score_mean', 'risk/kept_tail_share', 'risk/batch_tail_share'] as const;
const METRICS = ['meanReward', 'tailReward', 'cvar'] as const;
const LABEL: Record<string, string> = { meanReward: 'Reward', tailReward: 'Tail reward', cvar: 'CVaR' };

interface SeedRow {
  seed: number; dir: string; meanReward: number; tailReward: number; tailN: number; cvar: number; perplexity: number; distinct2: number;
  finalKlCoef: number; selection: Record<string, number>;
}

/** Mean of each selection key over the steps with dropped episodes; keys never logged are left out. */
export function selectionSummary(records: readonly Record<string, unknown>[], batchSize: number): Record<string, number> {
  const steps = records.filter((r) => typeof r['risk/kept'] === 'number' && (r['risk/kept'] as number) < batchSize);
  const out: Record<string, number> = {};
  for (const k of SELECTION_KEYS) {
    const xs = steps.map((r) => r[k]).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
    if (xs.length) out[k] = mean(xs);
  }
  return out;
}

/** The tail threshold: the task's, or the spec's quantile of the test prompts' scores (shared by every arm-seed). */
export function tailThreshold(spec: StudySpec, runs: readonly ArmSeedRun[], taskTail: number): number {
  if (spec.tail_quantile === null || runs.length === 0) return taskTail;
  const scores = numberColumn(readGenerations(runs[0].genFile), 'prompt_score').slice().sort((a, b) => a - b);
  return percentile(scores, spec.tail_quantile);
}

export async function writeStudyReport(ctx: ReproContext, spec: StudySpec, runs: readonly ArmSeedRun[], o: { png: boolean; quick: boolean; t0: number }) {
  const { cfg, out } = ctx;
  const tail = tailThreshold(spec, runs, cfg.eval.tail);
  const evals = new Map<string, { table: GenerationsTable; result: ModelResult; rewards: number[]; promptScores: number[]; prompts: string[] }>();
  const rows = new Map<string, SeedRow[]>();
  for (const r of runs) {
    const t = readGenerations(r.genFile);
    const result = evaluateTable(t, evalSpec([r.arm.slug], tail, cfg.eval.cvarAlpha, false)).models[0];
    evals.set(`${r.arm.slug}/${r.seed}`, { table: t, result, rewards: numberColumn(t, modelColumns(r.arm.slug).reward), promptScores: numberColumn(t, 'prompt_score'), prompts: stringColumn(t, 'prompt') });
    const records = readMetricsJsonl(path.join(r.dir, 'metrics.jsonl'));
    const last = records[records.length - 1];
    const row: SeedRow = {
      seed: r.seed, dir: path.relative(out, r.dir), meanReward: result.meanReward, tailReward: result.tailReward, tailN: result.tailN, cvar: result.cvar,
      perplexity: r.perplexity, distinct2: result.distinct.corpus[2], finalKlCoef: typeof last?.['objective/kl_coef'] === 'number' ? (last['objective/kl_coef'] as number) : NaN,
      selection: selectionSummary(records, cfg.ppo.batchSize),
    };
    rows.set(r.arm.slug, [...(rows.get(r.arm.slug) ?? []), row]);
  }

  const arms = spec.arms.map((arm) => {
    const perSeed = rows.get(arm.slug) ?? [];
    const stat = (f: (r: SeedRow) => number): SeedStats => seedStats(perSeed.map(f).filter(Number.isFinite));
    const summary: Record<string, SeedStats> = {
      meanReward: stat((r) => r.meanReward), tailReward: stat((r) => r.tailReward), cvar: stat((r) => r.cvar), perplexity: stat((r) => r.perplexity),
      distinct2: stat((r) => r.distinct2), finalKlCoef: stat((r) => r.finalKlCoef),
    };
    for (const k of SELECTION_KEYS) if (perSeed.some((r) => k in r.selection)) summary[k] = stat((r) => r.selection[k] ?? NaN);
    return { name: arm.name, slug: arm.slug, algo: arm.algo, overrides: arm.set, perSeed, summary };
  });

  // paired bootstrap: each arm vs the baseline, paired by seed and prompt
  const base = spec.arms.find((a) => a.name === spec.baseline)!;
  const metrics: BootstrapMetric[] = [{ kind: 'meanReward' }, { kind: 'tailReward', threshold: tail }, { kind: 'cvar', alpha: cfg.eval.cvarAlpha }];
  const paired: { arm: string; vs: string; metric: string; diff: number; ci95: [number, number]; resamples: number; undefinedResamples: number }[] = [];
  const byName = (n: string) => spec.arms.find((x) => x.name === n)!;
  const pairs: [StudyArm, StudyArm][] = [...spec.arms.filter((x) => x !== base).map((x): [StudyArm, StudyArm] => [x, base]), ...spec.extra_pairs.map(([x, y]): [StudyArm, StudyArm] => [byName(x), byName(y)])];
  for (const [arm, vs] of pairs) {
    const a: number[][] = [];
    const b: number[][] = [];
    const ps: number[][] = [];
    for (const seed of spec.seeds) {
      const ea = evals.get(`${arm.slug}/${seed}`)!;
      const eb = evals.get(`${vs.slug}/${seed}`)!;
      const j = ea.prompts.findIndex((p, i) => p !== eb.prompts[i] || ea.promptScores[i] !== eb.promptScores[i]);
      if (ea.prompts.length !== eb.prompts.length || j >= 0) {
        throw new Error(`study: ${arm.slug}/seed-${seed}/generations.jsonl and ${vs.slug}/seed-${seed}/generations.jsonl differ in prompts or prompt scores${j >= 0 ? ` (row ${j + 1})` : ''}; pairing needs the same prompts`);
      }
      a.push(ea.rewards);
      b.push(eb.rewards);
      ps.push(eb.promptScores);
    }
    for (const r of pairedBootstrap({ a, b, promptScores: ps }, metrics, spec.bootstrap)) paired.push({ arm: arm.name, vs: vs.name, ...r });
  }

  // risk frontier: CVaR at alpha 0.05 .. 1 of every arm, arm - baseline on the same paired bootstrap
  const slugs = spec.arms.map((a) => a.slug);
  const views = spec.seeds.map((seed) => {
    const tables = spec.arms.map((arm) => evals.get(`${arm.slug}/${seed}`)!.table);
    const merged = { ...tables[0], columns: [...new Set(tables.flatMap((t) => t.columns))], rows: tables[0].rows.map((row, i) => Object.assign({}, row, ...tables.slice(1).map((t) => t.rows[i]))) };
    return promptView(merged, evalSpec(slugs, tail, cfg.eval.cvarAlpha, false));
  });
  const frontier = riskFrontier(views, slugs, { reference: base.slug, resamples: spec.bootstrap.resamples, seed: spec.bootstrap.seed });
  await writeFrontier(path.join(out, 'frontier'), frontier, { png: o.png });

  const figDir = path.join(out, 'figures');
  const figs = emptyFigureOutputs();
  fs.mkdirSync(figDir, { recursive: true });
  try {
    const q = Array.from({ length: 100 }, (_, i) => i + 1);
    const curves = Object.fromEntries(spec.arms.map((arm) => {
      const qs = spec.seeds.map((s) => evals.get(`${arm.slug}/${s}`)!.result.quantileReward);
      return [arm.name, qs[0].map((_, i) => mean(qs.map((x) => x[i])))];
    }));
    await writeFigure(figDir, 'quantile_curve', quantileFigure(q, curves, 'Reward vs prompt-score quantile (mean over seeds)'), o.png, figs);
    await writeFigure(figDir, 'quantile_tail', quantileTailFigure(q, curves), o.png, figs);
    // arm − baseline over quantiles, same paired two-level bootstrap as the table (seeds, then prompts)
    const diffs = spec.arms.filter((a) => a !== base).map((arm) => ({
      a: arm.name, b: base.name,
      band: quantileDiffBootstrap({
        a: spec.seeds.map((s) => evals.get(`${arm.slug}/${s}`)!.rewards),
        b: spec.seeds.map((s) => evals.get(`${base.slug}/${s}`)!.rewards),
        promptScores: spec.seeds.map((s) => evals.get(`${base.slug}/${s}`)!.promptScores),
      }, { qs: q, resamples: spec.bootstrap.resamples, seed: spec.bootstrap.seed }),
    }));
    if (diffs.length) await writeFigure(figDir, 'quantile_diff', quantileDiffFigure(diffs), o.png, figs);
    // every seed of every arm: the figure draws the seed mean ± std per arm
    const curveRuns = spec.arms.flatMap((arm) => spec.seeds.map((s) => ({ name: `${arm.name} seed ${s}`, group: arm.name, records: readMetricsJsonl(path.join(out, arm.slug, `seed-${s}`, 'metrics.jsonl')) })));
    const present = new Set(curveRuns.flatMap((c) => c.records.flatMap((r) => Object.keys(r).filter((k) => typeof r[k] === 'number'))));
    const keys = preferFullBatch(['env/reward_mean', 'objective/kl_all', 'objective/kl', 'objective/kl_coef', 'objective/entropy_all', 'objective/entropy', 'risk/kept', 'risk/spearman_rank_score', 'risk/kept_tail_share'], present).filter((k) => present.has(k));
    await writeFigure(figDir, 'training_curves', trainingCurvesFigure(curveRuns, { smoothing: 0.6, keys }), o.png, figs);
    if (paired.length) await writeFigure(figDir, 'paired_differences', pairedFigure(paired.filter((p) => p.vs === spec.baseline), spec.baseline), o.png, figs);
  } finally {
    await closeRenderer();
  }

  const timings = ctx.timings;
  const totalSeconds = (performance.now() - o.t0) / 1000;
  const json = path.join(out, 'results.json');
  writeJson(json, {
    task: cfg.task, reward: spec.reward, seeds: spec.seeds, baseline: spec.baseline, quick: o.quick,
    bootstrap: { ...spec.bootstrap, method: 'paired two-level: resample seeds, then test prompts within each seed; same seeds and prompts for both arms; 2.5/97.5 percentiles' },
    eval: { prompts: ctx.testPrompts.length, tail, cvarAlpha: cfg.eval.cvarAlpha, perplexityTexts: ctx.pplTexts.length },
    config: cfg, arms, paired, frontier, timings, totalSeconds,
  });
  const md = path.join(out, 'results.md');
  fs.writeFileSync(md, renderMarkdown(ctx, spec, arms, paired, frontier, figs, totalSeconds, o.quick, tail));
  ctx.progress.log(`results: ${md} (${totalSeconds.toFixed(0)} s)`);
  return { md, json, totalSeconds };
}

const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const fs2 = (s?: SeedStats, d = 2) => (!s || !Number.isFinite(s.mean) ? 'n/a' : `${s.mean.toFixed(d)} ± ${s.std.toFixed(d)}`);

function renderMarkdown(
  ctx: ReproContext, spec: StudySpec, arms: { name: string; algo: string; overrides: string[]; summary: Record<string, SeedStats> }[],
  paired: { arm: string; vs: string; metric: string; diff: number; ci95: [number, number]; undefinedResamples: number }[], frontier: FrontierResult, figs: FigureOutputs, total: number, quick: boolean, tail: number,
): string {
  const { cfg } = ctx;
  const rel = (f: string) => path.relative(ctx.out, f);
  const armRows = arms.map((a) => {
    const s = a.summary;
    const sel = s['risk/kept_tail_share'] ? `${fs2(s['risk/kept_tail_share'])} (${fs2(s['risk/batch_tail_share'])})` : '';
    return `| ${a.name} | ${a.algo} | ${a.overrides.map((x) => `\`${x}\``).join(' ') || '—'} | ${fs2(s.meanReward)} | ${fs2(s.tailReward)} | ${fs2(s.cvar)} | ${fs2(s.perplexity, 1)} | ${fs2(s.finalKlCoef, 3)} | ${s['risk/spearman_rank_score'] ? fs2(s['risk/spearman_rank_score']) : ''} | ${sel} |`;
  });
  const rowsOf = (list: typeof paired, label: (arm: string, vs: string) => string) => [...new Set(list.map((p) => `${p.arm}\u0000${p.vs}`))].map((key) => {
    const [arm, vs] = key.split('\u0000');
    const cell = (m: string) => {
      const p = list.find((x) => x.arm === arm && x.vs === vs && x.metric === m)!;
      return `${f2(p.diff)} [${f2(p.ci95[0])}, ${f2(p.ci95[1])}]${p.undefinedResamples ? ` (${p.undefinedResamples} undefined)` : ''}`;
    };
    return `| ${label(arm, vs)} | ${METRICS.map(cell).join(' | ')} |`;
  });
  const pairedRows = rowsOf(paired.filter((p) => p.vs === spec.baseline), (arm) => arm);
  const extraRows = rowsOf(paired.filter((p) => p.vs !== spec.baseline), (arm, vs) => `${arm} − ${vs}`);
  const extra = extraRows.length ? `\n\nOther pairs (spec extra_pairs), same bootstrap:\n\n| Pair | Δ Reward | Δ Tail reward | Δ CVaR |\n|---|---|---|---|\n${extraRows.join('\n')}` : '';
  return `# Fidelity study: ${cfg.task}${quick ? ' (quick test config: numbers are not meaningful)' : ''}

Arms trained from the same SFT checkpoint with the repro miniature's budget (${cfg.ppo.steps} PPO steps x ${cfg.ppo.batchSize} prompts,
${cfg.ppo.ppoEpochs} PPO epochs, lr ${cfg.ppo.lr}; RA-RLHF alpha ${cfg.risk.alpha}, n ${cfg.risk.warmStart}, rho ${cfg.risk.rho}) plus each arm's overrides;
reward model "${spec.reward}"; seeds [${spec.seeds.join(', ')}]. Each arm-seed is sampled once on ${ctx.testPrompts.length} held-out test prompts
(the same prompts and sampling seed for every arm of a seed). Tail = prompt score <= ${spec.tail_quantile === null ? tail : `${tail.toFixed(3)} (the ${spec.tail_quantile}-quantile of the test prompts' scores, spec tail_quantile; the kept-tail-share diagnostic keeps the task's ${cfg.eval.tail})`}; CVaR at alpha ${cfg.eval.cvarAlpha};
perplexity on ${ctx.pplTexts.length} held-out texts. Mean ± sample std over seeds. "final β" = kl_coef after the last step;
Spearman = Spearman(ranking statistic, env score) over each batch, and kept tail share (batch share) = the share of kept
(all) episodes whose prompt is in the tail, both averaged over the steps that dropped episodes.

| Arm | algo | overrides | Reward ↑ | Tail ↑ | CVaR ↑ | Perplexity ↓ | final β | Spearman | kept tail share (batch) |
|---|---|---|---:|---:|---:|---:|---:|---:|---|
${armRows.join('\n')}

## Paired differences: arm − ${spec.baseline}

Difference and 95% interval of a paired two-level bootstrap (${spec.bootstrap.resamples} resamples, seed ${spec.bootstrap.seed}): resample the
${spec.seeds.length} seeds with replacement, then the test prompts within each drawn seed; both arms get the same seeds and prompts.
An interval that excludes 0 is a difference this design resolves.

${pairedRows.length ? `| Arm | Δ Reward | Δ Tail reward | Δ CVaR |
|---|---|---|---|
${pairedRows.join('\n')}` : '(no arm besides the baseline)'}${extra}

## Risk frontier: CVaR at several α

CVaR_α (mean over seeds) of each arm and arm − ${spec.baseline} with the same paired bootstrap; α = 1 is the mean reward
(CVaR over per-prompt rewards). Figure: [frontier/frontier.svg](frontier/frontier.svg); data: frontier/frontier.json.

${frontierMarkdown(frontier)}

## Figures

${figs.images.map((f) => `![${path.basename(f).replace(/\.(png|svg)$/, '')}](${rel(f)})`).join('\n\n')}${figs.png.length ? '' : '\n\n(SVG from the built-in renderer: Chromium not found or --no-png)'}

Interactive: ${figs.html.map((f) => `[${path.basename(f)}](${rel(f)})`).join(', ')}

## Timings (${(total / 60).toFixed(1)} min in this invocation)

| stage | seconds | cached |
|---|---:|---|
${ctx.timings.map((t) => `| ${t.stage} | ${t.seconds.toFixed(1)} | ${t.cached ? 'yes' : ''} |`).join('\n')}
`;
}

/** Difference vs the baseline with its 95% interval, one marker per arm and metric. */
function pairedFigure(paired: readonly { arm: string; metric: string; diff: number; ci95: [number, number] }[], vs: string): Figure {
  const arms = [...new Set(paired.map((p) => p.arm))];
  return {
    data: METRICS.map((m) => {
      const ps = arms.map((a) => paired.find((p) => p.arm === a && p.metric === m)!);
      return {
        type: 'scatter', mode: 'markers', name: LABEL[m], x: arms, y: ps.map((p) => p.diff),
        error_y: { type: 'data', symmetric: false, array: ps.map((p) => p.ci95[1] - p.diff), arrayminus: ps.map((p) => p.diff - p.ci95[0]) },
      };
    }),
    layout: baseLayout({
      title: { text: `Arm − ${vs} (paired bootstrap 95% CI)` }, width: Math.max(600, 110 * arms.length), height: 450,
      yaxis: { title: { text: 'difference' }, zeroline: true }, scattermode: 'group',
    }),
  };
}
