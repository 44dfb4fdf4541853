/**
 * Byte-level BPE trainer (the algorithm of HF `tokenizers` BpeTrainer with a ByteLevel
 * pre-tokenizer): count GPT-2 pre-tokens once, then merge on the word-frequency table with
 * incremental pair counts and a lazy max-heap, so each merge touches only the words containing
 * the merged pair. Output ids: 256 byte tokens (GPT-2 order), merged tokens in merge order,
 * then the special tokens (`<|endoftext|>` last), loadable by GPT2Tokenizer.
 */
import { BYTE_ENCODER, preTokenize } from './byte-level';
import { GPT2Tokenizer } from './gpt2-tokenizer';
import { Merge } from './bpe-files';

export interface TrainBPEOptions {
  /** final vocabulary size including the 256 byte tokens and the special tokens */
  vocabSize: number;
  /** pairs seen fewer times than this are never merged (default 2) */
  minFrequency?: number;
  /** appended after the merges; the first one is the eos/bos/pad token (default ['<|endoftext|>']) */
  specialTokens?: string[];
  /** called every 100 merges and at the end */
  onProgress?: (merges: number, target: number) => void;
}

export interface TrainBPEStats {
  words: number;
  distinctWords: number;
  merges: number;
  seconds: number;
}

/** Max-heap of (count, pairKey); ties go to the smaller pair key so training is deterministic. */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];
  get size(): number {
    return this.counts.length;
  }
  private better(i: number, j: number): boolean {
    const ci = this.counts[i];
    const cj = this.counts[j];
    return ci > cj || (ci === cj && this.keys[i] < this.keys[j]);
  }
  private swap(i: number, j: number): void {
    [this.counts[i], this.counts[j]] = [this.counts[j], this.counts[i]];
    [this.keys[i], this.keys[j]] = [this.keys[j], this.keys[i]];
  }
  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let i = this.counts.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.better(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  pop(): [number, number] {
    const top: [number, number] = [this.counts[0], this.keys[0]];
    const lastC = this.counts.pop()!;
    const lastK = this.keys.pop()!;
    if (this.counts.length > 0) {
      this.counts[0] = lastC;
      this.keys[0] = lastK;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.counts.length && this.better(l, m)) m = l;
        if (r < this.counts.length && this.better(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
}

// Pair key packs two ids < 2^16 into one number (vocabularies here are far below 65536).
const SHIFT = 65536;

/** Train a byte-level BPE tokenizer on texts. */
export function trainByteLevelBPE(texts: Iterable<string>, opts: TrainBPEOptions): { tokenizer: GPT2Tokenizer; stats: TrainBPEStats } {
  const t0 = performance.now();
  const specials = opts.specialTokens ?? ['<|endoftext|>'];
  const minFrequency = opts.minFrequency ?? 2;
  const targetMerges = opts.vocabSize - 256 - specials.length;
  if (specials.length === 0) throw new Error('trainByteLevelBPE: at least one special token (the eos token) is required');
  if (targetMerges < 0) throw new Error(`trainByteLevelBPE: vocabSize ${opts.vocabSize} is below 256 byte tokens + ${specials.length} special tokens`);
  if (opts.vocabSize > SHIFT) throw new Error(`trainByteLevelBPE: vocabSize ${opts.vocabSize} exceeds ${SHIFT}`);

  // 1. Word-frequency table; special tokens written in the corpus are not learned from.
  const wordFreq = new Map<string, number>();
  let nWords = 0;
  const specialRe = specials.length ? new RegExp(specials.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g') : null;
  for (const text of texts) {
    for (const piece of specialRe ? text.split(specialRe) : [text]) {
      for (const w of preTokenize(piece)) {
        wordFreq.set(w, (wordFreq.get(w) ?? 0) + 1);
        nWords++;
      }
    }
  }

  // 2. Byte tokens in GPT-2's order (sorted by their printable char), words as id arrays.
  const idToToken: string[] = [...BYTE_ENCODER].sort((a, b) => a.charCodeAt(0) - b.charCodeAt(0));
  const tokenToId = new Map(idToToken.map((t, i) => [t, i]));
  const byteToId = BYTE_ENCODER.map((c) => tokenToId.get(c)!);
  const utf8 = new TextEncoder();
  const words: number[][] = [];
  const freqs: number[] = [];
  for (const [w, f] of wordFreq) {
    words.push(Array.from(utf8.encode(w), (b) => byteToId[b]));
    freqs.push(f);
  }

  // 3. Initial pair counts and pair -> words index.
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const addPair = (key: number, wi: number, delta: number) => {
    pairCount.set(key, (pairCount.get(key) ?? 0) + delta);
    if (delta > 0) {
      let s = pairWords.get(key);
      if (!s) pairWords.set(key, (s = new Set()));
      s.add(wi);
    }
  };
  for (let wi = 0; wi < words.length; wi++) {
    const w = words[wi];
    for (let i = 0; i < w.length - 1; i++) addPair(w[i] * SHIFT + w[i + 1], wi, freqs[wi]);
  }
  const heap = new PairHeap();
  for (const [k, c] of pairCount) heap.push(c, k);

  // 4. Merge loop.
  const merges: Merge[] = [];
  while (merges.length < targetMerges && heap.size > 0) {
    const [count, key] = heap.pop();
    const current = pairCount.get(key) ?? 0;
    if (current !== count) {
      if (current > 0) heap.push(current, key); // stale entry: re-queue with the true count
      continue;
    }
    if (count < minFrequency) break;
    const a = Math.floor(key / SHIFT);
    const b = key % SHIFT;
    const merged = idToToken[a] + idToToken[b];
    let newId = tokenToId.get(merged);
    if (newId === undefined) {
      newId = idToToken.length;
      idToToken.push(merged);
      tokenToId.set(merged, newId);
    }
    merges.push([idToToken[a], idToToken[b]]);
    const touched = new Set<number>();
    for (const wi of pairWords.get(key) ?? []) {
      const w = words[wi];
      const f = freqs[wi];
      let changed = false;
      const out: number[] = [];
      for (let i = 0; i < w.length; ) {
        if (i < w.length - 1 && w[i] === a && w[i + 1] === b) {
          out.push(newId);
          i += 2;
          changed = true;
        } else {
          out.push(w[i]);
          i += 1;
        }
      }
      if (!changed) continue;
      // Remove the word's old pairs, add its new ones (simple and exact; words are short).
      for (let i = 0; i < w.length - 1; i++) {
        const k = w[i] * SHIFT + w[i + 1];
        addPair(k, wi, -f);
        touched.add(k);
      }
      for (let i = 0; i < out.length - 1; i++) {
        const k = out[i] * SHIFT + out[i + 1];
        addPair(k, wi, f);
        touched.add(k);
      }
      words[wi] = out;
    }
    pairCount.delete(key);
    pairWords.delete(key);
    for (const k of touched) {
      const c = pairCount.get(k) ?? 0;
      if (c > 0 && k !== key) heap.push(c, k);
    }
    if (opts.onProgress && merges.length % 100 === 0) opts.onProgress(merges.length, targetMerges);
  }
  opts.onProgress?.(merges.length, targetMerges);

  const vocab = new Map(tokenToId);
  const specialTokens = new Map<string, number>();
  for (const s of specials) {
    const id = idToToken.length;
    idToToken.push(s);
    vocab.set(s, id);
    specialTokens.set(s, id);
  }
  const tokenizer = new GPT2Tokenizer(vocab, merges, { specialTokens, eosToken: specials[0] });
  const stats = { words: nWords, distinctWords: words.length, merges: merges.length, seconds: (performance.now() - t0) / 1000 };
  return { tokenizer, stats };
}
