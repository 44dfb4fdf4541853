/**
 * `rarlhf eval --compare A,B`: the paired difference A − B of mean reward, tail reward and CVaR
 * over the same prompts, with the paired (two-level) bootstrap of bootstrap.ts for a 95% interval.
 * Each generations file is one seed; with one file the bootstrap resamples prompts only.
 *
 * The per-prompt reward is the mean of the prompt's samples (k = 1: the reward itself), so with
 * k > 1 the compared CVaR is over per-prompt means, not over every sample as in the table.
 */
import { metricOn, pairedBootstrap, type BootstrapMetric } from './bootstrap';
import type { PromptView } from './evaluate';
import { mean } from './metrics';

export interface CompareOptions {
  /** tail threshold; omitted -> no tail row */
  tail?: number;
  cvarAlpha: number;
  resamples: number;
  seed: number;
}

export interface CompareMetric {
  metric: BootstrapMetric['kind'];
  /** A − B: mean over seeds of the per-seed difference */
  diff: number;
  ci95: [number, number];
  /** the metric of A and of B (mean over seeds) */
  a: number;
  b: number;
  /** tail prompts per seed file (tail row only) */
  tailN?: number[];
  /** resamples with no defined value (a tail with no drawn prompt), left out of the interval */
  undefinedResamples: number;
}

export interface CompareResult {
  a: string;
  b: string;
  /** paired bootstrap settings */
  resamples: number;
  seed: number;
  seeds: number;
  prompts: number[];
  cvarAlpha: number;
  tail: number | null;
  metrics: CompareMetric[];
  notes: string[];
}

/** "A,B" -> ['A', 'B'], both among the models. */
export function parseCompare(s: string, models: readonly string[]): [string, string] {
  const parts = s.split(',').map((x) => x.trim());
  if (parts.length !== 2 || parts.some((p) => p === '')) throw new Error(`--compare "${s}": expected two model names A,B`);
  if (parts[0] === parts[1]) throw new Error(`--compare "${s}": the two models must differ`);
  for (const p of parts) if (!models.includes(p)) throw new Error(`--compare: no model named '${p}' (models: ${models.join(', ')})`);
  return [parts[0], parts[1]];
}

/** Paired A − B over the prompts of every view (one view per seed file); `models` names the views' model order. */
export function compareModels(views: readonly PromptView[], models: readonly string[], a: string, b: string, o: CompareOptions): CompareResult {
  const ia = models.indexOf(a);
  const ib = models.indexOf(b);
  if (ia < 0 || ib < 0) throw new Error(`compare: models ${a}, ${b} not among ${models.join(', ')}`);
  const withTail = o.tail !== undefined && !Number.isNaN(o.tail) && views.every((v) => v.promptScore !== null);
  const metrics: BootstrapMetric[] = [{ kind: 'meanReward' }];
  if (withTail) metrics.push({ kind: 'tailReward', threshold: o.tail! });
  metrics.push({ kind: 'cvar', alpha: o.cvarAlpha });
  // prompt scores only matter to the tail; zeros stand in when the tables have none
  const data = {
    a: views.map((v) => v.perPrompt[ia]),
    b: views.map((v) => v.perPrompt[ib]),
    promptScores: views.map((v) => v.promptScore ?? v.k.map(() => 0)),
  };
  const boot = pairedBootstrap(data, metrics, { resamples: o.resamples, seed: o.seed });
  const all = (xs: readonly number[]) => xs.map((_, i) => i);
  const perSeed = (m: BootstrapMetric, arm: readonly (readonly number[])[]) =>
    mean(arm.map((r, s) => metricOn(m, r, data.promptScores[s], all(r))).filter(Number.isFinite));
  const notes: string[] = [];
  if (views.some((v) => v.k.some((k) => k > 1))) notes.push('k > 1 samples per prompt: compared on per-prompt mean rewards (the table\'s CVaR uses every sample)');
  if (o.tail !== undefined && !Number.isNaN(o.tail) && !withTail) notes.push('no prompt scores: tail reward not compared');
  return {
    a, b, resamples: o.resamples, seed: o.seed, seeds: views.length, prompts: views.map((v) => v.k.length),
    cvarAlpha: o.cvarAlpha, tail: withTail ? o.tail! : null, notes,
    metrics: boot.map((r, j) => ({
      metric: r.metric, diff: r.diff, ci95: r.ci95, a: perSeed(metrics[j], data.a), b: perSeed(metrics[j], data.b),
      ...(r.metric === 'tailReward' ? { tailN: views.map((v) => v.promptScore!.filter((x) => x <= o.tail!).length) } : {}),
      undefinedResamples: r.undefinedResamples,
    })),
  };
}

const LABEL: Record<BootstrapMetric['kind'], string> = { meanReward: 'mean reward', tailReward: 'tail reward', cvar: 'CVaR' };

/** Human-readable lines, e.g. "  mean reward  +0.500  95% CI [+0.200, +0.800]  (A 1.400, B 0.900)". */
export function formatCompare(c: CompareResult, digits = 3): string {
  const f = (x: number) => (Number.isNaN(x) ? 'n/a' : `${x >= 0 ? '+' : ''}${x.toFixed(digits)}`);
  const g = (x: number) => (Number.isNaN(x) ? 'n/a' : x.toFixed(digits));
  const level = c.seeds > 1 ? `seed files and prompts (${c.seeds} files)` : `prompts (${c.prompts[0]})`;
  const lines = [`${c.a} − ${c.b}, paired over the same prompts; 95% interval: paired bootstrap, ${c.resamples} resamples of ${level}, seed ${c.seed}`];
  for (const m of c.metrics) {
    const name = m.metric === 'tailReward' ? `${LABEL[m.metric]} (prompt score ≤ ${c.tail})` : m.metric === 'cvar' ? `CVaR (α=${c.cvarAlpha})` : LABEL[m.metric];
    const n = m.tailN ? `, N=${[...new Set(m.tailN)].join('/')}` : '';
    const und = m.undefinedResamples > 0 ? `; ${m.undefinedResamples} resamples had no tail prompt, left out` : '';
    lines.push(`  ${name}: ${f(m.diff)}  95% CI [${f(m.ci95[0])}, ${f(m.ci95[1])}]  (${c.a} ${g(m.a)}, ${c.b} ${g(m.b)}${n}${und})`);
  }
  for (const note of c.notes) lines.push(`  note: ${note}`);
  return lines.join('\n');
}
