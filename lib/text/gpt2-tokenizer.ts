/**
 * GPT-2 byte-level BPE tokenizer (OpenAI encoder.py / HF GPT2Tokenizer semantics):
 * special tokens split out first, GPT-2 regex pre-tokenisation, UTF-8 bytes -> printable chars,
 * greedy lowest-rank BPE merges per word (cached), vocab lookup.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { byteCharsToBytes, preTokenize, wordToByteChars } from './byte-level';
import { Merge, readBPEFiles, vocabToJson, writeFileAtomic } from './bpe-files';

export interface EncodeBatchOptions {
  /** truncate/pad to this many tokens; default: longest sequence in the batch */
  maxLength?: number;
  /** cut sequences longer than maxLength (keeps the first tokens); default true */
  truncation?: boolean;
  /** 'longest' pads to the longest sequence (capped at maxLength), 'max_length' pads to maxLength */
  padding?: 'longest' | 'max_length';
  /** 'left' for generation (queries end at the same column), 'right' for training; default 'right' */
  paddingSide?: 'left' | 'right';
  padTokenId?: number;
}

export interface BatchEncoding {
  inputIds: number[][];
  attentionMask: number[][];
}

export interface GPT2TokenizerOptions {
  specialTokens?: Map<string, number>;
  eosToken?: string;
  bosToken?: string;
  unkToken?: string;
  padToken?: string;
  modelMaxLength?: number;
}

const DEFAULT_EOS = '<|endoftext|>';
const utf8Decoder = new TextDecoder('utf-8', { fatal: false }); // HF errors="replace"
const CACHE_LIMIT = 200_000;

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export class GPT2Tokenizer {
  readonly encoder: Map<string, number>;
  /** id -> token string (byte chars for BPE tokens, literal text for special tokens) */
  readonly decoder: Map<number, string>;
  readonly merges: Merge[];
  readonly bpeRanks: Map<string, number>;
  readonly specialTokens: Map<string, number>;
  readonly eosToken: string;
  readonly bosToken: string;
  readonly unkToken: string;
  readonly padToken: string;
  readonly modelMaxLength: number;
  private readonly specialIds: Set<number>;
  private readonly specialSplit: RegExp | null;
  private readonly cache = new Map<string, number[]>();

  constructor(vocab: Map<string, number>, merges: Merge[], opts: GPT2TokenizerOptions = {}) {
    this.encoder = new Map(vocab);
    this.merges = merges;
    this.bpeRanks = new Map();
    // Rank key uses a space separator: tokens never contain a raw space (byte table maps it to 'Ġ').
    merges.forEach(([a, b], i) => {
      const key = `${a} ${b}`;
      if (!this.bpeRanks.has(key)) this.bpeRanks.set(key, i);
    });
    this.specialTokens = new Map(opts.specialTokens ?? []);
    this.eosToken = opts.eosToken ?? DEFAULT_EOS;
    if (!this.specialTokens.has(this.eosToken) && this.encoder.has(this.eosToken)) {
      this.specialTokens.set(this.eosToken, this.encoder.get(this.eosToken)!);
    }
    for (const [c, id] of this.specialTokens) this.encoder.set(c, id);
    this.bosToken = opts.bosToken ?? this.eosToken;
    this.unkToken = opts.unkToken ?? this.eosToken;
    this.padToken = opts.padToken ?? this.eosToken; // GPT-2 has no pad token; trl uses eos
    for (const [role, tok] of [['eos', this.eosToken], ['bos', this.bosToken], ['pad', this.padToken]] as const) {
      if (!this.encoder.has(tok)) throw new Error(`GPT2Tokenizer: ${role} token ${JSON.stringify(tok)} is not in the vocabulary`);
    }
    this.modelMaxLength = opts.modelMaxLength ?? 1024;
    this.decoder = new Map();
    for (const [tok, id] of this.encoder) this.decoder.set(id, tok);
    this.specialIds = new Set(this.specialTokens.values());
    // Longest first so a special token that is a prefix of another never wins.
    const specials = [...this.specialTokens.keys()].sort((a, b) => b.length - a.length);
    this.specialSplit = specials.length ? new RegExp(`(${specials.map(escapeRegex).join('|')})`) : null;
  }

  /** Load from a directory with vocab.json+merges.txt, encoder.json+vocab.bpe, or tokenizer.json. */
  static fromDir(dir: string): GPT2Tokenizer {
    const f = readBPEFiles(dir);
    return new GPT2Tokenizer(f.vocab, f.merges, {
      specialTokens: f.specialTokens,
      eosToken: f.roles.eos,
      bosToken: f.roles.bos,
      unkToken: f.roles.unk,
      padToken: f.roles.pad,
      modelMaxLength: f.modelMaxLength,
    });
  }

  get vocabSize(): number {
    let max = -1;
    for (const id of this.decoder.keys()) if (id > max) max = id;
    return max + 1;
  }
  get eosTokenId(): number {
    return this.encoder.get(this.eosToken)!;
  }
  get bosTokenId(): number {
    return this.encoder.get(this.bosToken)!;
  }
  get padTokenId(): number {
    return this.encoder.get(this.padToken)!;
  }

  /** BPE of one pre-token (already in byte chars): repeatedly merge the lowest-rank adjacent pair. */
  private bpe(word: string): string[] {
    let symbols = Array.from(word);
    if (symbols.length < 2) return symbols;
    for (;;) {
      let bestRank = Infinity;
      let bestA = '';
      let bestB = '';
      for (let i = 0; i < symbols.length - 1; i++) {
        const r = this.bpeRanks.get(`${symbols[i]} ${symbols[i + 1]}`);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          bestA = symbols[i];
          bestB = symbols[i + 1];
        }
      }
      if (bestRank === Infinity) break;
      const merged: string[] = [];
      for (let i = 0; i < symbols.length; ) {
        if (i < symbols.length - 1 && symbols[i] === bestA && symbols[i + 1] === bestB) {
          merged.push(bestA + bestB);
          i += 2;
        } else {
          merged.push(symbols[i]);
          i += 1;
        }
      }
      symbols = merged;
      if (symbols.length === 1) break;
    }
    return symbols;
  }

  private encodeWord(word: string): number[] {
    const hit = this.cache.get(word);
    if (hit) return hit;
    const ids: number[] = [];
    for (const tok of this.bpe(wordToByteChars(word))) {
      const id = this.encoder.get(tok);
      if (id === undefined) {
        // Only possible with a vocab lacking some byte tokens (a broken or truncated vocab file).
        throw new Error(`GPT2Tokenizer: BPE produced ${JSON.stringify(tok)} which is not in the vocabulary`);
      }
      ids.push(id);
    }
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(word, ids);
    return ids;
  }

  /** Text -> token ids. Special tokens written literally in the text (e.g. "<|endoftext|>") map to their id. */
  encode(text: string): number[] {
    const out: number[] = [];
    const pieces = this.specialSplit ? text.split(this.specialSplit) : [text];
    for (let p = 0; p < pieces.length; p++) {
      const piece = pieces[p];
      if (piece === '') continue;
      // split() with a capture group puts the separators at odd indices
      if (p % 2 === 1 && this.specialSplit) {
        out.push(this.specialTokens.get(piece)!);
        continue;
      }
      for (const word of preTokenize(piece)) {
        const ids = this.encodeWord(word);
        for (let i = 0; i < ids.length; i++) out.push(ids[i]);
      }
    }
    return out;
  }

  /** Token ids -> text. Invalid UTF-8 (a sequence cut inside a character) decodes to U+FFFD as in HF. */
  decode(ids: ArrayLike<number>, opts: { skipSpecialTokens?: boolean } = {}): string {
    let text = '';
    let bytesRun = '';
    const flush = () => {
      if (bytesRun) text += utf8Decoder.decode(byteCharsToBytes(bytesRun));
      bytesRun = '';
    };
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      const tok = this.decoder.get(id);
      if (tok === undefined) throw new Error(`GPT2Tokenizer.decode: id ${id} is outside the vocabulary (size ${this.vocabSize})`);
      if (this.specialIds.has(id)) {
        flush();
        if (!opts.skipSpecialTokens) text += tok;
      } else {
        bytesRun += tok;
      }
    }
    flush();
    return text;
  }

  /** Token strings (byte chars) for inspection, e.g. "Hello world" -> ["Hello", "Ġworld"]. */
  tokenize(text: string): string[] {
    return this.encode(text).map((id) => this.decoder.get(id)!);
  }

  /**
   * Encode several texts into a rectangular batch. Pads to the longest sequence (or maxLength with
   * padding 'max_length'); attention mask is 1 on real tokens, 0 on pads.
   */
  encodeBatch(texts: string[], opts: EncodeBatchOptions = {}): BatchEncoding {
    const truncation = opts.truncation ?? true;
    const padId = opts.padTokenId ?? this.padTokenId;
    const side = opts.paddingSide ?? 'right';
    let seqs = texts.map((t) => this.encode(t));
    if (opts.maxLength !== undefined && truncation) seqs = seqs.map((s) => s.slice(0, opts.maxLength));
    const longest = seqs.reduce((m, s) => Math.max(m, s.length), 0);
    const width = opts.padding === 'max_length' && opts.maxLength !== undefined ? Math.max(opts.maxLength, longest) : longest;
    const inputIds: number[][] = [];
    const attentionMask: number[][] = [];
    for (const s of seqs) {
      const pad = new Array<number>(width - s.length).fill(padId);
      const zeros = new Array<number>(width - s.length).fill(0);
      const ones = new Array<number>(s.length).fill(1);
      inputIds.push(side === 'left' ? [...pad, ...s] : [...s, ...pad]);
      attentionMask.push(side === 'left' ? [...zeros, ...ones] : [...ones, ...zeros]);
    }
    return { inputIds, attentionMask };
  }

  /** Decode a batch; with attention masks, padded positions are dropped first. */
  decodeBatch(batch: number[][], opts: { skipSpecialTokens?: boolean; attentionMask?: number[][] } = {}): string[] {
    return batch.map((ids, i) => {
      const mask = opts.attentionMask?.[i];
      const kept = mask ? ids.filter((_, j) => mask[j] !== 0) : ids;
      return this.decode(kept, opts);
    });
  }

  /** Write the Hugging Face layout: vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json. */
  save(dir: string): void {
    fs.mkdirSync(dir, { recursive: true });
    writeFileAtomic(path.join(dir, 'vocab.json'), vocabToJson(this.encoder));
    writeFileAtomic(path.join(dir, 'merges.txt'), ['#version: 0.2', ...this.merges.map(([a, b]) => `${a} ${b}`)].join('\n') + '\n');
    const roles = { bos_token: this.bosToken, eos_token: this.eosToken, unk_token: this.unkToken };
    const padRole = this.padToken !== this.eosToken ? { pad_token: this.padToken } : {};
    writeFileAtomic(path.join(dir, 'special_tokens_map.json'), JSON.stringify({ ...roles, ...padRole }, null, 2) + '\n');
    const addedTokensDecoder: Record<string, object> = {};
    for (const [content, id] of [...this.specialTokens].sort((a, b) => a[1] - b[1])) {
      addedTokensDecoder[String(id)] = { content, lstrip: false, normalized: true, rstrip: false, single_word: false, special: true };
    }
    const config = {
      add_bos_token: false,
      add_prefix_space: false,
      added_tokens_decoder: addedTokensDecoder,
      ...roles,
      ...padRole,
      clean_up_tokenization_spaces: false,
      errors: 'replace',
      model_max_length: this.modelMaxLength,
      tokenizer_class: 'GPT2Tokenizer',
    };
    writeFileAtomic(path.join(dir, 'tokenizer_config.json'), JSON.stringify(config, null, 2) + '\n');
    writeFileAtomic(path.join(dir, 'tokenizer.json'), JSON.stringify(this.toTokenizerJson()));
  }

  /** HF `tokenizers` serialisation (what transformers.js and GPT2TokenizerFast load). */
  toTokenizerJson(): object {
    const byteLevel = (addPrefixSpace: boolean, trimOffsets: boolean) => ({
      type: 'ByteLevel', add_prefix_space: addPrefixSpace, trim_offsets: trimOffsets, use_regex: true,
    });
    const vocab = Object.fromEntries([...this.encoder].sort((a, b) => a[1] - b[1]));
    return {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [...this.specialTokens].sort((a, b) => a[1] - b[1]).map(([content, id]) => ({
        id, content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true,
      })),
      normalizer: null,
      pre_tokenizer: byteLevel(false, true),
      post_processor: byteLevel(true, false),
      decoder: byteLevel(true, true),
      model: {
        type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
        fuse_unk: false, byte_fallback: false, vocab, merges: this.merges.map(([a, b]) => `${a} ${b}`),
      },
    };
  }
}
