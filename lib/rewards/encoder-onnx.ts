/**
 * ONNX export of BertClassifier (encoder.ts), built node by node with onnx-proto as tiny.ts builds
 * its test classifiers, so the kit's transformer reward is scored in PPO through the same
 * transformers.js / onnxruntime path (onnx.ts) an export of distilbert-imdb would take.
 *
 * Graph (opset 17, float32; inputs int64 [batch, seq]): input_ids, attention_mask, token_type_ids.
 *   x = LN(E[ids] + P[0:seq] + TT[type_ids])
 *   per layer (post-LN): x = LN(x + Attn(x)); x = LN(x + W2 gelu_tanh(W1 x))
 *     Attn: softmax(Q K^T / sqrt(dh) + (1 - mask) * -1e9) V, heads via Reshape/Transpose
 *   logits = tanh(x[:, 0] Wp + bp) Wc + bc, then Clip when the head has a clip range.
 * LayerNormalization is the opset-17 op; GELU is its tanh decomposition (the engine's gelu_new),
 * so both sides compute the same function.
 */
import { onnx } from 'onnx-proto';
import type { BertClassifier } from './encoder';

const F = onnx.TensorProto.DataType.FLOAT;
const I64 = onnx.TensorProto.DataType.INT64;
const INT = onnx.AttributeProto.AttributeType.INT;
const FLOAT_ATTR = onnx.AttributeProto.AttributeType.FLOAT;
const INTS = onnx.AttributeProto.AttributeType.INTS;

class GraphBuilder {
  readonly nodes: onnx.INodeProto[] = [];
  readonly initializers: onnx.ITensorProto[] = [];
  private n = 0;

  floats(name: string, dims: number[], data: Float32Array): string {
    this.initializers.push({ name, dataType: F, dims, rawData: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) });
    return name;
  }
  scalar(name: string, v: number): string {
    return this.floats(name, [], Float32Array.of(v));
  }
  ints(name: string, values: number[], scalar = false): string {
    this.initializers.push({ name, dataType: I64, dims: scalar ? [] : [values.length], int64Data: values });
    return name;
  }
  /** Add a node; returns its (single) output name. */
  op(opType: string, inputs: string[], attribute: onnx.IAttributeProto[] = [], out?: string): string {
    const name = out ?? `${opType.toLowerCase()}_${this.n++}`;
    this.nodes.push({ opType, input: inputs, output: [name], attribute, name });
    return name;
  }
}

const intAttr = (name: string, i: number): onnx.IAttributeProto => ({ name, type: INT, i });
const intsAttr = (name: string, ints: number[]): onnx.IAttributeProto => ({ name, type: INTS, ints });

function valueInfo(name: string, elemType: number, dims: (string | number)[]): onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } } };
}

/** ONNX bytes for a classifier; `clip` bounds every logit (applied after the classifier). */
export async function bertClassifierOnnx(model: BertClassifier, opts: { clip?: [number, number] } = {}): Promise<Uint8Array> {
  const c = model.config;
  const d = c.hidden_size, H = c.num_attention_heads, Dh = d / H;
  const g = new GraphBuilder();
  // initializers in our [in, out] layout = ONNX MatMul's layout; names are the HF names
  for (const [name, v] of model.namedWeights()) g.floats(name, v.shape, (await v.data()) as Float32Array);
  const w = (name: string) => name;
  const ln = (x: string, prefix: string) => g.op('LayerNormalization', [x, w(prefix + '.weight'), w(prefix + '.bias')], [{ name: 'axis', type: INT, i: -1 }, { name: 'epsilon', type: FLOAT_ATTR, f: c.layer_norm_eps }]);
  const dense = (x: string, prefix: string) => g.op('Add', [g.op('MatMul', [x, w(prefix + '.weight')]), w(prefix + '.bias')]);

  // embeddings
  const e = 'bert.embeddings.';
  const seqLen = g.op('Slice', [g.op('Shape', ['input_ids']), g.ints('one_1d', [1]), g.ints('two_1d', [2]), g.ints('zero_1d', [0])]);
  const pos = g.op('Slice', [w(e + 'position_embeddings.weight'), 'zero_1d', seqLen, 'zero_1d']);
  const emb = g.op('Add', [g.op('Add', [g.op('Gather', [w(e + 'word_embeddings.weight'), 'input_ids']), pos]), g.op('Gather', [w(e + 'token_type_embeddings.weight'), 'token_type_ids'])]);
  let x = ln(emb, e + 'LayerNorm');

  // additive padding bias [B, 1, 1, T]
  const maskf = g.op('Cast', ['attention_mask'], [intAttr('to', F)]);
  const bias = g.op('Unsqueeze', [g.op('Mul', [g.op('Sub', [g.scalar('one', 1), maskf]), g.scalar('neg', -1e9)]), g.ints('axes_1_2', [1, 2])]);
  const headShape = g.ints('head_shape', [0, 0, H, Dh]);
  const flatShape = g.ints('flat_shape', [0, 0, d]);
  const scale = g.scalar('att_scale', 1 / Math.sqrt(Dh));
  const [half, geluC, geluK] = [g.scalar('half', 0.5), g.scalar('gelu_c', Math.sqrt(2 / Math.PI)), g.scalar('gelu_k', 0.044715)];

  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `bert.encoder.layer.${i}.`;
    const split = (name: string, perm: number[]) => g.op('Transpose', [g.op('Reshape', [dense(x, p + `attention.self.${name}`), headShape])], [intsAttr('perm', perm)]);
    const q = split('query', [0, 2, 1, 3]);
    const kT = split('key', [0, 2, 3, 1]);
    const v = split('value', [0, 2, 1, 3]);
    const scores = g.op('Add', [g.op('Mul', [g.op('MatMul', [q, kT]), scale]), bias]);
    const probs = g.op('Softmax', [scores], [intAttr('axis', -1)]);
    const ctx = g.op('Reshape', [g.op('Transpose', [g.op('MatMul', [probs, v])], [intsAttr('perm', [0, 2, 1, 3])]), flatShape]);
    x = ln(g.op('Add', [x, dense(ctx, p + 'attention.output.dense')]), p + 'attention.output.LayerNorm');
    // gelu_new(h) = 0.5 h (1 + tanh(sqrt(2/pi) (h + 0.044715 h^3)))
    const h = dense(x, p + 'intermediate.dense');
    const cube = g.op('Mul', [h, g.op('Mul', [h, h])]);
    const t = g.op('Tanh', [g.op('Mul', [g.op('Add', [h, g.op('Mul', [cube, geluK])]), geluC])]);
    const gelu = g.op('Mul', [g.op('Mul', [h, half]), g.op('Add', [t, 'one'])]);
    x = ln(g.op('Add', [x, dense(gelu, p + 'output.dense')]), p + 'output.LayerNorm');
  }

  const cls = g.op('Gather', [x, g.ints('cls_index', [0], true)], [intAttr('axis', 1)]);
  const pooled = g.op('Tanh', [dense(cls, 'bert.pooler.dense')]);
  const raw = dense(pooled, 'classifier');
  if (opts.clip) g.op('Clip', [raw, g.scalar('clip_lo', opts.clip[0]), g.scalar('clip_hi', opts.clip[1])], [], 'logits');
  else g.op('Identity', [raw], [], 'logits');

  const ids = (name: string) => valueInfo(name, I64, ['batch_size', 'sequence_length']);
  const m = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'rarlhf',
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'bert_sequence_classifier',
      node: g.nodes,
      initializer: g.initializers,
      input: [ids('input_ids'), ids('attention_mask'), ids('token_type_ids')],
      output: [valueInfo('logits', F, ['batch_size', c.num_labels])],
    },
  });
  return onnx.ModelProto.encode(m).finish();
}
