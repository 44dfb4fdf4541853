/**
 * Query construction as in the authors' scripts (soft_risk_ppo_auth1_2.py:148-157):
 * `input_ids = tokenizer.encode(text)[:L]` (no BOS), `query = tokenizer.decode(input_ids)`.
 * A text shorter than L tokens gives a shorter prompt (no padding, no drop), as in the paper.
 */

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

export function makePrompts(texts: readonly string[], tokenizer: PromptTokenizer, nTokens: number): Prompt[] {
  if (!Number.isInteger(nTokens) || nTokens < 1) throw new Error(`makePrompts: nTokens must be a positive integer, got ${nTokens}`);
  return texts.map((t) => {
    const queryIds = tokenizer.encode(t).slice(0, nTokens);
    return { queryIds, query: tokenizer.decode(queryIds) };
  });
}

/**
 * HF `generate(min_length=...)` counts the prompt: the number of new tokens EOS is suppressed for
 * is max(0, minLength - promptLength). Paper: IMDB 48 - 64 -> 0; RTP 32 - 32 -> 0; Jigsaw 32 - 8 -> 24.
 */
export function minNewTokens(minLength: number, promptLength: number): number {
  return Math.max(0, minLength - promptLength);
}
