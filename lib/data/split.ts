/**
 * Seeded sampling and the paper's split builders. All shuffles use lib/engine Rng (mulberry32
 * Fisher-Yates), so results are identical on every run and platform, but they are NOT the rows
 * numpy/HF `datasets` would pick for the same seed (reproducing numpy's PCG64 permutation bit for
 * bit is out of scope). Counts follow the Python code exactly.
 */
import { Rng } from '../engine/rng';

/** `n` rows drawn without replacement: shuffle(seed) then take the first n (HF shuffle().select(range(n))). */
export function seededSample<T>(rows: readonly T[], n: number, seed: number): T[] {
  if (n > rows.length) throw new Error(`seededSample: asked for ${n} rows but only ${rows.length} available`);
  return new Rng(seed).shuffle(rows).slice(0, n);
}

/**
 * HF `Dataset.train_test_split(test_size, seed)` counts: n_test = ceil(test_size*n), train = the rest.
 * Test rows are the first n_test of the seeded permutation, as in HF.
 */
export function trainTestSplit<T>(rows: readonly T[], testSize: number, seed: number): { train: T[]; test: T[] } {
  const nTest = Math.ceil(testSize * rows.length);
  const perm = new Rng(seed).shuffle(rows);
  return { test: perm.slice(0, nTest), train: perm.slice(nTest) };
}

export interface ClassMix<T> {
  rows: T[];
  nToxic: number;
  nNonToxic: number;
  /** Non-toxic rows the recipe asked for; more than nNonToxic when the pool was too small (capped). */
  requestedNonToxic: number;
  capped: boolean;
}

/**
 * The 70/30 train recipe (paper-spec §5, RTP eda.py and inferred for Jigsaw): every toxic row plus
 * int(n_toxic*70/30) non-toxic rows sampled with `seed`, then shuffled with `seed + 1`. When the
 * non-toxic pool is smaller than asked (offline stand-in data), all of it is used and `capped` is set.
 */
export function build7030<T>(toxic: readonly T[], nonToxic: readonly T[], seed: number): ClassMix<T> {
  // Same float expression as Python int(n*70/30): (n*70)/30, truncated.
  const requested = Math.trunc((toxic.length * 70) / 30);
  const take = Math.min(requested, nonToxic.length);
  const sampled = seededSample(nonToxic, take, seed);
  const rows = new Rng(seed + 1).shuffle([...toxic, ...sampled]);
  return { rows, nToxic: toxic.length, nNonToxic: take, requestedNonToxic: requested, capped: take < requested };
}

/** 50/50 test recipe: all toxic rows + equally many non-toxic (seeded); the toxic side is subsampled if larger. */
export function buildBalanced<T>(toxic: readonly T[], nonToxic: readonly T[], seed: number, nPerClass?: number): ClassMix<T> {
  const n = Math.min(nPerClass ?? toxic.length, toxic.length, nonToxic.length);
  const tox = n < toxic.length ? seededSample(toxic, n, seed + 2) : toxic.slice();
  const non = seededSample(nonToxic, n, seed);
  return { rows: [...tox, ...non], nToxic: n, nNonToxic: n, requestedNonToxic: nPerClass ?? toxic.length, capped: n < (nPerClass ?? toxic.length) };
}

/** FNV-1a 32-bit hash of a string's UTF-16 units: a stable, order-independent held-out rule. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/**
 * Deterministic disjoint halves by text hash: identical texts always land on the same side, so the
 * halves never share a text, whatever the file order.
 */
export function hashHalves<T>(rows: readonly T[], textOf: (r: T) => string): { a: T[]; b: T[] } {
  const a: T[] = [];
  const b: T[] = [];
  for (const r of rows) ((fnv1a(textOf(r)) & 1) === 0 ? a : b).push(r);
  return { a, b };
}
