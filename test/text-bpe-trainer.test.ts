import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { trainByteLevelBPE } from '../lib/text/bpe-trainer';
import { GPT2Tokenizer } from '../lib/text/gpt2-tokenizer';
import { BYTE_ENCODER, preTokenize, wordToByteChars } from '../lib/text/byte-level';
import { resolveDataDir } from '../lib/data/paths';

const lines = zlib.gunzipSync(fs.readFileSync(path.join(resolveDataDir(), 'imdb/imdb_test.jsonl.gz'))).toString('utf8').split('\n');
const corpus = lines.slice(0, 2000).filter(Boolean).map((l) => JSON.parse(l).text as string);

/** Naive reference: recount every pair each step, same tie-break (smaller (idA, idB) first). */
function naiveMerges(texts: string[], nMerges: number, minFrequency: number): [string, string][] {
  const freq = new Map<string, number>();
  for (const t of texts) for (const w of preTokenize(t)) freq.set(w, (freq.get(w) ?? 0) + 1);
  const ids = new Map([...BYTE_ENCODER].sort().map((c, i) => [c, i]));
  const words = [...freq].map(([w, f]) => ({ syms: Array.from(wordToByteChars(w)), f }));
  const merges: [string, string][] = [];
  while (merges.length < nMerges) {
    const counts = new Map<string, number>();
    for (const { syms, f } of words) for (let i = 0; i < syms.length - 1; i++) counts.set(syms[i] + '\u0001' + syms[i + 1], (counts.get(syms[i] + '\u0001' + syms[i + 1]) ?? 0) + f);
    let best: string | null = null;
    let bestC = 0;
    for (const [k, c] of counts) {
      if (c < bestC || c === 0) continue;
      if (c > bestC || best === null) { best = k; bestC = c; continue; }
      const [a, b] = k.split('\u0001');
      const [ba, bb] = best.split('\u0001');
      if (ids.get(a)! < ids.get(ba)! || (ids.get(a) === ids.get(ba) && ids.get(b)! < ids.get(bb)!)) best = k;
    }
    if (best === null || bestC < minFrequency) break;
    const [a, b] = best.split('\u0001');
    merges.push([a, b]);
    if (!ids.has(a + b)) ids.set(a + b, ids.size);
    for (const w of words) {
      const out: string[] = [];
      for (let i = 0; i < w.syms.length; ) {
        if (i < w.syms.length - 1 && w.syms[i] === a && w.syms[i + 1] === b) { out.push(a + b); i += 2; } else out.push(w.syms[i++]);
      }
      w.syms = out;
    }
  }
  return merges;
}

test('trainer merges equal a naive recount-every-step reference', () => {
  const texts = corpus.slice(0, 150);
  const { tokenizer, stats } = trainByteLevelBPE(texts, { vocabSize: 256 + 120 + 1 });
  assert.equal(stats.merges, 120);
  assert.deepEqual(tokenizer.merges, naiveMerges(texts, 120, 2));
  // most frequent English pair in byte-level BPE on movie reviews
  assert.deepEqual(tokenizer.merges[0], ['Ġ', 't']);
});

test('trained tokenizer: byte tokens first, <|endoftext|> last, round-trips, compresses, save/load', () => {
  const { tokenizer, stats } = trainByteLevelBPE(corpus, { vocabSize: 2000 });
  assert.equal(tokenizer.vocabSize, 2000);
  assert.equal(tokenizer.eosTokenId, 1999);
  assert.equal(tokenizer.padTokenId, 1999);
  assert.equal(tokenizer.decoder.get(0), '!'); // GPT-2 byte order
  assert.equal(tokenizer.encoder.get('Ġ'), 220);
  assert.ok(stats.distinctWords > 1000 && stats.words > stats.distinctWords);
  let chars = 0;
  let toks = 0;
  const held = lines.slice(3000, 3200).filter(Boolean).map((l) => JSON.parse(l).text as string);
  for (const t of [...held, 'unicode ✓ 😀 naïve', 'x<|endoftext|>y']) {
    const ids = tokenizer.encode(t);
    assert.equal(tokenizer.decode(ids), t);
    chars += Buffer.byteLength(t);
    toks += ids.length;
  }
  // 2k merges on 2k reviews: held-out text should need well under half a token per byte
  assert.ok(chars / toks > 3, `compression ${(chars / toks).toFixed(2)} bytes/token`);
  assert.deepEqual(tokenizer.encode('x<|endoftext|>y').filter((i) => i === 1999), [1999]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-bpe-'));
  tokenizer.save(dir);
  const again = GPT2Tokenizer.fromDir(dir);
  assert.equal(again.eosTokenId, 1999);
  for (const t of held.slice(0, 20)) assert.deepEqual(again.encode(t), tokenizer.encode(t));
});

test('trainer respects minFrequency and rejects impossible sizes', () => {
  const { stats } = trainByteLevelBPE(['ab ab cd'], { vocabSize: 400, minFrequency: 2 });
  // words "ab", " ab", " cd": only (a, b) occurs twice; every pair after that merge occurs once
  assert.equal(stats.merges, 1);
  assert.throws(() => trainByteLevelBPE(['x'], { vocabSize: 100 }), /below 256 byte tokens/);
});
