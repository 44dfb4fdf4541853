/**
 * Builds a tiny BERT-style ONNX sequence classifier folder that transformers.js loads exactly like
 * a real export (config.json, tokenizer.json, tokenizer_config.json, onnx/model.onnx). Used by the
 * tests (scores must equal logits computed by hand from the known weights) and by the benchmark.
 *
 * Graph (opset 13): e = E[input_ids] (+ T[token_type_ids] for model_type "bert");
 * h = Σ_t mask_t e_t / Σ_t mask_t (masked mean, so padding never changes a row's logits);
 * logits = h W + b.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import { Rng } from '../engine/rng';

export interface TinyClassifierWeights {
  vocab: string[];
  hidden: number;
  labels: string[];
  /** [V, H] row-major. */
  embedding: Float32Array;
  /** [2, H] token-type embedding (model_type "bert" only). */
  typeEmbedding: Float32Array | null;
  /** [H, L] row-major. */
  w: Float32Array;
  /** [L]. */
  b: Float32Array;
}

export interface TinyClassifierOptions {
  modelType: 'bert' | 'distilbert';
  labels: string[];
  /** WordPiece vocabulary, one token per line (e.g. bert-base-uncased vocab.txt). */
  vocab: string[];
  hidden?: number;
  seed?: number;
}

/** A HF `tokenizers` tokenizer.json for an uncased BERT WordPiece vocabulary. */
export function bertTokenizerJson(vocab: readonly string[]): object {
  const ids: Record<string, number> = {};
  vocab.forEach((t, i) => (ids[t] = i));
  for (const t of ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']) if (!(t in ids)) throw new Error(`bertTokenizerJson: vocabulary lacks ${t}`);
  const special = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].map((t) => ({
    id: ids[t], content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
  }));
  const tok = (t: string) => ({ SpecialToken: { id: t, type_id: 0 } });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: special,
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [tok('[CLS]'), { Sequence: { id: 'A', type_id: 0 } }, tok('[SEP]')],
      pair: [tok('[CLS]'), { Sequence: { id: 'A', type_id: 0 } }, tok('[SEP]'), { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [ids['[CLS]']], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [ids['[SEP]']], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: ids },
  };
}

const F = onnx.TensorProto.DataType.FLOAT;
const I64 = onnx.TensorProto.DataType.INT64;

function floatInit(name: string, dims: number[], data: Float32Array): onnx.ITensorProto {
  return { name, dataType: F, dims, rawData: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) };
}
function int64Init(name: string, values: number[]): onnx.ITensorProto {
  return { name, dataType: I64, dims: [values.length], int64Data: values };
}
function valueInfo(name: string, elemType: number, dims: (string | number)[]): onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } },
  };
}

/** The ONNX model bytes for the weights. */
export function tinyClassifierOnnx(wts: TinyClassifierWeights): Uint8Array {
  const V = wts.vocab.length;
  const H = wts.hidden;
  const L = wts.labels.length;
  const withTypes = wts.typeEmbedding !== null;
  const node = (opType: string, input: string[], output: string[], attribute: onnx.IAttributeProto[] = []): onnx.INodeProto => ({ opType, input, output, attribute, name: output[0] });
  const nodes: onnx.INodeProto[] = [node('Gather', ['E', 'input_ids'], ['tok'])];
  if (withTypes) nodes.push(node('Gather', ['TE', 'token_type_ids'], ['typ']), node('Add', ['tok', 'typ'], ['emb']));
  nodes.push(
    node('Cast', ['attention_mask'], ['maskf'], [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: F }]),
    node('Unsqueeze', ['maskf', 'axis2'], ['mask3']),
    node('Mul', [withTypes ? 'emb' : 'tok', 'mask3'], ['masked']),
    node('ReduceSum', ['masked', 'axis1'], ['summed'], [{ name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 0 }]),
    node('ReduceSum', ['mask3', 'axis1'], ['count'], [{ name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 0 }]),
    node('Div', ['summed', 'count'], ['pooled']),
    node('MatMul', ['pooled', 'W'], ['proj']),
    node('Add', ['proj', 'B'], ['logits']),
  );
  const initializer = [floatInit('E', [V, H], wts.embedding), floatInit('W', [H, L], wts.w), floatInit('B', [L], wts.b), int64Init('axis1', [1]), int64Init('axis2', [2])];
  if (withTypes) initializer.push(floatInit('TE', [2, H], wts.typeEmbedding!));
  const inputs = [valueInfo('input_ids', I64, ['batch_size', 'sequence_length']), valueInfo('attention_mask', I64, ['batch_size', 'sequence_length'])];
  if (withTypes) inputs.push(valueInfo('token_type_ids', I64, ['batch_size', 'sequence_length']));
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'rarlhf-tiny',
    opsetImport: [{ domain: '', version: 13 }],
    graph: { name: 'tiny_classifier', node: nodes, initializer, input: inputs, output: [valueInfo('logits', F, ['batch_size', L])] },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** Random small weights (seeded) for a vocabulary and label set. */
export function tinyClassifierWeights(opts: TinyClassifierOptions): TinyClassifierWeights {
  const H = opts.hidden ?? 4;
  const L = opts.labels.length;
  const rng = new Rng(opts.seed ?? 0);
  const fill = (n: number, s: number) => Float32Array.from({ length: n }, () => s * rng.normal());
  return {
    vocab: opts.vocab,
    hidden: H,
    labels: opts.labels,
    embedding: fill(opts.vocab.length * H, 1),
    typeEmbedding: opts.modelType === 'bert' ? fill(2 * H, 0.5) : null,
    w: fill(H * L, 1),
    b: fill(L, 0.5),
  };
}

/** Write the folder; returns the weights so callers can compute the expected logits. */
export function writeTinyClassifier(dir: string, opts: TinyClassifierOptions, weights?: TinyClassifierWeights): TinyClassifierWeights {
  const wts = weights ?? tinyClassifierWeights(opts);
  fs.mkdirSync(path.join(dir, 'onnx'), { recursive: true });
  const id2label: Record<string, string> = {};
  const label2id: Record<string, number> = {};
  opts.labels.forEach((l, i) => {
    id2label[String(i)] = l;
    label2id[l] = i;
  });
  const arch = opts.modelType === 'bert' ? 'BertForSequenceClassification' : 'DistilBertForSequenceClassification';
  const config = {
    _comment: 'tiny test classifier built by lib/rewards/tiny.ts (masked-mean embedding + linear); not a real BERT',
    architectures: [arch],
    model_type: opts.modelType,
    id2label,
    label2id,
    vocab_size: opts.vocab.length,
    hidden_size: wts.hidden,
    max_position_embeddings: 512,
    problem_type: opts.modelType === 'bert' ? 'multi_label_classification' : 'single_label_classification',
  };
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(bertTokenizerJson(opts.vocab)));
  fs.writeFileSync(
    path.join(dir, 'tokenizer_config.json'),
    JSON.stringify({
      tokenizer_class: opts.modelType === 'bert' ? 'BertTokenizer' : 'DistilBertTokenizer',
      do_lower_case: true, model_max_length: 512,
      cls_token: '[CLS]', sep_token: '[SEP]', pad_token: '[PAD]', unk_token: '[UNK]', mask_token: '[MASK]',
    }, null, 2),
  );
  fs.writeFileSync(path.join(dir, 'onnx', 'model.onnx'), tinyClassifierOnnx(wts));
  return wts;
}

/** Read a vocab.txt (one token per line). */
export function readVocabTxt(file: string): string[] {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}
