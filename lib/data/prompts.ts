/**
 * Query construction as in the authors' scripts (soft_risk_ppo_auth1_2.py:148-157):
 * `input_ids = tokenizer.encode(text)[:L]` (no BOS), `query = tokenizer.decode(input_ids)`.
 * A text shorter than L tokens gives a shorter prompt (no padding, no drop), as in the paper.
 */
import { loadRows, recordsFor, text } from './readers';

/** The part of GPT2Tokenizer (lib/text/gpt2-tokenizer.ts) that prompts need. */
export interface PromptTokenizer {
  encode(text: string): number[];
  decode(ids: number[]): string;
}

export interface Prompt {
  /** First nTokens GPT-2 token ids of the source text. */
  queryIds: number[];
  /** decode(queryIds): may end in U+FFFD when the cut splits a multi-byte character, as in HF. */
  query: string;
}

export interface MakePromptsOptions {
  /**
   * Encode only a prefix of each text (default true): ~4x faster on IMDB reviews. Exact for GPT-2
   * byte-level BPE (see firstTokens); set false for a tokenizer whose pieces can span whitespace.
   */
  prefixEncoding?: boolean;
}

export function makePrompts(texts: readonly string[], tokenizer: PromptTokenizer, nTokens: number, opts: MakePromptsOptions = {}): Prompt[] {
  if (!Number.isInteger(nTokens) || nTokens < 1) throw new Error(`makePrompts: nTokens must be a positive integer, got ${nTokens}`);
  const prefix = opts.prefixEncoding ?? true;
  return texts.map((t) => {
    const queryIds = prefix ? firstTokens(t, tokenizer, nTokens) : tokenizer.encode(t).slice(0, nTokens);
    return { queryIds, query: tokenizer.decode(queryIds) };
  });
}

const WS = /\s/u;

/**
 * encode(text).slice(0, n) without encoding the whole text. We encode text[0, c) where text[c] is
 * whitespace and text[c-1] is not. No GPT-2 pre-token spans such a cut (the split regex
 * 's|'t|...| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ never puts a non-space before a
 * space in one piece, and special tokens contain no spaces), and BPE runs per pre-token, so the
 * prefix's ids are exactly a prefix of the full text's ids. If they reach n we are done; otherwise
 * the cut doubles until the whole text is encoded.
 */
function firstTokens(text: string, tokenizer: PromptTokenizer, n: number): number[] {
  let k = Math.max(64, n * 8); // ~4 chars per token on English text, with margin
  while (k < text.length) {
    let c = k;
    while (c < text.length && !(WS.test(text[c]) && !WS.test(text[c - 1]))) c++;
    if (c >= text.length) break;
    const ids = tokenizer.encode(text.slice(0, c));
    if (ids.length >= n) return ids.slice(0, n);
    k = 2 * c;
  }
  return tokenizer.encode(text).slice(0, n);
}

/**
 * HF `generate(min_length=...)` counts the prompt: the number of new tokens EOS is suppressed for
 * is max(0, minLength - promptLength). Paper: IMDB 48 - 64 -> 0; RTP 32 - 32 -> 0; Jigsaw 32 - 8 -> 24.
 */
export function minNewTokens(minLength: number, promptLength: number): number {
  return Math.max(0, minLength - promptLength);
}

/**
 * Train prompts from a file instead of a task (`train.prompts_file`): one row per prompt with a
 * non-empty "prompt" field (JSONL/CSV/parquet), in file order, e.g. the demo corpus' train.jsonl or
 * a generations table. Whole texts are prompts (no cut to L tokens: the file holds what to send).
 */
export async function readPromptFile(file: string): Promise<string[]> {
  const { rows } = await loadRows(file, recordsFor(file), (r) => text(r, 'prompt'), { label: 'train.prompts_file', unit: 'prompts' });
  if (rows.length === 0) throw new Error(`${file}: train.prompts_file holds no prompts (each row needs a non-empty "prompt" field)`);
  return rows;
}
