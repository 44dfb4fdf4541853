/**
 * A small BERT encoder + sequence-classification head, exactly as Hugging Face
 * BertForSequenceClassification computes it (parameter names, post-LN blocks, [CLS] pooler with
 * tanh, classifier), so the saved model.safetensors loads in transformers' BertForSequenceClassification
 * and the ONNX export (encoder-onnx.ts) mirrors this forward op by op. Read top to bottom like
 * nanoGPT's model.py.
 *
 * Why post-LN (BERT's block, LN after each residual add) rather than pre-LN: the export is a
 * `model_type: "bert"` checkpoint, and only the post-LN block *is* BERT, so the safetensors mean
 * what their HF names say. With 2-4 layers post-LN trains fine from scratch with a short warmup
 * (its instability is a deep-stack problem). Activation: gelu_new (tanh form, HF hidden_act
 * "gelu_new"), because the engine has a fused kernel for it; BERT's erf GELU differs by < 1e-3.
 *
 * Weights are held in [in, out] layout (engine linear()); HF's torch Linear layout [out, in] is
 * produced at save time (weightsForSave) and read back at load (loadHfWeights).
 */
import { tf, linear, matmul, layerNorm, geluNew } from '../engine';
import { Rng } from '../engine/rng';

export interface BertConfig {
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act: 'gelu_new';
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  max_position_embeddings: number;
  type_vocab_size: number;
  initializer_range: number;
  layer_norm_eps: number;
  pad_token_id: number;
  /** Width of the classifier output (logits). */
  num_labels: number;
}

export function bertConfig(c: Partial<BertConfig> & Pick<BertConfig, 'vocab_size'>): BertConfig {
  const cfg: BertConfig = {
    hidden_size: 128, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 512, hidden_act: 'gelu_new',
    hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1, max_position_embeddings: 128, type_vocab_size: 2,
    initializer_range: 0.02, layer_norm_eps: 1e-12, pad_token_id: 0, num_labels: 1, ...c,
  };
  if (cfg.hidden_act !== 'gelu_new') throw new Error(`bertConfig: hidden_act "${cfg.hidden_act}" unsupported (only gelu_new)`);
  if (cfg.hidden_size % cfg.num_attention_heads !== 0) throw new Error(`bertConfig: hidden_size ${cfg.hidden_size} not divisible by num_attention_heads ${cfg.num_attention_heads}`);
  for (const k of ['vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size', 'max_position_embeddings', 'num_labels'] as const) {
    if (!Number.isInteger(cfg[k]) || cfg[k] < 1) throw new Error(`bertConfig: ${k} must be a positive integer, got ${cfg[k]}`);
  }
  return cfg;
}

/** Linear layers: HF stores their weight [out, in]; we keep [in, out]. */
export const isLinearWeight = (name: string) => /(query|key|value|dense|classifier)\.weight$/.test(name);

/** Every parameter: HF name -> shape in our [in, out] layout, in HF state_dict order. */
export function bertParameterShapes(c: BertConfig): Map<string, number[]> {
  const d = c.hidden_size;
  const m = new Map<string, number[]>();
  const e = 'bert.embeddings.';
  m.set(e + 'word_embeddings.weight', [c.vocab_size, d]);
  m.set(e + 'position_embeddings.weight', [c.max_position_embeddings, d]);
  m.set(e + 'token_type_embeddings.weight', [c.type_vocab_size, d]);
  m.set(e + 'LayerNorm.weight', [d]); m.set(e + 'LayerNorm.bias', [d]);
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `bert.encoder.layer.${i}.`;
    for (const n of ['query', 'key', 'value']) { m.set(`${p}attention.self.${n}.weight`, [d, d]); m.set(`${p}attention.self.${n}.bias`, [d]); }
    m.set(p + 'attention.output.dense.weight', [d, d]); m.set(p + 'attention.output.dense.bias', [d]);
    m.set(p + 'attention.output.LayerNorm.weight', [d]); m.set(p + 'attention.output.LayerNorm.bias', [d]);
    m.set(p + 'intermediate.dense.weight', [d, c.intermediate_size]); m.set(p + 'intermediate.dense.bias', [c.intermediate_size]);
    m.set(p + 'output.dense.weight', [c.intermediate_size, d]); m.set(p + 'output.dense.bias', [d]);
    m.set(p + 'output.LayerNorm.weight', [d]); m.set(p + 'output.LayerNorm.bias', [d]);
  }
  m.set('bert.pooler.dense.weight', [d, d]); m.set('bert.pooler.dense.bias', [d]);
  m.set('classifier.weight', [d, c.num_labels]); m.set('classifier.bias', [c.num_labels]);
  return m;
}

/** HF BertPreTrainedModel._init_weights: N(0, initializer_range) weights/embeddings, zero biases, LN = 1/0. */
function initValues(name: string, shape: number[], c: BertConfig, rng: Rng): Float32Array {
  const v = new Float32Array(shape.reduce((a, b) => a * b, 1));
  if (name.endsWith('LayerNorm.weight')) return v.fill(1);
  if (name.endsWith('.bias')) return v;
  for (let i = 0; i < v.length; i++) v[i] = rng.normal() * c.initializer_range;
  if (name.endsWith('word_embeddings.weight')) v.fill(0, c.pad_token_id * shape[1], (c.pad_token_id + 1) * shape[1]); // padding_idx row
  return v;
}

const NEG = -1e9; // additive mask; exp underflows to exactly 0 in float32 (HF uses finfo.min: same softmax)

let nextId = 0;

export class BertClassifier {
  readonly config: BertConfig;
  private readonly weights = new Map<string, tf.Variable>();
  private readonly dropoutRng: Rng;

  constructor(config: BertConfig, opts: { seed?: number } = {}) {
    this.config = bertConfig(config);
    const rng = new Rng(opts.seed ?? 0);
    this.dropoutRng = new Rng(rng.nextSeed());
    for (const [name, shape] of bertParameterShapes(this.config)) {
      const t = tf.tensor(initValues(name, shape, this.config, rng), shape, 'float32');
      this.weights.set(name, tf.variable(t, true, `${name}_${nextId++}`));
      t.dispose();
    }
  }

  private w<R extends tf.Rank>(name: string): tf.Variable<R> {
    const v = this.weights.get(name);
    if (!v) throw new Error(`BertClassifier: no parameter "${name}"`);
    return v as tf.Variable<R>;
  }

  private dropout<T extends tf.Tensor>(x: T, rate: number, training: boolean): T {
    return training && rate > 0 ? (tf.dropout(x, rate, undefined, this.dropoutRng.nextSeed()) as T) : x;
  }

  private dense(x: tf.Tensor, name: string): tf.Tensor {
    return linear(x, this.w<tf.Rank.R2>(name + '.weight'), this.w<tf.Rank.R1>(name + '.bias'));
  }

  /**
   * logits [B, num_labels] for right-padded ids [B, T] (int32) and mask [B, T] (1 = token, 0 = pad).
   * Token types are all 0 (single sentences), as the BERT tokenizer gives them.
   */
  forward(inputIds: tf.Tensor2D, attentionMask: tf.Tensor2D, training = false): tf.Tensor2D {
    const c = this.config;
    const [B, T] = inputIds.shape;
    if (T > c.max_position_embeddings) throw new Error(`BertClassifier.forward: sequence length ${T} exceeds max_position_embeddings ${c.max_position_embeddings}`);
    const d = c.hidden_size, H = c.num_attention_heads, D = d / H;
    const e = 'bert.embeddings.';
    return tf.tidy(() => {
      // --- embeddings: word + position + token type 0, then LayerNorm ---
      const pos = this.w<tf.Rank.R2>(e + 'position_embeddings.weight').slice([0, 0], [T, d]);
      const typ = this.w<tf.Rank.R2>(e + 'token_type_embeddings.weight').slice([0, 0], [1, d]);
      let x = tf.gather(this.w(e + 'word_embeddings.weight'), inputIds).add(pos.add(typ)) as tf.Tensor3D;
      x = this.dropout(layerNorm(x, this.w(e + 'LayerNorm.weight'), this.w(e + 'LayerNorm.bias'), c.layer_norm_eps), c.hidden_dropout_prob, training);
      // padding bias [B, 1, 1, T]: keys that are padding get -1e9 before the softmax
      const bias = tf.sub(1, attentionMask.toFloat()).mul(NEG).reshape([B, 1, 1, T]);
      const heads = (t: tf.Tensor) => t.reshape([B, T, H, D]).transpose([0, 2, 1, 3]) as tf.Tensor4D;

      for (let i = 0; i < c.num_hidden_layers; i++) {
        const p = `bert.encoder.layer.${i}.`;
        // --- self-attention, then post-LN residual ---
        const q = heads(this.dense(x, p + 'attention.self.query'));
        const k = heads(this.dense(x, p + 'attention.self.key'));
        const v = heads(this.dense(x, p + 'attention.self.value'));
        let att = matmul(q, k, false, true).mul(1 / Math.sqrt(D)).add(bias);
        att = this.dropout(tf.softmax(att, -1), c.attention_probs_dropout_prob, training);
        const ctx = matmul(att, v).transpose([0, 2, 1, 3]).reshape([B, T, d]);
        const a = this.dropout(this.dense(ctx, p + 'attention.output.dense'), c.hidden_dropout_prob, training);
        x = layerNorm(x.add(a), this.w(p + 'attention.output.LayerNorm.weight'), this.w(p + 'attention.output.LayerNorm.bias'), c.layer_norm_eps);
        // --- feed-forward, then post-LN residual ---
        const f = geluNew(this.dense(x, p + 'intermediate.dense'));
        const o = this.dropout(this.dense(f, p + 'output.dense'), c.hidden_dropout_prob, training);
        x = layerNorm(x.add(o), this.w(p + 'output.LayerNorm.weight'), this.w(p + 'output.LayerNorm.bias'), c.layer_norm_eps);
      }
      // --- pooler: tanh(dense(h_[CLS])), then the classifier ---
      const cls = x.slice([0, 0, 0], [B, 1, d]).reshape([B, d]);
      const pooled = this.dropout(tf.tanh(this.dense(cls, 'bert.pooler.dense')), c.hidden_dropout_prob, training);
      return this.dense(pooled, 'classifier') as tf.Tensor2D;
    });
  }

  trainableVariables(): tf.Variable[] {
    return [...this.weights.values()];
  }

  /** Our-layout weights by HF name (the variables themselves). */
  namedWeights(): Map<string, tf.Variable> {
    return new Map(this.weights);
  }

  /** Host copies in HF layout (linear weights transposed to [out, in]), for model.safetensors. */
  async weightsForSave(): Promise<Map<string, { shape: number[]; values: Float32Array }>> {
    const out = new Map<string, { shape: number[]; values: Float32Array }>();
    for (const [name, v] of this.weights) {
      const t = isLinearWeight(name) ? tf.tidy(() => v.transpose()) : v;
      out.set(name, { shape: t.shape.slice(), values: (await t.data()) as Float32Array });
      if (t !== v) t.dispose();
    }
    return out;
  }

  /** Assign weights given in HF layout; every name must be present with its HF shape. */
  loadHfWeights(map: Map<string, { shape: number[]; values: Float32Array }>, source: string): void {
    const unknown = [...map.keys()].filter((n) => !this.weights.has(n));
    if (unknown.length) throw new Error(`${source}: unexpected tensor(s) ${unknown.slice(0, 5).join(', ')}`);
    for (const [name, v] of this.weights) {
      const t = map.get(name);
      if (!t) throw new Error(`${source}: tensor "${name}" is missing`);
      const want = isLinearWeight(name) ? [v.shape[1], v.shape[0]] : v.shape;
      if (t.shape.length !== want.length || t.shape.some((s, i) => s !== want[i])) throw new Error(`${source}: tensor "${name}" has shape [${t.shape}], expected [${want}] (from config.json)`);
      tf.tidy(() => {
        const x = tf.tensor(t.values, t.shape, 'float32');
        v.assign(isLinearWeight(name) ? x.transpose() : x);
      });
    }
  }

  /** Replace the classifier with [d, L] weight and [L] bias (calibrated export head). */
  setClassifier(weight: Float32Array, bias: Float32Array): BertClassifier {
    const L = bias.length;
    const m = new BertClassifier({ ...this.config, num_labels: L }, { seed: 0 });
    for (const [name, v] of this.weights) if (!name.startsWith('classifier.')) m.w(name).assign(v);
    tf.tidy(() => {
      m.w('classifier.weight').assign(tf.tensor2d(weight, [this.config.hidden_size, L]));
      m.w('classifier.bias').assign(tf.tensor1d(bias));
    });
    return m;
  }

  dispose(): void {
    for (const v of this.weights.values()) v.dispose();
    this.weights.clear();
  }
}
