/**
 * Risk frontier (`rarlhf eval --frontier`): CVaR at several levels α per model, against a
 * reference model (RLHF by default). One CVaR level says little about where in the reward
 * distribution a model gains; the curve CVaR vs α does: a risk-averse model should gain most at
 * small α (its worst generations) and may pay a little at α = 1, which is the mean reward.
 *
 * CVaR is metrics.ts `cvar`; each model − reference difference has the paired two-level bootstrap
 * 95% interval of bootstrap.ts (seed files, then prompts; every α and every model on the same
 * resamples). Like --compare, CVaR here is over per-prompt rewards (the mean of a prompt's
 * samples; k = 1: the reward itself), because prompts are what the bootstrap pairs.
 */
import { parseDecimal } from '../data/strict';
import { pairedBootstrap, type BootstrapMetric } from './bootstrap';
import type { PromptView } from './evaluate';
import { cvar, mean } from './metrics';
import { axisStyle, baseLayout, canonicalId, displayName, figureColors, FONT, type Figure } from './style';
import { markdownFromCells } from './tables';

/** The levels: the 5% tail up to the whole distribution (α = 1: the mean reward). */
export const DEFAULT_FRONTIER_ALPHAS: readonly number[] = [0.05, 0.1, 0.2, 0.4, 1];

export interface FrontierOptions {
  /** CVaR levels in (0, 1], distinct (default DEFAULT_FRONTIER_ALPHAS); sorted ascending in the result */
  alphas?: readonly number[];
  /** the model every other one is compared with (default: `defaultReference(models)`) */
  reference?: string;
  /** bootstrap resamples (default 2000) and Rng seed (default 0) */
  resamples?: number;
  seed?: number;
}

export interface FrontierPoint {
  alpha: number;
  /** CVaR_α of the model: the mean over seed files of the per-file CVaR */
  cvar: number;
  perSeed: number[];
  /** model − reference: the mean over seed files of the per-file difference (reference: 0) */
  diff: number;
  /** paired bootstrap 95% interval of `diff` (reference: [0, 0]) */
  ci95: [number, number];
}

export interface FrontierModel { name: string; reference: boolean; points: FrontierPoint[] }

export interface FrontierResult {
  alphas: number[];
  reference: string;
  resamples: number;
  seed: number;
  /** seed files, and prompts per file */
  seeds: number;
  prompts: number[];
  models: FrontierModel[];
  notes: string[];
}

/** The model named rlhf/RLHF (canonical id), else the first one. */
export function defaultReference(models: readonly string[]): string {
  return models.find((m) => canonicalId(m) === 'rlhf') ?? models[0];
}

/** Distinct levels in (0, 1], sorted ascending; errors name `flag`. */
export function checkAlphas(alphas: readonly number[], flag = '--frontier'): number[] {
  if (alphas.length === 0) throw new Error(`${flag}: no CVaR level given; expected levels in (0, 1], e.g. ${flag} 0.05,0.2,1`);
  const bad = alphas.find((a) => !(a > 0 && a <= 1));
  if (bad !== undefined) throw new Error(`${flag}: CVaR level ${bad} is not in (0, 1] (α = 1 is the mean reward)`);
  if (new Set(alphas).size !== alphas.length) throw new Error(`${flag}: CVaR level given twice in ${alphas.join(',')}`);
  return [...alphas].sort((x, y) => x - y);
}

/** "--frontier 0.05,0.2,1" -> [0.05, 0.2, 1]; decimal notation only, each in (0, 1]. */
export function parseFrontierAlphas(value: string, flag = '--frontier'): number[] {
  const parts = value.split(',');
  const nonNumber = parts.find((p) => Number.isNaN(parseDecimal(p)));
  if (nonNumber !== undefined) throw new Error(`${flag} ${JSON.stringify(value)}: '${nonNumber.trim()}' is not a number; expected comma-separated CVaR levels in (0, 1], e.g. ${flag} 0.05,0.2,1`);
  return checkAlphas(parts.map(parseDecimal), flag);
}

/** CVaR at each α of every model and its paired difference to the reference; one view per seed file. */
export function riskFrontier(views: readonly PromptView[], models: readonly string[], o: FrontierOptions = {}): FrontierResult {
  if (views.length === 0) throw new Error('frontier: no generations tables');
  const alphas = checkAlphas(o.alphas ?? DEFAULT_FRONTIER_ALPHAS);
  const reference = o.reference ?? defaultReference(models);
  const ir = models.indexOf(reference);
  if (ir < 0) throw new Error(`--reference: no model named '${reference}' (models: ${models.join(', ')})`);
  const resamples = o.resamples ?? 2000;
  const seed = o.seed ?? 0;
  const metrics: BootstrapMetric[] = alphas.map((alpha) => ({ kind: 'cvar', alpha }));
  const ref = views.map((v) => v.perPrompt[ir]);
  const noScores = views.map((v) => v.k.map(() => 0)); // only the tail metric reads prompt scores
  const result = models.map((name, j): FrontierModel => {
    const rewards = views.map((v) => v.perPrompt[j]);
    // the reference minus itself is 0 on every resample: nothing to resample
    const boot = j === ir ? null : pairedBootstrap({ a: rewards, b: ref, promptScores: noScores }, metrics, { resamples, seed });
    const points = alphas.map((alpha, i): FrontierPoint => {
      const perSeed = rewards.map((r) => cvar(r, alpha).value);
      return { alpha, cvar: mean(perSeed), perSeed, diff: boot ? boot[i].diff : 0, ci95: boot ? boot[i].ci95 : [0, 0] };
    });
    return { name, reference: j === ir, points };
  });
  const notes = views.some((v) => v.k.some((k) => k > 1))
    ? ['k > 1 samples per prompt: CVaR over per-prompt mean rewards (the results table\'s CVaR uses every sample)'] : [];
  return { alphas, reference, resamples, seed, seeds: views.length, prompts: views.map((v) => v.k.length), models: result, notes };
}

const signed = (x: number, d: number) => `${x >= 0 ? '+' : ''}${x.toFixed(d)}`;

/** Rows = models; per α a column "CVaR α=…" and a column "Δ vs <reference> α=… [95% CI]" (— for the reference). */
export function frontierMarkdown(f: FrontierResult, digits = 3): string {
  const header = ['Model', ...f.alphas.flatMap((a) => [`CVaR α=${a} ↑`, `Δ vs ${f.reference} α=${a} [95% CI]`])];
  const body = f.models.map((m) => [
    m.reference ? `${m.name} (reference)` : m.name,
    ...m.points.flatMap((p) => [p.cvar.toFixed(digits),
      m.reference ? '—' : `${signed(p.diff, digits)} [${signed(p.ci95[0], digits)}, ${signed(p.ci95[1], digits)}]`]),
  ]);
  return markdownFromCells(header, body);
}

/** One sentence on how the table was made (seeds, prompts, bootstrap), plus the notes. */
export function frontierCaption(f: FrontierResult): string {
  const level = f.seeds > 1 ? `seed files and prompts (${f.seeds} files)` : `prompts (${f.prompts[0]})`;
  return [`CVaR_α: mean of the worst ⌈α·N⌉ per-prompt rewards, mean over ${f.seeds} seed file${f.seeds > 1 ? 's' : ''}; α = 1 is the mean reward. ` +
    `Δ = model − ${f.reference}; 95% interval: paired bootstrap, ${f.resamples} resamples of ${level}, seed ${f.seed}.`,
  ...f.notes.map((n) => `Note: ${n}.`)].join(' ');
}

/** CVaR vs α, one line per model (the plotted values are the CVaRs, not the differences). */
export function frontierFigure(f: FrontierResult, titleText = 'Risk frontier: CVaR vs α'): Figure {
  const axisTitle = (text: string) => ({ text, font: { size: FONT.size } });
  const color = figureColors(f.models.map((m) => m.name));
  return {
    data: f.models.map((m) => ({
      type: 'scatter', mode: 'lines+markers', x: m.points.map((p) => p.alpha), y: m.points.map((p) => p.cvar),
      name: displayName(m.name) + (m.reference ? ' (reference)' : ''), line: { color: color(m.name), width: 2.5 }, marker: { size: 7 },
    })),
    layout: baseLayout({
      title: { text: titleText }, width: 760, height: 500,
      xaxis: axisStyle({ title: axisTitle('α (fraction of worst rewards averaged)'), range: [0, 1.05] }),
      yaxis: axisStyle({ title: axisTitle('CVaR of the reward') }),
    }),
  };
}
