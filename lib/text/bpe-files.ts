/**
 * Reading and writing byte-level BPE tokenizer files in the layouts GPT-2 ships in:
 *   - Hugging Face: vocab.json + merges.txt (+ tokenizer_config.json, special_tokens_map.json)
 *   - OpenAI:       encoder.json + vocab.bpe
 *   - Hugging Face fast: tokenizer.json (model.type "BPE")
 * Every parse error names the file (and the line for merges).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export type Merge = [string, string];

export interface BPEFiles {
  vocab: Map<string, number>;
  merges: Merge[];
  /** special (added) tokens, content -> id */
  specialTokens: Map<string, number>;
  /** special-token roles from tokenizer_config.json / special_tokens_map.json when present */
  roles: { eos?: string; bos?: string; unk?: string; pad?: string };
  modelMaxLength?: number;
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`tokenizer file ${file} cannot be read: ${(e as Error).message}`);
  }
}

function readJson(file: string): unknown {
  const text = readText(file);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`tokenizer file ${file} is not valid JSON: ${(e as Error).message}`);
  }
}

/** vocab.json / encoder.json: an object token -> non-negative integer id, ids unique. */
export function parseVocab(obj: unknown, file: string): Map<string, number> {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    throw new Error(`tokenizer file ${file}: expected a JSON object mapping token -> id`);
  }
  const vocab = new Map<string, number>();
  const seen = new Map<number, string>();
  for (const [tok, id] of Object.entries(obj as Record<string, unknown>)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new Error(`tokenizer file ${file}: token ${JSON.stringify(tok)} has invalid id ${JSON.stringify(id)}`);
    }
    const other = seen.get(id);
    if (other !== undefined) {
      throw new Error(`tokenizer file ${file}: id ${id} is used by both ${JSON.stringify(other)} and ${JSON.stringify(tok)}`);
    }
    seen.set(id, tok);
    vocab.set(tok, id);
  }
  return vocab;
}

/** merges.txt / vocab.bpe: optional "#version" first line, then "a b" per line (rank = order). */
export function parseMerges(text: string, file: string): Merge[] {
  const lines = text.split('\n');
  const merges: Merge[] = [];
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (i === 0 && line.startsWith('#version')) continue;
    if (line === '') {
      if (lines.slice(i + 1).every((l) => l.trim() === '')) break; // trailing blank lines
      throw new Error(`tokenizer file ${file} line ${i + 1}: empty merge line`);
    }
    const parts = line.split(' ');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
      throw new Error(`tokenizer file ${file} line ${i + 1}: expected two tokens separated by one space, got ${JSON.stringify(line)}`);
    }
    merges.push([parts[0], parts[1]]);
  }
  return merges;
}

function checkMergesInVocab(merges: Merge[], vocab: Map<string, number>, file: string): void {
  for (let i = 0; i < merges.length; i++) {
    const [a, b] = merges[i];
    if (!vocab.has(a + b)) {
      throw new Error(`tokenizer file ${file}: merge ${i + 1} (${JSON.stringify(a)} ${JSON.stringify(b)}) produces a token missing from the vocabulary`);
    }
  }
}

function readRoles(dir: string): { roles: BPEFiles['roles']; modelMaxLength?: number; added: Map<string, number> } {
  const roles: BPEFiles['roles'] = {};
  const added = new Map<string, number>();
  let modelMaxLength: number | undefined;
  const tokenContent = (v: unknown): string | undefined =>
    typeof v === 'string' ? v : v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string' ? (v as { content: string }).content : undefined;
  for (const name of ['special_tokens_map.json', 'tokenizer_config.json']) {
    const file = path.join(dir, name);
    if (!fs.existsSync(file)) continue;
    const cfg = readJson(file) as Record<string, unknown>;
    for (const role of ['eos', 'bos', 'unk', 'pad'] as const) {
      const c = tokenContent(cfg[`${role}_token`]);
      if (c !== undefined) roles[role] = c;
    }
    if (typeof cfg.model_max_length === 'number' && cfg.model_max_length < 1e12) modelMaxLength = cfg.model_max_length;
    const decoder = cfg.added_tokens_decoder as Record<string, { content?: string }> | undefined;
    if (decoder && typeof decoder === 'object') {
      for (const [id, t] of Object.entries(decoder)) if (typeof t?.content === 'string') added.set(t.content, Number(id));
    }
  }
  return { roles, modelMaxLength, added };
}

/** tokenizer.json (HF tokenizers): only byte-level BPE models are accepted. */
function parseTokenizerJson(file: string): { vocab: Map<string, number>; merges: Merge[]; added: Map<string, number> } {
  const obj = readJson(file) as { model?: { type?: string; vocab?: unknown; merges?: unknown }; added_tokens?: unknown };
  const model = obj?.model;
  if (!model || model.type !== 'BPE') {
    throw new Error(`tokenizer file ${file}: model.type must be "BPE" (got ${JSON.stringify(model?.type)})`);
  }
  const vocab = parseVocab(model.vocab, `${file} (model.vocab)`);
  if (!Array.isArray(model.merges)) throw new Error(`tokenizer file ${file}: model.merges must be an array`);
  const merges: Merge[] = model.merges.map((m: unknown, i: number) => {
    // tokenizers < 0.20 stores "a b" strings, newer versions store [a, b] pairs.
    const parts = typeof m === 'string' ? m.split(' ') : Array.isArray(m) ? m : [];
    if (parts.length !== 2 || typeof parts[0] !== 'string' || typeof parts[1] !== 'string') {
      throw new Error(`tokenizer file ${file}: model.merges[${i}] is not a pair of tokens: ${JSON.stringify(m)}`);
    }
    return [parts[0], parts[1]] as Merge;
  });
  const added = new Map<string, number>();
  if (Array.isArray(obj.added_tokens)) {
    for (const t of obj.added_tokens as { id?: unknown; content?: unknown }[]) {
      if (typeof t?.content === 'string' && typeof t.id === 'number') added.set(t.content, t.id);
    }
  }
  return { vocab, merges, added };
}

/**
 * Load tokenizer files from a directory. Preference: vocab.json+merges.txt, then
 * encoder.json+vocab.bpe, then tokenizer.json.
 */
export function readBPEFiles(dir: string): BPEFiles {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new Error(`tokenizer directory ${dir} does not exist`);
  }
  const has = (f: string) => fs.existsSync(path.join(dir, f));
  let vocab: Map<string, number>;
  let merges: Merge[];
  let added = new Map<string, number>();
  let mergesFile: string;
  if (has('vocab.json') || has('merges.txt')) {
    for (const f of ['vocab.json', 'merges.txt']) {
      if (!has(f)) throw new Error(`tokenizer file ${path.join(dir, f)} is missing (vocab.json and merges.txt go together)`);
    }
    vocab = parseVocab(readJson(path.join(dir, 'vocab.json')), path.join(dir, 'vocab.json'));
    mergesFile = path.join(dir, 'merges.txt');
    merges = parseMerges(readText(mergesFile), mergesFile);
  } else if (has('encoder.json') || has('vocab.bpe')) {
    for (const f of ['encoder.json', 'vocab.bpe']) {
      if (!has(f)) throw new Error(`tokenizer file ${path.join(dir, f)} is missing (encoder.json and vocab.bpe go together)`);
    }
    vocab = parseVocab(readJson(path.join(dir, 'encoder.json')), path.join(dir, 'encoder.json'));
    mergesFile = path.join(dir, 'vocab.bpe');
    merges = parseMerges(readText(mergesFile), mergesFile);
  } else if (has('tokenizer.json')) {
    mergesFile = path.join(dir, 'tokenizer.json');
    ({ vocab, merges, added } = parseTokenizerJson(mergesFile));
  } else {
    throw new Error(`no tokenizer files in ${dir}: expected vocab.json+merges.txt, encoder.json+vocab.bpe or tokenizer.json`);
  }
  checkMergesInVocab(merges, vocab, mergesFile);
  const { roles, modelMaxLength, added: added2 } = readRoles(dir);
  for (const [c, id] of added2) added.set(c, id);
  // GPT-2's only special token lives in the vocab itself; treat it as special whenever present.
  const specialTokens = new Map<string, number>();
  for (const [c, id] of added) specialTokens.set(c, id);
  for (const c of ['<|endoftext|>', roles.eos, roles.bos, roles.unk, roles.pad]) {
    if (c !== undefined && !specialTokens.has(c) && vocab.has(c)) specialTokens.set(c, vocab.get(c)!);
  }
  for (const [c, id] of specialTokens) if (!vocab.has(c)) vocab.set(c, id);
  return { vocab, merges, specialTokens, roles, modelMaxLength };
}

/** Write files atomically (temp name then rename) so a crash never leaves half a vocab. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

/** Sort the vocabulary by id (HF writes vocab.json with sorted keys; id order reads better). */
export function vocabToJson(vocab: Map<string, number>): string {
  const entries = [...vocab.entries()].sort((a, b) => a[1] - b[1]);
  return JSON.stringify(Object.fromEntries(entries));
}
