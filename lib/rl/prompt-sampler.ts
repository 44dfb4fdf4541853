/**
 * CeSoR-style prompt sampling (Greenberg et al., NeurIPS 2022, "Efficient Risk-Averse
 * Reinforcement Learning"): the cross-entropy method tilts the prompt distribution toward the
 * conditions that produce the lowest returns, and importance weights keep the objective the one
 * under the original distribution. Here the conditions are prompt bins (quantiles of the prompt's
 * own reward-model score); the original distribution picks each training prompt with probability
 * 1/N, so bin b has p_b = |b| / N.
 *
 *   sample:  bin ~ q, then a prompt uniformly inside it; importance weight w = p_bin / q_bin (E_q[w] = 1)
 *   update:  elite = the batch's episodes at or below the weighted alpha-quantile of their returns;
 *            e_b = sum of the elite's weights in bin b (an estimate of p_b P(tail | b));
 *            q <- (1 - eta) q + eta e / sum e, mixed with the uniform bin distribution:
 *            q <- (1 - minProb) q + minProb / nBins (every bin keeps at least minProb / nBins).
 *
 * The state (q and the sampler's Rng) is part of the PPO loop state, so a resumed run samples the
 * same prompts as an uninterrupted one.
 */
import { Rng } from '../engine/rng';
import { weightedSelect } from './risk-measures';

export interface CrossEntropySamplerOptions {
  bins: number;
  /** CEM smoothing: the share of the new estimate in each update */
  eta: number;
  /** total probability spread evenly over the bins as a floor (exploration) */
  minProb: number;
  /** the elite share of each batch (the risk level alpha) */
  elite: number;
}

export interface SamplerState {
  q: number[];
  rng: ReturnType<Rng['getState']>;
}

/** Pure: bin of each prompt by quantile of its score (bin 0 = lowest scores); ties by index. */
export function quantileBins(scores: readonly number[], nBins: number): number[] {
  if (!Number.isInteger(nBins) || nBins < 1 || nBins > scores.length) throw new Error(`quantileBins: bins must be an integer in [1, ${scores.length}], got ${nBins}`);
  const order = scores.map((_, i) => i).sort((a, b) => scores[a] - scores[b] || a - b);
  const bins = new Array<number>(scores.length);
  order.forEach((idx, rank) => (bins[idx] = Math.floor((rank * nBins) / scores.length)));
  return bins;
}

export class CrossEntropySampler {
  private readonly members: number[][];
  readonly p: number[];
  q: number[];
  private readonly rng: Rng;

  constructor(readonly binOf: readonly number[], readonly o: CrossEntropySamplerOptions, seed: number) {
    if (!(o.eta >= 0 && o.eta <= 1)) throw new Error(`CrossEntropySampler: eta must be in [0, 1], got ${o.eta}`);
    if (!(o.minProb >= 0 && o.minProb <= 1)) throw new Error(`CrossEntropySampler: minProb must be in [0, 1], got ${o.minProb}`);
    this.members = Array.from({ length: o.bins }, () => [] as number[]);
    binOf.forEach((b, i) => this.members[b].push(i));
    const empty = this.members.findIndex((m) => m.length === 0);
    if (empty >= 0) throw new Error(`CrossEntropySampler: bin ${empty} has no prompts`);
    this.p = this.members.map((m) => m.length / binOf.length);
    this.q = this.p.slice(); // start at the original distribution
    this.rng = new Rng(seed);
  }

  /** Importance weight p_b / q_b of a prompt in bin b. */
  weight(bin: number): number {
    return this.p[bin] / this.q[bin];
  }

  /** n prompt indices (with replacement), their bins and importance weights. */
  sample(n: number): { prompts: number[]; bins: number[]; weights: number[] } {
    const prompts: number[] = [], bins: number[] = [], weights: number[] = [];
    for (let i = 0; i < n; i++) {
      let u = this.rng.uniform();
      let b = 0;
      while (b < this.q.length - 1 && u >= this.q[b]) { u -= this.q[b]; b++; }
      const m = this.members[b];
      prompts.push(m[Math.min(m.length - 1, Math.floor(this.rng.uniform() * m.length))]);
      bins.push(b);
      weights.push(this.weight(b));
    }
    return { prompts, bins, weights };
  }

  /** CEM step toward the bins of the lowest returns (episodes' bins, returns, importance weights). */
  update(bins: readonly number[], returns: readonly number[], weights: readonly number[]): void {
    const elite = weightedSelect(returns, this.o.elite, weights);
    const e = new Array<number>(this.q.length).fill(0);
    bins.forEach((b, i) => { if (elite[i]) e[b] += weights[i]; });
    const total = e.reduce((a, x) => a + x, 0);
    if (total > 0) this.q = this.q.map((q, b) => (1 - this.o.eta) * q + (this.o.eta * e[b]) / total);
    const m = this.o.minProb;
    this.q = this.q.map((q) => (1 - m) * q + m / this.q.length);
  }

  getState(): SamplerState {
    return { q: this.q.slice(), rng: this.rng.getState() };
  }

  setState(s: SamplerState): void {
    if (!Array.isArray(s.q) || s.q.length !== this.q.length) throw new Error(`CrossEntropySampler.setState: expected ${this.q.length} bin probabilities, got ${Array.isArray(s.q) ? s.q.length : typeof s.q}`);
    this.q = s.q.slice();
    this.rng.setState(s.rng);
  }
}
