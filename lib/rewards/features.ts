/**
 * Hashed bag-of-n-grams features for the kit reward models.
 * text -> lowercase, `<br />` removed -> word tokens -> unigrams + bigrams -> FNV-1a hash mod
 * 2^hashBits -> sublinear counts (1 + ln c) -> L2-normalised sparse row.
 */

export interface FeatureConfig {
  hashBits: number; // number of buckets = 2^hashBits
  ngrams: 1 | 2 | 3;
}

export interface SparseRow {
  idx: Int32Array;
  val: Float32Array;
}

/** Lowercase, strip IMDB's `<br />` tags, split into words (keeping ! and ? as tokens). */
export function tokenizeWords(text: string): string[] {
  const clean = text.toLowerCase().replace(/<br\s*\/?>/g, ' ');
  return clean.match(/[\p{L}\p{N}]+(?:'[\p{L}]+)?|[!?]/gu) ?? [];
}

/** 32-bit FNV-1a over UTF-16 code units (deterministic across platforms). */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function featurize(text: string, cfg: FeatureConfig): SparseRow {
  const words = tokenizeWords(text);
  const mask = (1 << cfg.hashBits) - 1;
  const counts = new Map<number, number>();
  const add = (gram: string) => {
    const b = fnv1a(gram) & mask;
    counts.set(b, (counts.get(b) ?? 0) + 1);
  };
  for (let i = 0; i < words.length; i++) {
    add(words[i]);
    if (cfg.ngrams >= 2 && i + 1 < words.length) add(`${words[i]} ${words[i + 1]}`);
    if (cfg.ngrams >= 3 && i + 2 < words.length) add(`${words[i]} ${words[i + 1]} ${words[i + 2]}`);
  }
  const idx = new Int32Array(counts.size);
  const val = new Float32Array(counts.size);
  let k = 0;
  let norm = 0;
  for (const [b, c] of counts) {
    idx[k] = b;
    val[k] = 1 + Math.log(c);
    norm += val[k] * val[k];
    k++;
  }
  if (norm > 0) {
    const inv = 1 / Math.sqrt(norm);
    for (let j = 0; j < val.length; j++) val[j] *= inv;
  }
  return { idx, val };
}

/** Pack rows into padded [B, K] index/value arrays (pads: index 0, value 0, so they add nothing). */
export function packBatch(rows: readonly SparseRow[]): { idx: Int32Array; val: Float32Array; k: number } {
  let k = 1;
  for (const r of rows) k = Math.max(k, r.idx.length);
  const idx = new Int32Array(rows.length * k);
  const val = new Float32Array(rows.length * k);
  rows.forEach((r, b) => {
    idx.set(r.idx, b * k);
    val.set(r.val, b * k);
  });
  return { idx, val, k };
}
