/**
 * Kit-trained reward models: hashed unigram+bigram features -> one linear layer in TensorFlow.js.
 * z = w · x + b is the model's raw output; the reward is `scale * z + shift` (calibration stored
 * in the config), on the scale of the reward model it stands in for:
 *  - task "imdb": z = log-odds(positive); reward ≈ lvwerra/distilbert-imdb raw POSITIVE logit.
 *  - task "toxicity": z is trained directly on unitary/toxic-bert's reward −logit(toxic)
 *    (regression where the data has it; elsewhere P(toxic) = sigmoid(−z), toxic-bert's own sigmoid head).
 * Folder layout: config.json + model.safetensors ("weight" [2^hashBits], "bias" [1]).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initEngine, tf } from '../engine';
import { featurize, packBatch, type FeatureConfig, type SparseRow } from './features';
import { scoreInBatches, type RewardModel, type ScoreOptions } from './types';
import { readSafetensors, writeSafetensors, type HostTensor } from '../models/safetensors';

export const KIT_FORMAT = 'rarlhf-kit-reward';

export interface KitRewardConfig {
  format: typeof KIT_FORMAT;
  version: 1;
  name: string;
  task: 'imdb' | 'toxicity';
  features: FeatureConfig;
  /** reward = scale * z + shift, then clipped to `clip` when given. */
  calibration: { scale: number; shift: number; method: string; clip?: [number, number] };
  /** What the reward approximates, in words. */
  rewardScale: string;
  training?: Record<string, unknown>;
  metrics?: Record<string, unknown>;
}

/** A trainable 1-D variable; tidy disposes the temporary initial tensor (variables survive tidy). */
function variable1d(values: Float32Array): tf.Variable<tf.Rank.R1> {
  return tf.tidy(() => tf.variable(tf.tensor1d(values), true)) as tf.Variable<tf.Rank.R1>;
}

export class KitRewardModel implements RewardModel {
  readonly name: string;
  private constructor(
    public config: KitRewardConfig,
    readonly weight: tf.Variable<tf.Rank.R1>,
    readonly bias: tf.Variable<tf.Rank.R1>,
  ) {
    this.name = config.name;
  }

  /** A zero-initialised model (a convex objective needs no random init). */
  static async create(config: KitRewardConfig): Promise<KitRewardModel> {
    await initEngine({ quiet: true });
    const d = 2 ** config.features.hashBits;
    return new KitRewardModel(config, variable1d(new Float32Array(d)), variable1d(new Float32Array(1)));
  }

  featurize(text: string): SparseRow {
    return featurize(text, this.config.features);
  }

  /** z for a batch of sparse rows, as a differentiable tensor [B] (gather's gradient is a scatter-add). */
  logits(rows: readonly SparseRow[]): tf.Tensor1D {
    const { idx, val, k } = packBatch(rows);
    return tf.tidy(() => {
      const w = tf.gather(this.weight, tf.tensor1d(idx, 'int32')).reshape([rows.length, k]);
      return w.mul(tf.tensor2d(val, [rows.length, k])).sum(1).add(this.bias) as tf.Tensor1D;
    });
  }

  /** Raw z for texts (no calibration). */
  async rawScores(texts: string[], opts?: ScoreOptions): Promise<number[]> {
    return scoreInBatches(this.name, texts, opts, 256, async (batch) => {
      const z = this.logits(batch.map((t) => this.featurize(t)));
      const out = Array.from(await z.data());
      z.dispose();
      return out;
    });
  }

  async score(texts: string[], opts?: ScoreOptions): Promise<number[]> {
    const { scale, shift, clip } = this.config.calibration;
    const [lo, hi] = clip ?? [-Infinity, Infinity];
    return (await this.rawScores(texts, opts)).map((z) => Math.min(hi, Math.max(lo, scale * z + shift)));
  }

  async save(dir: string): Promise<void> {
    fs.mkdirSync(dir, { recursive: true });
    const weight = (await this.weight.data()) as Float32Array;
    const bias = (await this.bias.data()) as Float32Array;
    writeSafetensors(path.join(dir, 'model.safetensors'), new Map<string, HostTensor>([
      ['weight', { dtype: 'F32', shape: [weight.length], values: weight }],
      ['bias', { dtype: 'F32', shape: [1], values: bias }],
    ]), { format: KIT_FORMAT });
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(this.config, null, 2) + '\n');
  }

  static async load(dir: string): Promise<KitRewardModel> {
    const cfgFile = path.join(dir, 'config.json');
    if (!fs.existsSync(cfgFile)) throw new Error(`kit reward model: ${cfgFile} not found`);
    const config = JSON.parse(fs.readFileSync(cfgFile, 'utf8')) as KitRewardConfig;
    if (config.format !== KIT_FORMAT) throw new Error(`${cfgFile}: field "format" is ${JSON.stringify(config.format)}, expected "${KIT_FORMAT}"`);
    const bits = config.features?.hashBits;
    if (!Number.isInteger(bits) || bits < 1 || bits > 26) throw new Error(`${cfgFile}: field "features.hashBits" must be an integer in 1..26, got ${bits}`);
    for (const f of ['scale', 'shift'] as const) {
      if (!Number.isFinite(config.calibration?.[f])) throw new Error(`${cfgFile}: field "calibration.${f}" must be a finite number`);
    }
    const clip = config.calibration.clip;
    if (clip !== undefined && !(Array.isArray(clip) && clip.length === 2 && clip[0] < clip[1])) {
      throw new Error(`${cfgFile}: field "calibration.clip" must be [low, high] with low < high, got ${JSON.stringify(clip)}`);
    }
    const wFile = path.join(dir, 'model.safetensors');
    const t = readSafetensors(wFile).tensors;
    const d = 2 ** bits;
    const weight = t.get('weight');
    const bias = t.get('bias');
    if (!weight || weight.dtype !== 'F32' || weight.values.length !== d) throw new Error(`${wFile}: tensor "weight" must be F32 with ${d} values (2^hashBits), got ${weight?.dtype} x ${weight?.values.length}`);
    if (!bias || bias.dtype !== 'F32' || bias.values.length !== 1) throw new Error(`${wFile}: tensor "bias" must be F32 with 1 value`);
    await initEngine({ quiet: true });
    return new KitRewardModel(config, variable1d(weight.values as Float32Array), variable1d(bias.values as Float32Array));
  }

  dispose(): void {
    this.weight.dispose();
    this.bias.dispose();
  }
}
