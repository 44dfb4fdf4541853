/**
 * GPT-2 exactly as Hugging Face GPT2LMHeadModel (HF parameter names, Conv1D [in, out] weight
 * layout, gelu_new, pre-LayerNorm blocks, lm_head tied to wte), plus trl's value head.
 * Read top to bottom like nanoGPT's model.py. Generation lives in generate.ts.
 */
import { tf, linear, matmul, transposeLast2, layerNorm, geluNew } from '../engine';
import { Rng } from '../engine/rng';

export interface GPT2Config {
  vocab_size: number;
  n_positions: number;
  n_embd: number;
  n_layer: number;
  n_head: number;
  layer_norm_epsilon: number;
  activation_function: 'gelu_new';
  resid_pdrop: number;
  embd_pdrop: number;
  attn_pdrop: number;
  initializer_range: number;
  bos_token_id: number;
  eos_token_id: number;
}

const BASE: Omit<GPT2Config, 'n_embd' | 'n_layer' | 'n_head'> = {
  vocab_size: 50257, n_positions: 1024, layer_norm_epsilon: 1e-5, activation_function: 'gelu_new',
  resid_pdrop: 0.1, embd_pdrop: 0.1, attn_pdrop: 0.1, initializer_range: 0.02, bos_token_id: 50256, eos_token_id: 50256,
};

/** HF hub configs (config.json of gpt2, gpt2-medium, gpt2-large, gpt2-xl) and a tiny test model. */
export const GPT2_PRESETS: Record<string, GPT2Config> = {
  gpt2: { ...BASE, n_embd: 768, n_layer: 12, n_head: 12 },
  'gpt2-medium': { ...BASE, n_embd: 1024, n_layer: 24, n_head: 16 },
  'gpt2-large': { ...BASE, n_embd: 1280, n_layer: 36, n_head: 20 },
  'gpt2-xl': { ...BASE, n_embd: 1600, n_layer: 48, n_head: 25 },
  tiny: { ...BASE, vocab_size: 256, n_positions: 128, n_embd: 64, n_layer: 2, n_head: 4, bos_token_id: 255, eos_token_id: 255 },
};

/** Fill defaults and validate a (possibly partial, e.g. HF config.json) config. */
export function gpt2Config(partial: Partial<GPT2Config> & { preset?: string } = {}): GPT2Config {
  const base: GPT2Config | undefined = GPT2_PRESETS[partial.preset ?? 'gpt2'];
  if (!base) throw new Error(`gpt2Config: unknown preset "${partial.preset}" (have ${Object.keys(GPT2_PRESETS).join(', ')})`);
  const cfg: GPT2Config = { ...base };
  for (const k of Object.keys(base) as (keyof GPT2Config)[]) if (partial[k] !== undefined) (cfg as unknown as Record<string, unknown>)[k] = partial[k];
  if (cfg.activation_function !== 'gelu_new') throw new Error(`gpt2Config: activation_function "${cfg.activation_function}" unsupported (only gelu_new)`);
  if (cfg.n_embd % cfg.n_head !== 0) throw new Error(`gpt2Config: n_embd ${cfg.n_embd} not divisible by n_head ${cfg.n_head}`);
  return cfg;
}

/** Every parameter name -> shape, in HF state_dict order (without the tied lm_head.weight). */
export function gpt2ParameterShapes(c: GPT2Config): Map<string, number[]> {
  const E = c.n_embd;
  const m = new Map<string, number[]>();
  m.set('transformer.wte.weight', [c.vocab_size, E]);
  m.set('transformer.wpe.weight', [c.n_positions, E]);
  for (let i = 0; i < c.n_layer; i++) {
    const p = `transformer.h.${i}.`;
    m.set(p + 'ln_1.weight', [E]); m.set(p + 'ln_1.bias', [E]);
    m.set(p + 'attn.c_attn.weight', [E, 3 * E]); m.set(p + 'attn.c_attn.bias', [3 * E]);
    m.set(p + 'attn.c_proj.weight', [E, E]); m.set(p + 'attn.c_proj.bias', [E]);
    m.set(p + 'ln_2.weight', [E]); m.set(p + 'ln_2.bias', [E]);
    m.set(p + 'mlp.c_fc.weight', [E, 4 * E]); m.set(p + 'mlp.c_fc.bias', [4 * E]);
    m.set(p + 'mlp.c_proj.weight', [4 * E, E]); m.set(p + 'mlp.c_proj.bias', [E]);
  }
  m.set('transformer.ln_f.weight', [E]); m.set('transformer.ln_f.bias', [E]);
  return m;
}

/** HF _init_weights: N(0, 0.02) for weights/embeddings, c_proj scaled by 1/sqrt(2 n_layer), zero biases, LN ones. */
function initValues(name: string, shape: number[], c: GPT2Config, rng: Rng): Float32Array {
  const size = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(size);
  if (name.endsWith('.bias')) return v;
  if (/ln_\d\.weight$|ln_f\.weight$/.test(name)) return v.fill(1);
  const std = name.endsWith('c_proj.weight') ? c.initializer_range / Math.sqrt(2 * c.n_layer) : c.initializer_range;
  for (let i = 0; i < size; i++) v[i] = rng.normal() * std;
  return v;
}

/** Per-layer key/value cache, each [B, n_head, past_len, head_dim]. */
export type KVCache = { k: tf.Tensor4D; v: tf.Tensor4D }[];

export interface ForwardArgs {
  inputIds: tf.Tensor2D;
  /** [B, past_len + T], 1 = real token, 0 = (left) padding. */
  attentionMask?: tf.Tensor2D;
  positionIds?: tf.Tensor2D;
  past?: KVCache;
  training?: boolean;
  rng?: Rng;
  /** Pre-transposed wte [n_embd, vocab] so a decoding loop transposes it once, not per step. */
  lmHeadT?: tf.Tensor2D;
  /**
   * Logits of the last position only ([B, 1, V]): decoding samples from nothing else, and the first
   * step's [B, T, V] over the whole prompt is a generation's largest tensor. `hidden` stays [B, T, E].
   */
  lastOnly?: boolean;
}
export interface ForwardOutput {
  logits: tf.Tensor3D;
  hidden: tf.Tensor3D;
  present: KVCache;
}

const NEG = -1e9; // additive mask value; exp() underflows to exactly 0 in float32

// layerNorm and gelu_new are engine ops (fused native kernels when present); re-exported here.
export { geluNew };

function dropout<T extends tf.Tensor>(x: T, rate: number, training: boolean, rng: Rng): T {
  return training && rate > 0 ? (tf.dropout(x, rate, undefined, rng.nextSeed()) as T) : x;
}

/**
 * Position ids for left-padded rows, as HF generate: cumsum(mask) - 1 clipped at 0, the last T
 * columns of the full [B, past + T] mask. Without a mask: past_len .. past_len + T - 1.
 */
export function positionIdsFromMask(attentionMask: tf.Tensor2D | undefined, B: number, T: number, pastLen: number): tf.Tensor2D {
  return tf.tidy(() => {
    if (!attentionMask) return tf.range(pastLen, pastLen + T, 1, 'int32').expandDims(0).tile([B, 1]) as tf.Tensor2D;
    const pos = tf.cumsum(attentionMask.toFloat(), 1).sub(1).maximum(0);
    return pos.slice([0, attentionMask.shape[1] - T], [B, T]).toInt() as tf.Tensor2D;
  });
}

export class GPT2LMHeadModel {
  readonly config: GPT2Config;
  private readonly weights = new Map<string, tf.Variable>();
  private readonly dropoutRng: Rng;

  constructor(config: Partial<GPT2Config> & { preset?: string }, opts: { seed?: number; rng?: Rng; init?: boolean } = {}) {
    this.config = gpt2Config(config);
    const rng = opts.rng ?? new Rng(opts.seed ?? 0);
    this.dropoutRng = new Rng(rng.nextSeed());
    for (const [name, shape] of gpt2ParameterShapes(this.config)) {
      const values = opts.init === false ? new Float32Array(shape.reduce((a, b) => a * b, 1)) : initValues(name, shape, this.config, rng);
      this.weights.set(name, toVariable(values, shape, name));
    }
  }

  private w(name: string): tf.Variable {
    const v = this.weights.get(name);
    if (!v) throw new Error(`GPT2LMHeadModel: no parameter "${name}"`);
    return v;
  }

  forward(args: ForwardArgs): ForwardOutput {
    const c = this.config;
    const training = args.training ?? false;
    const rng = args.rng ?? this.dropoutRng;
    const [B, T] = args.inputIds.shape;
    const pastLen = args.past ? args.past[0].k.shape[2] : 0;
    const S = pastLen + T;
    if (S > c.n_positions) throw new Error(`GPT2LMHeadModel.forward: sequence length ${S} exceeds n_positions ${c.n_positions}`);
    if (args.attentionMask && args.attentionMask.shape[1] !== S) {
      throw new Error(`GPT2LMHeadModel.forward: attentionMask has ${args.attentionMask.shape[1]} columns, expected past + T = ${S}`);
    }
    const H = c.n_head, D = c.n_embd / H;

    return tf.tidy(() => {
      const present: KVCache = [];
      const positionIds = args.positionIds ?? positionIdsFromMask(args.attentionMask, B, T, pastLen);
      // Additive attention bias [B, 1, T, S]: causal (query t sits at absolute position pastLen + t) + padding.
      // (step(k - q) = [k > q]; wasm's broadcasting comparisons are slow, its broadcasting sub is not)
      const q = tf.range(pastLen, S, 1, 'float32').reshape([T, 1]);
      const k = tf.range(0, S, 1, 'float32').reshape([1, S]);
      let bias: tf.Tensor = tf.step(k.sub(q)).mul(NEG).reshape([1, 1, T, S]);
      if (args.attentionMask) bias = bias.add(tf.sub(1, args.attentionMask.toFloat()).mul(NEG).reshape([B, 1, 1, S]));

      let x = tf.gather(this.w('transformer.wte.weight'), args.inputIds).add(tf.gather(this.w('transformer.wpe.weight'), positionIds)) as tf.Tensor3D;
      x = dropout(x, c.embd_pdrop, training, rng);

      for (let i = 0; i < c.n_layer; i++) {
        const p = `transformer.h.${i}.`;
        // --- attention ---
        const h = layerNorm(x, this.w(p + 'ln_1.weight'), this.w(p + 'ln_1.bias'), c.layer_norm_epsilon);
        const qkv = linear(h, this.w(p + 'attn.c_attn.weight') as tf.Tensor2D, this.w(p + 'attn.c_attn.bias') as tf.Tensor1D);
        const heads = (t: tf.Tensor) => t.reshape([B, T, H, D]).transpose([0, 2, 1, 3]) as tf.Tensor4D;
        const [qh, kNew, vNew] = tf.split(qkv, 3, -1).map(heads);
        const kh = args.past ? tf.concat([args.past[i].k, kNew], 2) : kNew;
        const vh = args.past ? tf.concat([args.past[i].v, vNew], 2) : vNew;
        present.push({ k: kh, v: vh });
        let att = matmul(qh, kh, false, true).mul(1 / Math.sqrt(D)).add(bias);
        att = dropout(tf.softmax(att, -1), c.attn_pdrop, training, rng);
        const y = matmul(att, vh).transpose([0, 2, 1, 3]).reshape([B, T, c.n_embd]) as tf.Tensor3D;
        const attnOut = linear(y, this.w(p + 'attn.c_proj.weight') as tf.Tensor2D, this.w(p + 'attn.c_proj.bias') as tf.Tensor1D);
        x = x.add(dropout(attnOut, c.resid_pdrop, training, rng));
        // --- MLP ---
        const h2 = layerNorm(x, this.w(p + 'ln_2.weight'), this.w(p + 'ln_2.bias'), c.layer_norm_epsilon);
        const fc = geluNew(linear(h2, this.w(p + 'mlp.c_fc.weight') as tf.Tensor2D, this.w(p + 'mlp.c_fc.bias') as tf.Tensor1D));
        const mlpOut = linear(fc, this.w(p + 'mlp.c_proj.weight') as tf.Tensor2D, this.w(p + 'mlp.c_proj.bias') as tf.Tensor1D);
        x = x.add(dropout(mlpOut, c.resid_pdrop, training, rng));
      }
      const hidden = layerNorm(x, this.w('transformer.ln_f.weight'), this.w('transformer.ln_f.bias'), c.layer_norm_epsilon);
      // lm_head is tied to wte: logits = hidden @ wte^T (matmul() transposes explicitly to stay on wasm's fast path).
      const top = args.lastOnly ? hidden.slice([0, T - 1, 0], [B, 1, c.n_embd]) : hidden;
      const flat = top.reshape([B * top.shape[1], c.n_embd]);
      const logits = (args.lmHeadT ? matmul(flat, args.lmHeadT) : matmul(flat, this.w('transformer.wte.weight'), false, true)).reshape([B, top.shape[1], c.vocab_size]);
      return { logits: logits as tf.Tensor3D, hidden, present };
    });
  }

  /** wte transposed to [n_embd, vocab]; the caller owns (disposes) it. */
  lmHeadT(): tf.Tensor2D {
    return transposeLast2(this.w('transformer.wte.weight')) as tf.Tensor2D;
  }

  /** HF names -> variables (lm_head.weight is tied to transformer.wte.weight and not listed). */
  namedWeights(): Map<string, tf.Variable> {
    return new Map(this.weights);
  }

  trainableVariables(): tf.Variable[] {
    return [...this.weights.values()];
  }

  /**
   * Copy weights in by HF name. Accepts base-model names without the "transformer." prefix (as in
   * HF gpt2 model.safetensors), ignores the attn.bias / attn.masked_bias buffers and the tied
   * lm_head.weight. Throws on unknown names (strict), missing names, or shape mismatches.
   */
  loadWeights(map: Map<string, tf.Tensor>, opts: { strict?: boolean; source?: string } = {}): void {
    loadNamedWeights(this.weights, map, { ...opts, prefix: 'transformer.', ignore: /(^|\.)attn\.(masked_)?bias$|^lm_head\.weight$/ });
  }

  dispose(): void {
    for (const v of this.weights.values()) v.dispose();
    this.weights.clear();
  }
}

let nextId = 0;

/** A trainable variable with a unique tfjs name; the temporary tensor is released (the variable keeps the data). */
function toVariable(values: Float32Array, shape: number[], name: string): tf.Variable {
  const t = tf.tensor(values, shape, 'float32');
  const v = tf.variable(t, true, `${name}_${nextId++}`);
  t.dispose();
  return v;
}

/** Shared by the LM and the value head: validate every name and shape, then assign. */
export function loadNamedWeights(
  target: Map<string, tf.Variable>,
  map: Map<string, tf.Tensor>,
  opts: { strict?: boolean; source?: string; prefix?: string; ignore?: RegExp },
): void {
  const src = opts.source ? ` (${opts.source})` : '';
  const resolved = new Map<string, tf.Tensor>();
  const unknown: string[] = [];
  for (const [name, t] of map) {
    if (target.has(name)) resolved.set(name, t);
    else if (opts.prefix && target.has(opts.prefix + name)) resolved.set(opts.prefix + name, t);
    else if (!(opts.ignore && opts.ignore.test(name))) unknown.push(name);
  }
  if (unknown.length && opts.strict !== false) throw new Error(`loadWeights${src}: unexpected parameter(s) ${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ` and ${unknown.length - 5} more` : ''}`);
  const missing = [...target.keys()].filter((n) => !resolved.has(n));
  if (missing.length) throw new Error(`loadWeights${src}: missing parameter(s) ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}`);
  for (const [name, t] of resolved) {
    const want = target.get(name)!.shape;
    if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
      throw new Error(`loadWeights${src}: "${name}" has shape [${t.shape}] but the model expects [${want}]`);
    }
  }
  for (const [name, t] of resolved) {
    const f = t.dtype === 'float32' ? t : t.toFloat();
    target.get(name)!.assign(f);
    if (f !== t) f.dispose();
  }
}

/**
 * trl AutoModelForCausalLMWithValueHead: v_head = dropout(0.1) + Linear(n_embd, 1) on the last
 * hidden state (after ln_f). Linear init as torch's default: U(-1/sqrt(n_embd), 1/sqrt(n_embd)).
 */
export class GPT2WithValueHead {
  readonly lm: GPT2LMHeadModel;
  readonly summaryDropout: number;
  private readonly head = new Map<string, tf.Variable>();
  private readonly dropoutRng: Rng;

  constructor(lm: GPT2LMHeadModel, opts: { seed?: number; rng?: Rng; summaryDropout?: number } = {}) {
    this.lm = lm;
    this.summaryDropout = opts.summaryDropout ?? 0.1;
    const rng = opts.rng ?? new Rng(opts.seed ?? 1);
    this.dropoutRng = new Rng(rng.nextSeed());
    const E = lm.config.n_embd, bound = 1 / Math.sqrt(E);
    const u = (n: number) => Float32Array.from({ length: n }, () => (2 * rng.uniform() - 1) * bound);
    this.head.set('v_head.summary.weight', toVariable(u(E), [1, E], 'v_head.summary.weight'));
    this.head.set('v_head.summary.bias', toVariable(u(1), [1], 'v_head.summary.bias'));
  }

  get config(): GPT2Config {
    return this.lm.config;
  }

  forward(args: ForwardArgs): ForwardOutput & { values: tf.Tensor2D } {
    const out = this.lm.forward(args);
    const values = tf.tidy(() => {
      const h = dropout(out.hidden, this.summaryDropout, args.training ?? false, args.rng ?? this.dropoutRng);
      const w = this.head.get('v_head.summary.weight')!;
      return linear(h, transposeLast2(w) as tf.Tensor2D, this.head.get('v_head.summary.bias') as tf.Tensor1D).squeeze([2]) as tf.Tensor2D;
    });
    return { ...out, values };
  }

  namedWeights(): Map<string, tf.Variable> {
    return new Map([...this.lm.namedWeights(), ...this.head]);
  }

  trainableVariables(): tf.Variable[] {
    return [...this.lm.trainableVariables(), ...this.head.values()];
  }

  /** LM weights (names as GPT2LMHeadModel.loadWeights) plus v_head.summary.*; v_head optional unless strict. */
  loadWeights(map: Map<string, tf.Tensor>, opts: { strict?: boolean; source?: string } = {}): void {
    const lmMap = new Map([...map].filter(([n]) => !n.startsWith('v_head.')));
    const headMap = new Map([...map].filter(([n]) => n.startsWith('v_head.')));
    this.lm.loadWeights(lmMap, opts);
    if (headMap.size || opts.strict) loadNamedWeights(this.head, headMap, opts);
  }

  dispose(): void {
    this.lm.dispose();
    for (const v of this.head.values()) v.dispose();
    this.head.clear();
  }
}

/** Total parameter count from a config (no allocation). */
export function gpt2ParameterCount(c: GPT2Config): number {
  let n = 0;
  for (const s of gpt2ParameterShapes(c).values()) n += s.reduce((a, b) => a * b, 1);
  return n;
}
