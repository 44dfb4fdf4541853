import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { GPT2Tokenizer } from '../lib/text/gpt2-tokenizer';
import { bytesToUnicode, preTokenize } from '../lib/text/byte-level';
import { resolveDataDir } from '../lib/data/paths';

const dataDir = resolveDataDir();
const GPT2_DIR = path.join(dataDir, 'tokenizers/gpt2');
const tok = GPT2Tokenizer.fromDir(GPT2_DIR);
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-tok-'));

function readJsonl(file: string, n: number): Record<string, unknown>[] {
  const raw = fs.readFileSync(file);
  const text = file.endsWith('.gz') ? zlib.gunzipSync(raw).toString('utf8') : raw.toString('utf8');
  return text.split('\n').filter(Boolean).slice(0, n).map((l) => JSON.parse(l));
}
const imdb = readJsonl(path.join(dataDir, 'imdb/imdb_test.jsonl.gz'), 300).map((r) => r.text as string);
const jigsaw = readJsonl(path.join(dataDir, 'jigsaw/ra_rlhf_jigsaw_test.jsonl.gz'), 300).map((r) => r.comment_text as string);

test('bytes_to_unicode: 256 distinct printable chars; space -> Ġ, newline -> Ċ, "!" -> "!"', () => {
  const t = bytesToUnicode();
  assert.equal(new Set(t).size, 256);
  assert.equal(t[32], 'Ġ');
  assert.equal(t[10], 'Ċ');
  assert.equal(t[33], '!');
  assert.equal(t[0], 'Ā'); // first non-printable byte -> U+0100
  assert.equal(t[255], 'ÿ');
});

test('known GPT-2 ids', () => {
  assert.equal(tok.vocabSize, 50257);
  assert.equal(tok.eosTokenId, 50256);
  assert.equal(tok.padTokenId, 50256);
  const cases: [string, number[]][] = [
    ['Hello world', [15496, 995]],
    [' Hello', [18435]],
    ['hello', [31373]],
    [' world', [995]],
    ['<|endoftext|>', [50256]],
    ['\n\n', [628]],
    ['\n', [198]],
    [' ', [220]],
    ['   ', [220, 220, 220]], // GPT-2 has no multi-space tokens
    ['!', [0]],
    [' the', [262]],
    ['The', [464]],
  ];
  for (const [s, ids] of cases) assert.deepEqual(tok.encode(s), ids, JSON.stringify(s));
  assert.deepEqual(tok.tokenize('Hello world'), ['Hello', 'Ġworld']);
});

test('<|endoftext|> inside text is one special token; skipSpecialTokens drops it', () => {
  const ids = tok.encode('Hello world<|endoftext|> Hello');
  assert.deepEqual(ids, [15496, 995, 50256, 18435]);
  assert.equal(tok.decode(ids), 'Hello world<|endoftext|> Hello');
  assert.equal(tok.decode(ids, { skipSpecialTokens: true }), 'Hello world Hello');
  // a partial marker is ordinary text
  assert.ok(!tok.encode('<|endoftext|').includes(50256));
});

test('regex pre-tokenisation matches GPT-2 rules (contractions, spaces, digits, punctuation)', () => {
  assert.deepEqual(preTokenize("I'm can't we'll"), ['I', "'m", ' can', "'t", ' we', "'ll"]);
  assert.deepEqual(preTokenize('a  b'), ['a', ' ', ' b']); // \s+(?!\S) leaves the last space to the word
  assert.deepEqual(preTokenize('x\n\ny'), ['x', '\n', '\n', 'y']); // only a literal space attaches to a word
  assert.deepEqual(preTokenize('abc123 ,.!? é'), ['abc', '123', ' ,.!?', ' é']);
  assert.deepEqual(preTokenize('end   '), ['end', '   ']);
  for (const s of ['  leading', 'tabs\t\tand\r\nCRLF', 'mixed 42.5% $$$']) assert.equal(preTokenize(s).join(''), s);
});

test('unicode: emoji, accents, CJK round-trip through byte-level tokens', () => {
  for (const s of ['héllo naïve café', 'emoji 😀👍🏽 family 👨‍👩‍👧', '日本語のテキスト', 'Ελληνικά', '\u0000ctrl\u0007', 'a\u00a0b']) {
    const ids = tok.encode(s);
    assert.equal(tok.decode(ids), s, JSON.stringify(s));
  }
  // "é" is two UTF-8 bytes C3 A9 -> byte chars "Ã©", which GPT-2 merges into one token
  assert.deepEqual(tok.tokenize('é'), ['Ã©']);
  // a 4-byte emoji cut in half decodes to U+FFFD (HF errors="replace"), not an exception
  const emoji = tok.encode('😀');
  assert.ok(emoji.length >= 2);
  assert.ok(tok.decode(emoji.slice(0, 1)).includes('\ufffd'));
});

test('decode(encode(x)) == x on IMDB and Jigsaw texts', () => {
  assert.equal(imdb.length, 300);
  assert.equal(jigsaw.length, 300);
  for (const t of [...imdb, ...jigsaw]) assert.equal(tok.decode(tok.encode(t)), t);
});

test('ids equal transformers.js (HF tokenizers semantics) on IMDB/Jigsaw and tricky strings', async () => {
  const dir = tmp();
  tok.save(path.join(dir, 'gpt2')); // also checks that our tokenizer.json is loadable by HF code
  const T = await import('@huggingface/transformers');
  T.env.allowRemoteModels = false;
  T.env.localModelPath = dir;
  const ref = await T.AutoTokenizer.from_pretrained('gpt2');
  const tricky = ['', ' ', '   x', 'a\n\n\nb', "don't 'quote' it's", '1234567 89', 'ÀÉÎõü 😀', 'x<|endoftext|>y', '\t\tindent', 'CamelCaseWord', 'e.g. U.S.A.'];
  for (const t of [...tricky, ...imdb.slice(0, 150), ...jigsaw.slice(0, 150)]) {
    assert.deepEqual(tok.encode(t), ref.encode(t, { add_special_tokens: false }), JSON.stringify(t.slice(0, 80)));
  }
});

test('encodeBatch pads left/right with masks, truncates; decodeBatch drops pads', () => {
  const texts = ['Hello world', ' Hello', 'hello hello hello'];
  const right = tok.encodeBatch(texts);
  assert.deepEqual(right.inputIds[0], [15496, 995, 50256]);
  assert.deepEqual(right.attentionMask[0], [1, 1, 0]);
  assert.deepEqual(right.inputIds[1], [18435, 50256, 50256]);
  const left = tok.encodeBatch(texts, { paddingSide: 'left', padTokenId: 0 });
  assert.deepEqual(left.inputIds[1], [0, 0, 18435]);
  assert.deepEqual(left.attentionMask[1], [0, 0, 1]);
  const cut = tok.encodeBatch(texts, { maxLength: 2, truncation: true });
  assert.deepEqual(cut.inputIds.map((r) => r.length), [2, 2, 2]);
  assert.deepEqual(cut.inputIds[2], tok.encode('hello hello hello').slice(0, 2));
  const fixed = tok.encodeBatch([' Hello'], { maxLength: 4, padding: 'max_length', paddingSide: 'left' });
  assert.deepEqual(fixed.inputIds[0], [50256, 50256, 50256, 18435]);
  assert.deepEqual(tok.decodeBatch(left.inputIds, { attentionMask: left.attentionMask }), texts);
  assert.deepEqual(tok.decodeBatch(right.inputIds, { skipSpecialTokens: true }), texts);
});

test('save() writes the HF layout and reloads identically (vocab.json+merges.txt and tokenizer.json)', () => {
  const dir = tmp();
  tok.save(dir);
  for (const f of ['vocab.json', 'merges.txt', 'tokenizer_config.json', 'special_tokens_map.json', 'tokenizer.json']) assert.ok(fs.existsSync(path.join(dir, f)), f);
  const merges = fs.readFileSync(path.join(dir, 'merges.txt'), 'utf8').split('\n');
  assert.equal(merges[0], '#version: 0.2');
  assert.equal(merges[1], 'Ġ t');
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
  assert.equal(cfg.eos_token, '<|endoftext|>');
  assert.equal(cfg.model_max_length, 1024);
  const a = GPT2Tokenizer.fromDir(dir);
  const onlyJson = tmp();
  fs.copyFileSync(path.join(dir, 'tokenizer.json'), path.join(onlyJson, 'tokenizer.json'));
  const b = GPT2Tokenizer.fromDir(onlyJson);
  for (const t of imdb.slice(0, 20)) {
    assert.deepEqual(a.encode(t), tok.encode(t));
    assert.deepEqual(b.encode(t), tok.encode(t));
  }
  assert.equal(b.eosTokenId, 50256);
});

test('missing or corrupt tokenizer files give errors naming the file (and line)', () => {
  const dir = tmp();
  assert.throws(() => GPT2Tokenizer.fromDir(dir), /no tokenizer files in .*rarlhf-tok-/);
  fs.writeFileSync(path.join(dir, 'vocab.json'), '{"a": 0, "b": 1, "ab": 2');
  assert.throws(() => GPT2Tokenizer.fromDir(dir), /merges\.txt is missing/);
  fs.writeFileSync(path.join(dir, 'merges.txt'), '#version: 0.2\na b\nb\n');
  assert.throws(() => GPT2Tokenizer.fromDir(dir), /vocab\.json is not valid JSON/);
  fs.writeFileSync(path.join(dir, 'vocab.json'), '{"a": 0, "b": 1, "ab": 2, "<|endoftext|>": 3}');
  assert.throws(() => GPT2Tokenizer.fromDir(dir), /merges\.txt line 3: expected two tokens/);
  fs.writeFileSync(path.join(dir, 'merges.txt'), '#version: 0.2\na b\nb a\n');
  assert.throws(() => GPT2Tokenizer.fromDir(dir), /merges\.txt: merge 2 .* missing from the vocabulary/);
  fs.writeFileSync(path.join(dir, 'vocab.json'), '{"a": 0, "b": 0}');
  assert.throws(() => GPT2Tokenizer.fromDir(dir), /vocab\.json: id 0 is used by both/);
  const odir = tmp();
  fs.writeFileSync(path.join(odir, 'encoder.json'), '{}');
  assert.throws(() => GPT2Tokenizer.fromDir(odir), /vocab\.bpe is missing/);
});

test('encode is not pathologically slow: IMDB text at > 0.3 MB/s even on a loaded 2-core box', () => {
  const texts = imdb.concat(imdb);
  const chars = texts.reduce((a, t) => a + t.length, 0);
  const t0 = performance.now();
  for (const t of texts) tok.encode(t);
  const mbps = chars / ((performance.now() - t0) / 1000) / 1e6;
  assert.ok(mbps > 0.3, `encode ${mbps.toFixed(2)} MB/s`);
});
