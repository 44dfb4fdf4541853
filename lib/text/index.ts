/** lib/text: GPT-2 byte-level BPE tokenizer and trainer; BERT WordPiece tokenizer (the kit transformer reward). */
export { GPT2Tokenizer } from './gpt2-tokenizer';
export type { EncodeBatchOptions, BatchEncoding, GPT2TokenizerOptions } from './gpt2-tokenizer';
export { trainByteLevelBPE } from './bpe-trainer';
export type { TrainBPEOptions, TrainBPEStats } from './bpe-trainer';
export { bytesToUnicode, preTokenize, GPT2_SPLIT_PATTERN } from './byte-level';
export { WordPieceTokenizer, basicTokenize, bertNormalize } from './wordpiece';
