/**
 * ONNX sequence classifiers (e.g. exports of lvwerra/distilbert-imdb, unitary/toxic-bert) through
 * @huggingface/transformers (onnxruntime-node), loaded only from local folders.
 *
 * We call AutoTokenizer + AutoModelForSequenceClassification directly, not the pipeline, to get the
 * raw logits of every label in index order (newer pipelines sort top_k=None output by score).
 * reward = sign * logits[labelIndex]:
 *   lvwerra/distilbert-imdb: labelIndex 1 (POSITIVE), sign +1   (paper-spec §2.3)
 *   unitary/toxic-bert:      labelIndex 0 (toxic),    sign −1
 * Truncation: both at 512 tokens, as Python `tokenizers` does it (see encode()). The authors' IMDB code sets no truncation, but (distil)BERT has
 * 512 positions, so a longer text would fail there too; rollout texts (64 + 48 GPT-2 tokens) are far
 * shorter, so this only matters for long human reviews.
 * Folder layout: config.json (model_type, id2label), tokenizer.json, tokenizer_config.json and
 * onnx/model.onnx (transformers.js layout) or model.onnx at the top (optimum-cli export layout).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { scoreInBatches, type RewardModel, type ScoreOptions } from './types';

export interface OnnxHead {
  labelIndex: number;
  sign: 1 | -1;
}

export const KNOWN_HEADS: Record<string, OnnxHead> = {
  'lvwerra/distilbert-imdb': { labelIndex: 1, sign: 1 },
  'unitary/toxic-bert': { labelIndex: 0, sign: -1 },
};

/** Infer the head from config.json's id2label: POSITIVE -> +logit, toxic -> −logit. */
export function inferHead(id2label: Record<string, string>, where: string): OnnxHead {
  const entries = Object.entries(id2label).map(([k, v]) => [Number(k), String(v).toLowerCase()] as const);
  const pos = entries.find(([, v]) => v === 'positive' || v === 'pos');
  if (pos) return { labelIndex: pos[0], sign: 1 };
  const tox = entries.find(([, v]) => v === 'toxic' || v === 'toxicity');
  if (tox) return { labelIndex: tox[0], sign: -1 };
  throw new Error(`${where}: cannot infer the reward head from id2label ${JSON.stringify(id2label)}; pass { labelIndex, sign } explicitly`);
}

// transformers.js reads its global `env` while loading; serialise loads so concurrent calls with
// different folders cannot see each other's env.localModelPath.
let loadChain: Promise<unknown> = Promise.resolve();

type TF = typeof import('@huggingface/transformers');
interface IdTensor { data: BigInt64Array; dims: number[] }
/** transformers.js tokenizer called with return_tensor: false: id lists per input name. */
interface Tok { (texts: string[], o: object): Record<string, number[][]>; pad_token_id?: number }
interface Clf { (inputs: Record<string, unknown>): Promise<{ logits: { data: Float32Array; dims: number[] } }>; dispose(): Promise<unknown> }

export class OnnxRewardModel implements RewardModel {
  private constructor(
    readonly name: string,
    readonly head: OnnxHead,
    readonly labels: string[],
    private readonly tokenizer: Tok,
    private readonly model: Clf,
    readonly maxLength: number,
    private readonly T: TF,
    /** The folder's parsed config.json (kit transformer rewards keep their task etc. under "rarlhf"). */
    readonly config: Record<string, unknown> = {},
  ) {}

  /** Load from a local folder. `head` defaults to the known model's or to inferHead(id2label). */
  static async load(dir: string, opts: { name?: string; head?: OnnxHead; maxLength?: number } = {}): Promise<OnnxRewardModel> {
    const abs = path.resolve(dir);
    const cfgFile = path.join(abs, 'config.json');
    if (!fs.existsSync(cfgFile)) throw new Error(`ONNX reward model: ${cfgFile} not found`);
    const config = JSON.parse(fs.readFileSync(cfgFile, 'utf8')) as { id2label?: Record<string, string>; model_type?: string; max_position_embeddings?: number };
    if (!config.model_type) throw new Error(`${cfgFile}: field "model_type" is missing`);
    if (!config.id2label) throw new Error(`${cfgFile}: field "id2label" is missing`);
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) {
      if (!fs.existsSync(path.join(abs, f))) throw new Error(`ONNX reward model: ${path.join(abs, f)} not found`);
    }
    const subfolder = fs.existsSync(path.join(abs, 'onnx', 'model.onnx')) ? 'onnx' : fs.existsSync(path.join(abs, 'model.onnx')) ? '' : null;
    if (subfolder === null) throw new Error(`ONNX reward model: neither ${path.join(abs, 'onnx', 'model.onnx')} nor ${path.join(abs, 'model.onnx')} exists`);
    const labels = Object.keys(config.id2label).sort((a, b) => Number(a) - Number(b)).map((k) => config.id2label![k]);
    const head = opts.head ?? inferHead(config.id2label, cfgFile);
    if (!Number.isInteger(head.labelIndex) || head.labelIndex < 0 || head.labelIndex >= labels.length) {
      throw new Error(`${cfgFile}: labelIndex ${head.labelIndex} out of range for ${labels.length} labels`);
    }
    const run = loadChain.then(async () => {
      const T: TF = await import('@huggingface/transformers');
      T.env.allowRemoteModels = false;
      T.env.allowLocalModels = true;
      T.env.localModelPath = path.dirname(abs) + path.sep;
      const id = path.basename(abs);
      const tokenizer = await T.AutoTokenizer.from_pretrained(id, { local_files_only: true });
      const model = await T.AutoModelForSequenceClassification.from_pretrained(id, { local_files_only: true, dtype: 'fp32', device: 'cpu', subfolder });
      return { tokenizer: tokenizer as unknown as Tok, model: model as unknown as Clf, T };
    });
    loadChain = run.catch(() => undefined);
    const { tokenizer, model, T } = await run;
    // a model with fewer positions than 512 (the kit's transformer reward) truncates at its own length
    const maxLength = opts.maxLength ?? Math.min(512, config.max_position_embeddings ?? 512);
    if (!Number.isInteger(maxLength) || maxLength < 3) throw new Error(`ONNX reward model: maxLength must be an integer >= 3, got ${maxLength}`);
    return new OnnxRewardModel(opts.name ?? path.basename(abs), head, labels, tokenizer, model, maxLength, T, config);
  }

  /**
   * Tokenise, truncate like Python `tokenizers` (truncation=True: keep the first maxLength − 1
   * tokens and the final special token [SEP]), then right-pad into int64 tensors. transformers.js's own truncation cuts
   * after adding special tokens and drops [SEP], which changes the logits of long texts.
   */
  private encode(batch: string[]): Record<string, IdTensor> {
    const enc = this.tokenizer(batch, { padding: false, truncation: false, return_tensor: false });
    const L = this.maxLength;
    const cut = (row: number[]) => (row.length <= L ? row : [...row.slice(0, L - 1), row[row.length - 1]]);
    const rows = Object.fromEntries(Object.entries(enc).map(([k, v]) => [k, v.map(cut)]));
    const t = Math.max(...rows.input_ids.map((r) => r.length));
    const padId = BigInt(this.tokenizer.pad_token_id ?? 0);
    const out: Record<string, IdTensor> = {};
    for (const [name, v] of Object.entries(rows)) {
      const data = new BigInt64Array(batch.length * t).fill(name === 'input_ids' ? padId : 0n); // right padding, mask 0
      v.forEach((r, i) => data.set(r.map(BigInt), i * t));
      out[name] = new this.T.Tensor('int64', data, [batch.length, t]) as unknown as IdTensor;
    }
    return out;
  }

  /** Raw logits [n][numLabels] in label-index order. */
  async logits(texts: string[], opts?: ScoreOptions): Promise<number[][]> {
    const out: number[][] = [];
    await scoreInBatches(this.name, texts, opts, 16, async (batch) => {
      const inputs = this.encode(batch);
      const { logits } = await this.model(inputs);
      const [n, l] = logits.dims;
      if (n !== batch.length || l !== this.labels.length) throw new Error(`${this.name}: logits shape [${logits.dims}] does not match [${batch.length}, ${this.labels.length}]`);
      for (let i = 0; i < n; i++) out.push(Array.from(logits.data.subarray(i * l, (i + 1) * l)));
      return new Array<number>(n).fill(0);
    });
    return out;
  }

  async score(texts: string[], opts?: ScoreOptions): Promise<number[]> {
    const { labelIndex, sign } = this.head;
    return (await this.logits(texts, opts)).map((row) => sign * row[labelIndex]);
  }

  async dispose(): Promise<void> {
    await this.model.dispose();
  }
}
