/**
 * `rarlhf bench text`: GPT-2 tokenizer throughput on IMDB reviews and BPE-trainer time.
 * Options: --texts N (reviews to encode, default 5000), --train-mb M (MB of IMDB train text for
 * the trainer, default 20), --vocab V (trainer vocabulary, default 8000), --data-dir DIR.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { parseArgs } from 'node:util';
import { resolveDataDir } from '../data/paths';
import { GPT2Tokenizer } from '../text/gpt2-tokenizer';
import { trainByteLevelBPE } from '../text/bpe-trainer';

function readTexts(file: string): string[] {
  return zlib.gunzipSync(fs.readFileSync(file)).toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).text as string);
}

export async function bench(argv: string[]): Promise<object> {
  const { values } = parseArgs({
    args: argv,
    options: { texts: { type: 'string', default: '5000' }, 'train-mb': { type: 'string', default: '20' }, vocab: { type: 'string', default: '8000' }, 'data-dir': { type: 'string' } },
  });
  const dataDir = resolveDataDir(values['data-dir']);
  let t0 = performance.now();
  const tok = GPT2Tokenizer.fromDir(path.join(dataDir, 'tokenizers/gpt2'));
  const loadMs = performance.now() - t0;
  const texts = readTexts(path.join(dataDir, 'imdb/imdb_test.jsonl.gz')).slice(0, Number(values.texts));
  const bytes = texts.reduce((a, t) => a + Buffer.byteLength(t), 0);
  t0 = performance.now();
  const encoded = texts.map((t) => tok.encode(t));
  const encodeS = (performance.now() - t0) / 1000;
  t0 = performance.now();
  for (const ids of encoded) tok.decode(ids);
  const decodeS = (performance.now() - t0) / 1000;
  const nTokens = encoded.reduce((a, e) => a + e.length, 0);

  const train: string[] = [];
  let trainBytes = 0;
  for (const t of readTexts(path.join(dataDir, 'imdb/imdb_train.jsonl.gz'))) {
    if (trainBytes >= Number(values['train-mb']) * 1e6) break;
    train.push(t);
    trainBytes += Buffer.byteLength(t);
  }
  const { tokenizer, stats } = trainByteLevelBPE(train, { vocabSize: Number(values.vocab) });
  const heldBytes = texts.slice(0, 500).reduce((a, t) => a + Buffer.byteLength(t), 0);
  const heldTokens = texts.slice(0, 500).reduce((a, t) => a + tokenizer.encode(t).length, 0);
  return {
    tokenizer_load_ms: Math.round(loadMs),
    encode_texts: texts.length,
    encode_mb_per_s: +(bytes / encodeS / 1e6).toFixed(2),
    encode_tokens_per_s: Math.round(nTokens / encodeS),
    decode_mb_per_s: +(bytes / decodeS / 1e6).toFixed(2),
    gpt2_bytes_per_token: +(bytes / nTokens).toFixed(3),
    bpe_train_mb: +(trainBytes / 1e6).toFixed(1),
    bpe_train_vocab: tokenizer.vocabSize,
    bpe_train_s: +stats.seconds.toFixed(2),
    bpe_distinct_words: stats.distinctWords,
    bpe_heldout_bytes_per_token: +(heldBytes / heldTokens).toFixed(3),
  };
}
