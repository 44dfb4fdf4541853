/**
 * The two pictures of notebook 00: a return histogram with mean, VaR and CVaR marked, and toy
 * bandit training curves (mean over seeds with a ±1 sample-std band per selection rule, lib/eval/curves seedBand).
 */
import type { Figure } from '../eval/figures';
import { cvar, mean } from '../eval/metrics';
import { seedBand } from '../eval/curves';
import type { BanditStep } from '../rl/toy-bandit';

const COLORS: Record<string, string> = { all: '#1f77b4', worst: '#d62728', random: '#7f7f7f', context: '#2ca02c' };
const FONT = { size: 15 };

/** VaR_alpha: the ceil(alpha N)-th smallest value (the largest reward inside the worst alpha share). */
export function valueAtRisk(rewards: readonly number[], alpha: number): number {
  const { n } = cvar(rewards, alpha);
  return Float64Array.from(rewards).sort()[n - 1];
}

export function returnHistogramFigure(rewards: readonly number[], alpha: number, title: string): Figure {
  const v = valueAtRisk(rewards, alpha), c = cvar(rewards, alpha).value, m = mean(rewards);
  const line = (x: number, color: string, dash: string) => ({ type: 'line', x0: x, x1: x, yref: 'paper', y0: 0, y1: 1, line: { color, width: 3, dash } });
  const label = (x: number, text: string, y: number) => ({ x, y, yref: 'paper', text, showarrow: false, xanchor: 'left', font: FONT });
  return {
    data: [{ type: 'histogram', x: [...rewards], nbinsx: 60, marker: { color: '#9ecae1' }, name: 'episodes' }],
    layout: {
      title: { text: title }, font: FONT, width: 800, height: 420, bargap: 0.02, showlegend: false,
      xaxis: { title: { text: 'episode reward R' } }, yaxis: { title: { text: 'episodes' } },
      shapes: [line(m, '#1f77b4', 'solid'), line(v, '#ff7f0e', 'dash'), line(c, '#d62728', 'dot')],
      annotations: [label(m, ` mean ${m.toFixed(2)}`, 0.95), label(v, ` VaR ${v.toFixed(2)}`, 0.8), label(c, ` CVaR ${c.toFixed(2)}`, 0.65)],
    },
  };
}

/** Mean ± std over seeds of one BanditStep field, one band per selection rule. */
export function banditCurvesFigure(runs: Record<string, BanditStep[][]>, field: 'tail' | 'mean' | 'keptTailShare' | 'kept', title: string): Figure {
  const data: Record<string, unknown>[] = [];
  for (const [rule, seeds] of Object.entries(runs)) {
    const { x: steps, mean: mu, std: sd } = seedBand(seeds.map((h) => ({ x: h.map((s) => s.step), y: h.map((s) => s[field]) })));
    const color = COLORS[rule] ?? '#000000';
    data.push({ type: 'scatter', mode: 'lines', x: [...steps, ...steps.slice().reverse()], y: [...mu.map((v, t) => v + sd[t]), ...mu.map((v, t) => v - sd[t]).reverse()],
      fill: 'toself', fillcolor: color + '33', line: { width: 0 }, hoverinfo: 'skip', showlegend: false });
    data.push({ type: 'scatter', mode: 'lines', x: steps, y: mu, name: rule, line: { color, width: 3 } });
  }
  return { data, layout: { title: { text: title }, font: FONT, width: 800, height: 420, xaxis: { title: { text: 'step m' } }, yaxis: { title: { text: field } } } };
}
