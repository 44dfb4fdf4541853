/**
 * The kit's transformer reward model: WordPiece (bert-base-uncased vocabulary) -> BertClassifier
 * (encoder.ts) in TensorFlow.js, saved in Hugging Face layout with an ONNX export, so PPO scores it
 * through onnx.ts like an export of distilbert-imdb / toxic-bert:
 *
 *   config.json              BertForSequenceClassification config (model_type "bert", id2label)
 *                            + "rarlhf": task, head, calibration, training, metrics
 *   tokenizer.json, tokenizer_config.json, special_tokens_map.json, vocab.txt
 *   model.safetensors        HF names and layout (loads in transformers' BertForSequenceClassification)
 *   onnx/model.onnx          the same function (encoder-onnx.ts)
 *
 * Training uses one output z ("good" log-odds, as the linear kit model). `calibrated()` folds the
 * affine calibration into the classifier, so the saved logits are already on the original model's scale:
 *   imdb:     logits [NEGATIVE, POSITIVE] = [-r, r], r = scale z + shift  (reward = POSITIVE logit)
 *   toxicity: logits [toxic] = -r, clipped to [-hi, -lo]                  (reward = -logit(toxic))
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initEngine, tf } from '../engine';
import { WordPieceTokenizer } from '../text/wordpiece';
import { readSafetensors, writeSafetensors, type HostTensor } from '../models/safetensors';
import { BertClassifier, bertConfig, type BertConfig } from './encoder';
import { bertClassifierOnnx } from './encoder-onnx';
import { bertTokenizerJson } from './tiny';
import { scoreInBatches, type RewardModel, type ScoreOptions } from './types';
import type { KitRewardConfig } from './trained';

export const TRANSFORMER_FORMAT = 'rarlhf-kit-transformer-reward';

export interface TransformerMeta {
  format: typeof TRANSFORMER_FORMAT;
  version: 1;
  task: 'imdb' | 'toxicity';
  /** Tokens per text including [CLS]/[SEP] (= max_position_embeddings). */
  maxLength: number;
  labels: string[];
  /** reward = sign * logits[labelIndex] (logits already clipped to logitClip). */
  head: { labelIndex: number; sign: 1 | -1 };
  logitClip?: [number, number];
  /** The calibration folded into the classifier (identity while training). */
  calibration: KitRewardConfig['calibration'];
  rewardScale: string;
  training?: Record<string, unknown>;
  metrics?: Record<string, unknown>;
}

/** config.json keys of BertConfig that HF's BertConfig also has (num_labels comes from id2label). */
const HF_KEYS: (keyof BertConfig)[] = ['vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size', 'hidden_act', 'hidden_dropout_prob', 'attention_probs_dropout_prob', 'max_position_embeddings', 'type_vocab_size', 'initializer_range', 'layer_norm_eps', 'pad_token_id'];

export class TransformerRewardModel implements RewardModel {
  readonly name: string;
  constructor(readonly tokenizer: WordPieceTokenizer, readonly encoder: BertClassifier, public meta: TransformerMeta, name?: string) {
    this.name = name ?? `kit-transformer-${meta.task}`;
  }

  /** A fresh model with one raw output z (for training). */
  static async create(task: 'imdb' | 'toxicity', tokenizer: WordPieceTokenizer, arch: Partial<BertConfig>, seed: number, rewardScale: string): Promise<TransformerRewardModel> {
    await initEngine({ quiet: true });
    const cfg = bertConfig({ ...arch, vocab_size: tokenizer.vocab.length, pad_token_id: tokenizer.padId, num_labels: 1 });
    const meta: TransformerMeta = {
      format: TRANSFORMER_FORMAT, version: 1, task, maxLength: cfg.max_position_embeddings, labels: ['z'],
      head: { labelIndex: 0, sign: 1 }, calibration: { scale: 1, shift: 0, method: 'identity' }, rewardScale,
    };
    return new TransformerRewardModel(tokenizer, new BertClassifier(cfg, { seed }), meta);
  }

  encode(text: string): number[] {
    return this.tokenizer.encode(text, this.meta.maxLength);
  }

  /** Right-padded int32 ids and float mask [B, T] for token-id rows. */
  static pack(rows: readonly number[][], padId: number): { ids: tf.Tensor2D; mask: tf.Tensor2D } {
    const T = Math.max(...rows.map((r) => r.length));
    const ids = new Int32Array(rows.length * T).fill(padId);
    const mask = new Float32Array(rows.length * T);
    rows.forEach((r, b) => {
      ids.set(r, b * T);
      mask.fill(1, b * T, b * T + r.length);
    });
    return { ids: tf.tensor2d(ids, [rows.length, T], 'int32'), mask: tf.tensor2d(mask, [rows.length, T]) };
  }

  /** Logits [n][L] from the TF.js forward (clipped like the ONNX graph). */
  async logits(texts: string[], opts?: ScoreOptions): Promise<number[][]> {
    const out: number[][] = [];
    const L = this.encoder.config.num_labels;
    const [lo, hi] = this.meta.logitClip ?? [-Infinity, Infinity];
    await scoreInBatches(this.name, texts, opts, 32, async (batch) => {
      const { ids, mask } = TransformerRewardModel.pack(batch.map((t) => this.encode(t)), this.tokenizer.padId);
      const y = this.encoder.forward(ids, mask);
      const v = (await y.data()) as Float32Array;
      tf.dispose([ids, mask, y]);
      for (let i = 0; i < batch.length; i++) out.push(Array.from(v.subarray(i * L, (i + 1) * L), (x) => Math.min(hi, Math.max(lo, x))));
      return new Array<number>(batch.length).fill(0);
    });
    return out;
  }

  async score(texts: string[], opts?: ScoreOptions): Promise<number[]> {
    const { labelIndex, sign } = this.meta.head;
    return (await this.logits(texts, opts)).map((row) => sign * row[labelIndex]);
  }

  /** Raw z of a training-stage model (one output, identity head). */
  async rawScores(texts: string[], opts?: ScoreOptions): Promise<number[]> {
    if (this.meta.labels.length !== 1 || this.meta.calibration.method !== 'identity') throw new Error(`${this.name}: rawScores needs the training-stage model (one uncalibrated output)`);
    return this.score(texts, opts);
  }

  /** The deployable model: calibration (and clip of the reward) folded into the classifier. */
  async calibrated(cal: KitRewardConfig['calibration']): Promise<TransformerRewardModel> {
    const w = (await this.encoder.namedWeights().get('classifier.weight')!.data()) as Float32Array; // [d, 1]
    const b = (await this.encoder.namedWeights().get('classifier.bias')!.data())[0];
    const d = w.length;
    const cols = this.meta.task === 'imdb' ? [-1, 1] : [-1]; // each label's logit = sign_l * (scale z + shift)
    const weight = new Float32Array(d * cols.length);
    for (let i = 0; i < d; i++) cols.forEach((s, l) => (weight[i * cols.length + l] = s * cal.scale * w[i]));
    const bias = Float32Array.from(cols, (s) => s * (cal.scale * b + cal.shift));
    const imdb = this.meta.task === 'imdb';
    const meta: TransformerMeta = {
      ...this.meta,
      labels: imdb ? ['NEGATIVE', 'POSITIVE'] : ['toxic'],
      head: imdb ? { labelIndex: 1, sign: 1 } : { labelIndex: 0, sign: -1 },
      logitClip: cal.clip ? [-cal.clip[1], -cal.clip[0]] : undefined, // toxicity: reward clip in logit space
      calibration: cal,
    };
    if (imdb && cal.clip) throw new Error('calibrated: a clip range is only supported for the one-label toxicity head');
    return new TransformerRewardModel(this.tokenizer, this.encoder.setClassifier(weight, bias), meta);
  }

  async save(dir: string): Promise<void> {
    fs.mkdirSync(path.join(dir, 'onnx'), { recursive: true });
    const c = this.encoder.config;
    const id2label = Object.fromEntries(this.meta.labels.map((l, i) => [String(i), l]));
    const label2id = Object.fromEntries(this.meta.labels.map((l, i) => [l, i]));
    const hf = Object.fromEntries(HF_KEYS.map((k) => [k, c[k]]));
    const config = {
      architectures: ['BertForSequenceClassification'], model_type: 'bert', ...hf, id2label, label2id,
      problem_type: this.meta.task === 'imdb' ? 'single_label_classification' : 'multi_label_classification',
      position_embedding_type: 'absolute', classifier_dropout: null, rarlhf: this.meta,
    };
    const tensors = new Map<string, HostTensor>();
    for (const [name, t] of await this.encoder.weightsForSave()) tensors.set(name, { dtype: 'F32', ...t });
    writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' }); // transformers requires "pt"
    fs.writeFileSync(path.join(dir, 'onnx', 'model.onnx'), await bertClassifierOnnx(this.encoder, { clip: this.meta.logitClip }));
    fs.writeFileSync(path.join(dir, 'vocab.txt'), this.tokenizer.vocab.join('\n') + '\n');
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(bertTokenizerJson(this.tokenizer.vocab)));
    const special = { cls_token: '[CLS]', sep_token: '[SEP]', pad_token: '[PAD]', unk_token: '[UNK]', mask_token: '[MASK]' };
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ tokenizer_class: 'BertTokenizer', do_lower_case: true, strip_accents: null, tokenize_chinese_chars: true, model_max_length: this.meta.maxLength, ...special }, null, 2) + '\n');
    fs.writeFileSync(path.join(dir, 'special_tokens_map.json'), JSON.stringify(special, null, 2) + '\n');
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n'); // last: a folder with config.json is complete
  }

  /** TF.js load of a saved folder (PPO loads the same folder through ONNX: loadRewardModel). */
  static async load(dir: string): Promise<TransformerRewardModel> {
    const cfgFile = path.join(dir, 'config.json');
    if (!fs.existsSync(cfgFile)) throw new Error(`transformer reward model: ${cfgFile} not found`);
    const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8')) as Record<string, unknown> & { rarlhf?: TransformerMeta };
    const meta = cfg.rarlhf;
    if (!meta || meta.format !== TRANSFORMER_FORMAT) throw new Error(`${cfgFile}: field "rarlhf.format" must be "${TRANSFORMER_FORMAT}", got ${JSON.stringify(meta?.format)}`);
    if (cfg.model_type !== 'bert') throw new Error(`${cfgFile}: field "model_type" must be "bert", got ${JSON.stringify(cfg.model_type)}`);
    if (!Array.isArray(meta.labels) || meta.labels.length < 1) throw new Error(`${cfgFile}: field "rarlhf.labels" must be a non-empty array`);
    const { labelIndex, sign } = meta.head ?? {};
    if (!Number.isInteger(labelIndex) || labelIndex < 0 || labelIndex >= meta.labels.length || (sign !== 1 && sign !== -1)) throw new Error(`${cfgFile}: field "rarlhf.head" must be { labelIndex in 0..${meta.labels.length - 1}, sign 1 | -1 }, got ${JSON.stringify(meta.head)}`);
    const partial: Record<string, unknown> = { num_labels: meta.labels.length };
    for (const k of HF_KEYS) {
      if (cfg[k] === undefined) throw new Error(`${cfgFile}: field "${k}" is missing`);
      partial[k] = cfg[k];
    }
    let bc: BertConfig;
    try {
      bc = bertConfig(partial as unknown as BertConfig);
    } catch (e) {
      throw new Error(`${cfgFile}: ${(e as Error).message}`);
    }
    if (meta.maxLength !== bc.max_position_embeddings) throw new Error(`${cfgFile}: field "rarlhf.maxLength" (${meta.maxLength}) must equal max_position_embeddings (${bc.max_position_embeddings})`);
    const tokenizer = WordPieceTokenizer.fromVocabFile(path.join(dir, 'vocab.txt'));
    if (tokenizer.vocab.length !== bc.vocab_size) throw new Error(`${path.join(dir, 'vocab.txt')}: ${tokenizer.vocab.length} tokens, but config.json vocab_size is ${bc.vocab_size}`);
    const wFile = path.join(dir, 'model.safetensors');
    const host = new Map<string, { shape: number[]; values: Float32Array }>();
    for (const [name, t] of readSafetensors(wFile).tensors) {
      if (!(t.values instanceof Float32Array)) throw new Error(`${wFile}: tensor "${name}" must be floating point, got ${t.dtype}`);
      if (!t.values.every(Number.isFinite)) throw new Error(`${wFile}: tensor "${name}" has NaN or Inf values`);
      host.set(name, { shape: t.shape, values: t.values });
    }
    await initEngine({ quiet: true });
    const enc = new BertClassifier(bc);
    try {
      enc.loadHfWeights(host, wFile);
    } catch (e) {
      enc.dispose();
      throw e;
    }
    return new TransformerRewardModel(tokenizer, enc, meta, path.basename(path.resolve(dir)));
  }

  dispose(): void {
    this.encoder.dispose();
  }
}

/** True when `dir/config.json` is a kit transformer reward folder (cheap check for loaders). */
export function isTransformerRewardConfig(cfg: unknown): cfg is { rarlhf: TransformerMeta } {
  return typeof cfg === 'object' && cfg !== null && (cfg as { rarlhf?: { format?: string } }).rarlhf?.format === TRANSFORMER_FORMAT;
}
