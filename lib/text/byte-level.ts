/**
 * Byte-level pieces shared by the GPT-2 tokenizer and the BPE trainer: the reversible
 * byte <-> printable-unicode table (OpenAI's `bytes_to_unicode`) and GPT-2's pre-tokenisation regex.
 */

/**
 * GPT-2's `bytes_to_unicode`: printable latin-1 bytes map to themselves, the other 68 bytes
 * (controls, space, ...) map to U+0100 upwards, so every byte string becomes a printable string
 * without whitespace and BPE never has to see a raw space (space -> 'Ġ', newline -> 'Ċ').
 */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  const push = (lo: number, hi: number) => {
    for (let b = lo; b <= hi; b++) bs.push(b);
  };
  push('!'.charCodeAt(0), '~'.charCodeAt(0));
  push('¡'.charCodeAt(0), '¬'.charCodeAt(0));
  push('®'.charCodeAt(0), 'ÿ'.charCodeAt(0));
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  const table = new Array<string>(256);
  for (let i = 0; i < bs.length; i++) table[bs[i]] = String.fromCharCode(cs[i]);
  return table;
}

/** byte -> unicode char, and the inverse char code -> byte. */
export const BYTE_ENCODER: readonly string[] = bytesToUnicode();
export const BYTE_DECODER: ReadonlyMap<string, number> = new Map(BYTE_ENCODER.map((c, b) => [c, b]));

/**
 * GPT-2's pre-tokenisation pattern (encoder.py). JS `\s` and Python's `\s` differ on a few exotic
 * code points (e.g. U+FEFF, U+001C-U+001F); ordinary text splits identically.
 */
export const GPT2_SPLIT_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** Split text into GPT-2 pre-tokens ("words"); concatenating the result gives back the text. */
export function preTokenize(text: string): string[] {
  return text.match(GPT2_SPLIT_PATTERN) ?? [];
}

const utf8 = new TextEncoder();

/** UTF-8 bytes of a word mapped through the byte table, e.g. " héllo" -> "ĠhÃ©llo". */
export function wordToByteChars(word: string): string {
  const bytes = utf8.encode(word);
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += BYTE_ENCODER[bytes[i]];
  return s;
}

/** Inverse of wordToByteChars on a concatenation of tokens; unknown chars are an error. */
export function byteCharsToBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const b = BYTE_DECODER.get(s[i]);
    if (b === undefined) throw new Error(`byte-level decode: character ${JSON.stringify(s[i])} is not in the byte table`);
    out[i] = b;
  }
  return out;
}
