/**
 * BERT WordPiece tokenizer (bert-base-uncased style), written to give the same ids as the
 * transformers.js tokenizer that scores the exported model in PPO (lib/rewards/onnx.ts reads
 * tokenizer.json with BertNormalizer + BertPreTokenizer + WordPiece), so training and scoring see
 * identical inputs. Steps:
 *  1. special tokens written literally in the text ("[SEP]") are kept whole, as added tokens are;
 *  2. normalise: drop NUL, U+FFFD and control/format characters (tab/newline/CR are whitespace),
 *     every whitespace character -> ' ', spaces around CJK ideographs, lowercase, strip accents
 *     (NFD, drop combining marks);
 *  3. split on whitespace and around every punctuation character (Unicode P* and ASCII symbols);
 *  4. WordPiece: greedy longest match first with '##' continuations; a word with an unmatched
 *     piece, or longer than 100 characters, becomes one [UNK];
 *  5. [CLS] tokens [SEP], truncated to maxLength keeping [SEP] (Python tokenizers' truncation=True).
 */
import * as fs from 'node:fs';

const PUNCT = '\\p{P}\\u0021-\\u002F\\u003A-\\u0040\\u005B-\\u0060\\u007B-\\u007E';
const WORD = new RegExp(`[^\\s${PUNCT}]+|[${PUNCT}]`, 'gu');
const CONTROL = /[\p{Cc}\p{Cf}\p{Co}\p{Cs}]/u;
export const SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;

/** CJK Unified Ideographs blocks (BERT's _is_chinese_char), checked per UTF-16 unit as transformers.js does. */
function isCjk(cp: number): boolean {
  return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0xf900 && cp <= 0xfaff);
}

/** Step 2: BertNormalizer(clean_text, handle_chinese_chars, lowercase, strip_accents). */
export function bertNormalize(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.charCodeAt(0);
    if (cp === 0 || cp === 0xfffd || (ch !== '\t' && ch !== '\n' && ch !== '\r' && CONTROL.test(ch))) continue;
    if (/^\s$/.test(ch)) out += ' ';
    else if (isCjk(cp)) out += ` ${ch} `;
    else out += ch;
  }
  return out.toLowerCase().normalize('NFD').replace(/\p{Mn}/gu, '');
}

/** Steps 2-3: the words WordPiece sees. */
export function basicTokenize(text: string): string[] {
  return bertNormalize(text).trim().match(WORD) ?? [];
}

export class WordPieceTokenizer {
  readonly ids: Map<string, number>;
  readonly unkId: number;
  readonly clsId: number;
  readonly sepId: number;
  readonly padId: number;
  private readonly specialSplit: RegExp;

  constructor(readonly vocab: readonly string[], readonly maxInputCharsPerWord = 100) {
    this.ids = new Map(vocab.map((t, i) => [t, i]));
    const need = (t: string) => {
      const id = this.ids.get(t);
      if (id === undefined) throw new Error(`WordPieceTokenizer: vocabulary lacks ${t}`);
      return id;
    };
    [this.padId, this.unkId, this.clsId, this.sepId] = ['[PAD]', '[UNK]', '[CLS]', '[SEP]'].map(need);
    need('[MASK]');
    this.specialSplit = new RegExp(`(${SPECIAL_TOKENS.map((t) => t.replace(/[[\]]/g, '\\$&')).join('|')})`);
  }

  /** vocab.txt: one token per line, id = line number. */
  static fromVocabFile(file: string): WordPieceTokenizer {
    if (!fs.existsSync(file)) throw new Error(`WordPieceTokenizer: ${file} not found`);
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    return new WordPieceTokenizer(lines.map((l) => l.replace(/\r$/, '')));
  }

  /** Step 4 for one word, appended to `out`. */
  private wordPiece(word: string, out: number[]): void {
    const chars = Array.from(word);
    if (chars.length > this.maxInputCharsPerWord) {
      out.push(this.unkId);
      return;
    }
    const whole = this.ids.get(word);
    if (whole !== undefined) {
      out.push(whole); // the common case: no search
      return;
    }
    const pieces: number[] = [];
    let start = 0;
    while (start < chars.length) {
      let end = chars.length;
      let id: number | undefined;
      for (; end > start; end--) {
        id = this.ids.get((start > 0 ? '##' : '') + chars.slice(start, end).join(''));
        if (id !== undefined) break;
      }
      if (id === undefined) {
        out.push(this.unkId);
        return;
      }
      pieces.push(id);
      start = end;
    }
    out.push(...pieces);
  }

  /** Token ids without [CLS]/[SEP]; stops once `limit` ids are produced (long reviews). */
  tokenize(text: string, limit = Infinity): number[] {
    const out: number[] = [];
    for (const part of text.split(this.specialSplit)) {
      if (out.length >= limit) break;
      const special = this.ids.get(part);
      if (special !== undefined && (SPECIAL_TOKENS as readonly string[]).includes(part)) {
        out.push(special);
        continue;
      }
      for (const w of basicTokenize(part)) {
        if (out.length >= limit) break;
        this.wordPiece(w, out);
      }
    }
    return out.length > limit ? out.slice(0, limit) : out;
  }

  /** [CLS] ids [SEP], at most maxLength ids (the first maxLength - 2 tokens, then [SEP]). */
  encode(text: string, maxLength = 512): number[] {
    if (!Number.isInteger(maxLength) || maxLength < 3) throw new Error(`WordPieceTokenizer.encode: maxLength must be an integer >= 3, got ${maxLength}`);
    return [this.clsId, ...this.tokenize(text, maxLength - 2), this.sepId];
  }

  /**
   * The longest whitespace-bounded prefix of `text` with at most `maxTokens` tokens (no specials):
   * what a model truncating at maxTokens + 2 sees, as text another model can score.
   */
  prefix(text: string, maxTokens: number): string {
    if (this.tokenize(text, maxTokens + 1).length <= maxTokens) return text;
    const cuts = [...text.matchAll(/\s+/g)].map((m) => m.index!);
    let lo = 0; // cuts[lo - 1] fits (0: the empty prefix)
    let hi = cuts.length; // cuts[hi - 1]... known not to fit beyond
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.tokenize(text.slice(0, cuts[mid - 1]), maxTokens + 1).length <= maxTokens) lo = mid;
      else hi = mid - 1;
    }
    return lo === 0 ? '' : text.slice(0, cuts[lo - 1]);
  }

  tokens(ids: readonly number[]): string[] {
    return ids.map((i) => this.vocab[i] ?? `<${i}?>`);
  }
}
