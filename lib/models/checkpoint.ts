/**
 * Checkpoints in the Hugging Face layout, so a saved policy opens with
 * `GPT2LMHeadModel.from_pretrained(dir)` / `AutoTokenizer.from_pretrained(dir)`:
 *   config.json           HF GPT2Config fields (architectures ["GPT2LMHeadModel"], model_type "gpt2")
 *   model.safetensors     HF parameter names ("transformer.h.0.attn.c_attn.weight", ...), lm_head
 *                         omitted because it is tied to transformer.wte.weight (as save_pretrained does);
 *                         a value head's "v_head.summary.weight/bias" live in the same file (trl keeps
 *                         them in pytorch_model.bin; HF from_pretrained ignores the extra keys)
 *   vocab.json, merges.txt, tokenizer.json, tokenizer_config.json, special_tokens_map.json
 *   rarlhf_extra.json     optional free-form JSON (run config, task, ...)
 * A checkpoint directory is written to a temporary sibling and renamed into place, so a failure
 * never leaves a partial directory. Training state (optimizer moments, RNG state, step) goes in
 * trainer_state.json + optimizer.safetensors via saveTrainerState/loadTrainerState.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf } from '../engine';
import { GPT2Config, GPT2LMHeadModel, GPT2WithValueHead, gpt2ParameterShapes } from './gpt2';
import { HostTensor, SafeDtype, hostToTf, readSafetensors, tfToHost, writeSafetensors } from './safetensors';
import { GPT2Tokenizer } from '../text/gpt2-tokenizer';
import { checkCheckpointDir, checkFiniteWeights } from './load-checks';
import { writeDirAtomic } from './atomic-dir';

export interface CheckpointData {
  config: GPT2Config;
  /** HF names; "transformer." prefix optional; may include v_head.summary.* */
  weights: Map<string, tf.Tensor>;
  tokenizer?: GPT2Tokenizer;
  extra?: Record<string, unknown>;
}

export interface LoadedCheckpoint {
  config: GPT2Config;
  /** normalised HF names with the "transformer." prefix; v_head.summary.* when present. Caller disposes. */
  weights: Map<string, tf.Tensor>;
  tokenizer?: GPT2Tokenizer;
  extra?: Record<string, unknown>;
  hasValueHead: boolean;
}

const BASE_NAME = /^(wte|wpe|ln_f|h\.\d+)\./;
const BUFFER_NAME = /(^|\.)attn\.(masked_)?bias$/; // causal-mask buffers in older GPT-2 checkpoints
const VHEAD = ['v_head.summary.weight', 'v_head.summary.bias'];

/** HF config.json for a GPT2LMHeadModel (every field transformers writes for gpt2). */
export function hfConfigJson(c: GPT2Config): Record<string, unknown> {
  return {
    activation_function: c.activation_function,
    architectures: ['GPT2LMHeadModel'],
    attn_pdrop: c.attn_pdrop,
    bos_token_id: c.bos_token_id,
    embd_pdrop: c.embd_pdrop,
    eos_token_id: c.eos_token_id,
    initializer_range: c.initializer_range,
    layer_norm_epsilon: c.layer_norm_epsilon,
    model_type: 'gpt2',
    n_ctx: c.n_positions,
    n_embd: c.n_embd,
    n_head: c.n_head,
    n_inner: null,
    n_layer: c.n_layer,
    n_positions: c.n_positions,
    reorder_and_upcast_attn: false,
    resid_pdrop: c.resid_pdrop,
    scale_attn_by_inverse_layer_idx: false,
    scale_attn_weights: true,
    summary_activation: null,
    summary_first_dropout: 0.1,
    summary_proj_to_labels: true,
    summary_type: 'cls_index',
    summary_use_proj: true,
    torch_dtype: 'float32',
    use_cache: true,
    vocab_size: c.vocab_size,
  };
}

/** Parse and validate a GPT-2 config.json object; errors name the file and the field. */
export function parseHfConfig(obj: unknown, file: string): GPT2Config {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new Error(`${file}: expected a JSON object`);
  const o = obj as Record<string, unknown>;
  const bad = (field: string, why: string): never => {
    throw new Error(`${file}: field "${field}" ${why}`);
  };
  if (o.model_type !== undefined && o.model_type !== 'gpt2') bad('model_type', `is ${JSON.stringify(o.model_type)}, only "gpt2" is supported`);
  const int = (field: string, fallback?: string): number => {
    let v = o[field];
    if (v === undefined && fallback !== undefined) v = o[fallback];
    if (v === undefined) return bad(field, 'is missing');
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) bad(field, `must be a positive integer (got ${JSON.stringify(v)})`);
    return v as number;
  };
  const num = (field: string, dflt: number): number => {
    const v = o[field] ?? dflt;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) bad(field, `must be a non-negative number (got ${JSON.stringify(v)})`);
    return v as number;
  };
  const tokenId = (field: string, dflt: number): number => {
    const v = o[field] ?? dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) bad(field, `must be a token id (got ${JSON.stringify(v)})`);
    return v as number;
  };
  const act = o.activation_function ?? 'gelu_new';
  if (act !== 'gelu_new') bad('activation_function', `is ${JSON.stringify(act)}, only "gelu_new" is supported`);
  // Architecture variants the kit's GPT-2 does not implement: refuse rather than compute something else.
  const unsupported: [string, unknown][] = [['reorder_and_upcast_attn', false], ['scale_attn_by_inverse_layer_idx', false], ['scale_attn_weights', true], ['add_cross_attention', false]];
  for (const [field, ok] of unsupported) if (o[field] !== undefined && o[field] !== ok) bad(field, `is ${JSON.stringify(o[field])}, only ${ok} is supported`);
  const cfg: GPT2Config = {
    vocab_size: int('vocab_size'),
    n_positions: int('n_positions', 'n_ctx'),
    n_embd: int('n_embd'),
    n_layer: int('n_layer'),
    n_head: int('n_head'),
    layer_norm_epsilon: num('layer_norm_epsilon', 1e-5),
    activation_function: 'gelu_new',
    resid_pdrop: num('resid_pdrop', 0.1),
    embd_pdrop: num('embd_pdrop', 0.1),
    attn_pdrop: num('attn_pdrop', 0.1),
    initializer_range: num('initializer_range', 0.02),
    bos_token_id: tokenId('bos_token_id', 50256),
    eos_token_id: tokenId('eos_token_id', 50256),
  };
  if (o.n_inner !== undefined && o.n_inner !== null && o.n_inner !== 4 * cfg.n_embd) bad('n_inner', `is ${o.n_inner}, only null (= 4 * n_embd) is supported`);
  if (cfg.n_embd % cfg.n_head !== 0) bad('n_head', `(${cfg.n_head}) must divide n_embd (${cfg.n_embd})`);
  return cfg;
}

function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${file} cannot be read: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${file} is not valid JSON: ${(e as Error).message}`);
  }
}

/** Normalise names to the model's ("transformer." prefix), drop buffers and a tied lm_head. */
function normaliseNames<T>(map: Map<string, T>, file: string, sameAsWte: (lm: T, wte: T) => boolean): Map<string, T> {
  const out = new Map<string, T>();
  for (const [name, t] of map) {
    if (BUFFER_NAME.test(name)) continue;
    const full = BASE_NAME.test(name) ? `transformer.${name}` : name;
    if (out.has(full)) throw new Error(`${file}: tensor "${full}" appears twice (with and without the "transformer." prefix)`);
    out.set(full, t);
  }
  const lm = out.get('lm_head.weight');
  if (lm !== undefined) {
    const wte = out.get('transformer.wte.weight');
    if (wte === undefined) throw new Error(`${file}: has "lm_head.weight" but no "transformer.wte.weight"; the kit ties lm_head to wte`);
    if (!sameAsWte(lm, wte)) throw new Error(`${file}: "lm_head.weight" differs from "transformer.wte.weight"; untied GPT-2 heads are not supported`);
    out.delete('lm_head.weight');
  }
  return out;
}

/** Check names and shapes against the config; errors name the tensor and the file. */
export function validateWeights(shapes: Map<string, number[]>, config: GPT2Config, file: string): boolean {
  const want = new Map(gpt2ParameterShapes(config));
  const hasValueHead = VHEAD.some((n) => shapes.has(n));
  if (hasValueHead) {
    want.set('v_head.summary.weight', [1, config.n_embd]);
    want.set('v_head.summary.bias', [1]);
  }
  for (const [name, shape] of want) {
    const got = shapes.get(name);
    if (!got) throw new Error(`${file}: missing tensor "${name}" (expected shape [${shape}] for config ${JSON.stringify({ n_layer: config.n_layer, n_embd: config.n_embd })})`);
    if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) throw new Error(`${file}: tensor "${name}" has shape [${got}] but config.json implies [${shape}]`);
  }
  for (const name of shapes.keys()) if (!want.has(name)) throw new Error(`${file}: unexpected tensor "${name}" (not a GPT2LMHeadModel or value-head parameter)`);
  return hasValueHead;
}

export interface SaveCheckpointOptions {
  /** dtype stored in model.safetensors; F32 (default) round-trips bit-exactly */
  dtype?: Extract<SafeDtype, 'F32' | 'F16' | 'BF16'>;
}

/**
 * Write the HF-layout files of a checkpoint into the existing folder `dir` (not atomic: callers
 * write into a temporary folder). `afterFile` is called after each file (fault-injection tests).
 */
export function writeCheckpointFiles(dir: string, data: CheckpointData, opts: SaveCheckpointOptions & { afterFile?: (name: string) => void } = {}): void {
  const host = normaliseNames(tfToHost(data.weights), 'saveCheckpoint weights', () => true);
  validateWeights(new Map([...host].map(([n, t]) => [n, t.shape])), data.config, 'saveCheckpoint weights');
  const dtype = opts.dtype ?? 'F32';
  const tensors = new Map<string, HostTensor>();
  for (const [n, t] of host) tensors.set(n, { ...t, dtype: t.dtype === 'F32' ? dtype : t.dtype });
  const after = opts.afterFile ?? (() => {});
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(hfConfigJson(data.config), null, 2) + '\n');
  after('config.json');
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  after('model.safetensors');
  if (data.tokenizer) {
    data.tokenizer.save(dir);
    after('tokenizer files');
  }
  if (data.extra !== undefined) {
    fs.writeFileSync(path.join(dir, 'rarlhf_extra.json'), JSON.stringify(data.extra, null, 2) + '\n');
    after('rarlhf_extra.json');
  }
}

/** Save model weights (+ tokenizer, extra JSON) in the HF layout, atomically. */
export function saveCheckpoint(dir: string, data: CheckpointData, opts: SaveCheckpointOptions = {}): void {
  writeDirAtomic(dir, (tmp) => writeCheckpointFiles(tmp, data, opts));
}

/** The weight files of a checkpoint: model.safetensors, or the shards listed in model.safetensors.index.json. */
function weightFiles(dir: string): Map<string, string | null> {
  const single = path.join(dir, 'model.safetensors');
  if (fs.existsSync(single)) return new Map([[single, null]]);
  const index = path.join(dir, 'model.safetensors.index.json');
  if (fs.existsSync(index)) {
    const obj = readJsonFile(index) as { weight_map?: Record<string, string> };
    if (!obj.weight_map || typeof obj.weight_map !== 'object') throw new Error(`${index}: field "weight_map" is missing`);
    return new Map([...new Set(Object.values(obj.weight_map))].map((f) => [path.join(dir, f), null]));
  }
  const bin = ['pytorch_model.bin', 'tf_model.h5'].find((f) => fs.existsSync(path.join(dir, f)));
  throw new Error(`${single} is missing${bin ? ` (found ${bin}; only safetensors weights are supported — convert with transformers' save_pretrained(safe_serialization=True))` : ''}`);
}

/** Load a checkpoint written by saveCheckpoint or by HF save_pretrained (safetensors). */
export function loadCheckpoint(dir: string): LoadedCheckpoint {
  checkCheckpointDir(dir);
  const configFile = path.join(dir, 'config.json');
  if (!fs.existsSync(configFile)) throw new Error(`${configFile} is missing (is ${dir} a checkpoint directory?)`);
  const config = parseHfConfig(readJsonFile(configFile), configFile);
  const raw = new Map<string, HostTensor>();
  const files = [...weightFiles(dir).keys()];
  const fileLabel = files.length === 1 ? files[0] : `${path.join(dir, 'model.safetensors.index.json')} shards`;
  for (const f of files) {
    const tensors = readSafetensors(f).tensors;
    checkFiniteWeights(tensors, f); // NaN weights would load and generate garbage with exit 0
    for (const [n, t] of tensors) raw.set(n, t);
  }
  const sameValues = (a: HostTensor, b: HostTensor) => a.shape.join() === b.shape.join() && a.values.every((x, i) => x === b.values[i]);
  const host = normaliseNames(raw, fileLabel, sameValues);
  const hasValueHead = validateWeights(new Map([...host].map(([n, t]) => [n, t.shape])), config, fileLabel);
  const weights = new Map<string, tf.Tensor>();
  for (const [n, t] of host) weights.set(n, hostToTf(n, t, fileLabel));
  const hasTokenizer = ['vocab.json', 'encoder.json', 'tokenizer.json'].some((f) => fs.existsSync(path.join(dir, f)));
  const tokenizer = hasTokenizer ? GPT2Tokenizer.fromDir(dir) : undefined;
  const extraFile = path.join(dir, 'rarlhf_extra.json');
  const extra = fs.existsSync(extraFile) ? (readJsonFile(extraFile) as Record<string, unknown>) : undefined;
  return { config, weights, tokenizer, extra, hasValueHead };
}

// ---- model-level helpers ------------------------------------------------------------------------

/** Save a GPT2LMHeadModel or GPT2WithValueHead (value head included) with its tokenizer. */
export function saveModelCheckpoint(
  dir: string,
  model: { config: GPT2Config; namedWeights(): Map<string, tf.Variable> },
  opts: { tokenizer?: GPT2Tokenizer; extra?: Record<string, unknown> } & SaveCheckpointOptions = {},
): void {
  saveCheckpoint(dir, { config: model.config, weights: model.namedWeights(), tokenizer: opts.tokenizer, extra: opts.extra }, opts);
}

/** Build a GPT2LMHeadModel from a checkpoint (a stored value head is ignored). */
export function loadGPT2(dir: string): { model: GPT2LMHeadModel; tokenizer?: GPT2Tokenizer; extra?: Record<string, unknown> } {
  const ck = loadCheckpoint(dir);
  const model = new GPT2LMHeadModel(ck.config, { init: false });
  try {
    model.loadWeights(new Map([...ck.weights].filter(([n]) => !n.startsWith('v_head.'))), { source: dir });
  } finally {
    for (const t of ck.weights.values()) t.dispose();
  }
  return { model, tokenizer: ck.tokenizer, extra: ck.extra };
}

/**
 * Build a GPT2WithValueHead; the value head comes from the checkpoint when stored there, else it is
 * freshly initialised from `seed` (as trl does when wrapping a plain LM).
 */
export function loadGPT2WithValueHead(dir: string, opts: { seed?: number } = {}): {
  model: GPT2WithValueHead; tokenizer?: GPT2Tokenizer; extra?: Record<string, unknown>; hasValueHead: boolean;
} {
  const ck = loadCheckpoint(dir);
  const model = new GPT2WithValueHead(new GPT2LMHeadModel(ck.config, { init: false }), { seed: opts.seed });
  try {
    model.loadWeights(ck.weights, { source: dir });
  } finally {
    for (const t of ck.weights.values()) t.dispose();
  }
  return { model, tokenizer: ck.tokenizer, extra: ck.extra, hasValueHead: ck.hasValueHead };
}

// ---- training state -----------------------------------------------------------------------------

export interface TrainerState {
  /** JSON-serialisable state: step, RNG state, schedules, kl controller, ... (numbers round-trip exactly) */
  state: Record<string, unknown>;
  /** optimizer moments etc. by name, e.g. "exp_avg.transformer.wte.weight"; saved as F32/I32 bit-exactly */
  tensors: Map<string, tf.Tensor>;
}

/** Write trainer_state.json + optimizer.safetensors into `dir` (each file atomically). */
export function saveTrainerState(dir: string, s: TrainerState): void {
  fs.mkdirSync(dir, { recursive: true });
  writeSafetensors(path.join(dir, 'optimizer.safetensors'), tfToHost(s.tensors), { format: 'rarlhf-trainer-state' });
  const tmp = path.join(dir, `trainer_state.json.tmp-${process.pid}`);
  fs.writeFileSync(tmp, JSON.stringify(s.state, null, 2) + '\n');
  fs.renameSync(tmp, path.join(dir, 'trainer_state.json'));
}

/** Read what saveTrainerState wrote; null when `dir` holds no trainer state. Caller disposes tensors. */
export function loadTrainerState(dir: string): TrainerState | null {
  const stateFile = path.join(dir, 'trainer_state.json');
  const tensorFile = path.join(dir, 'optimizer.safetensors');
  if (!fs.existsSync(stateFile)) return null;
  const state = readJsonFile(stateFile);
  if (state === null || typeof state !== 'object' || Array.isArray(state)) throw new Error(`${stateFile}: expected a JSON object`);
  if (!fs.existsSync(tensorFile)) throw new Error(`${tensorFile} is missing (trainer_state.json is present)`);
  const tensors = new Map<string, tf.Tensor>();
  for (const [n, t] of readSafetensors(tensorFile).tensors) tensors.set(n, hostToTf(n, t, tensorFile));
  return { state: state as Record<string, unknown>, tensors };
}
