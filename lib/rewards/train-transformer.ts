/**
 * Training recipes for the transformer kit rewards (transformer.ts), on exactly the rows, held-out
 * rule, validation split and calibration of the linear recipes (train.ts: prepareImdb,
 * prepareToxicity, calibrateImdb, calibrateToxicity). The loss is fit.ts's:
 *   mean_b[ cls_b BCE(z_b, y_b) + regWeight reg_b (z_b - t_b)^2 ]
 * optimised with AdamW (decoupled weight decay), linear warmup then linear decay, gradient
 * clipping at 1, over length-bucketed batches (texts of similar length share a batch, so little
 * compute goes to padding).
 *
 * Default size and why: 2 layers, d 128, 4 heads, FFN 512, 128 tokens. PPO scores prompt +
 * response texts of 64 + 48 GPT-2 tokens (about 120 WordPiece tokens), so 128 positions cover what
 * the reward sees in training; it halves the cost of 256 and keeps one task at ~5-10 min on one core
 * (a training step of 32 x 128 tokens takes ~200-250 ms on the shared 2-core build machine). Long IMDB reviews are
 * truncated to their first 126 tokens, which costs accuracy on full reviews (see docs/reward-fidelity.md).
 */
import { tf } from '../engine';
import { AdamW, clipGradNorm } from '../engine/optim';
import { Rng } from '../engine/rng';
import { dataFile } from '../data/paths';
import { WordPieceTokenizer } from '../text/wordpiece';
import type { BertConfig } from './encoder';
import type { FitReport } from './fit';
import { accuracy, spearman } from './stats';
import { calibrateImdb, calibrateToxicity, prepareImdb, prepareToxicity, type TrainOptions } from './train';
import { TransformerRewardModel } from './transformer';

export interface TransformerHyper {
  layers: number;
  hidden: number;
  heads: number;
  intermediate: number;
  maxLength: number;
  /** hidden (embedding, residual, pooler) dropout; attention dropout is 0 (see archOf) */
  dropout: number;
  epochs: number;
  batchSize: number;
  lr: number;
  warmup: number; // fraction of all steps
  weightDecay: number;
  regWeight: number;
  seed: number;
}

const BASE: TransformerHyper = { layers: 2, hidden: 128, heads: 4, intermediate: 512, maxLength: 128, dropout: 0.1, epochs: 3, batchSize: 32, lr: 1e-3, warmup: 0.06, weightDecay: 0.01, regWeight: 0, seed: 0 };

export const DEFAULT_TRANSFORMER_HYPER: Record<'imdb' | 'toxicity', TransformerHyper> = {
  imdb: { ...BASE },
  // toxicity: fewer, shorter rows (bucketing makes epochs cheap); regression weight as the linear recipe
  toxicity: { ...BASE, epochs: 4, regWeight: 0.1 },
};

/** `--quick`: test-sized (1 layer, d 32, 32 tokens, 400 rows); seconds, numbers not meaningful. */
export const QUICK_TRANSFORMER: { hyper: Partial<TransformerHyper>; limit: number; evalLimit: number } = {
  hyper: { layers: 1, hidden: 32, heads: 2, intermediate: 64, maxLength: 32, epochs: 1, batchSize: 16, lr: 2e-3 },
  limit: 400,
  evalLimit: 300,
};

export interface TransformerTrainOptions extends Omit<TrainOptions, 'hyper'> {
  hyper?: Partial<TransformerHyper>;
  /** vocab.txt of the WordPiece vocabulary (default: <data>/tokenizers/bert-base-uncased/vocab.txt). */
  vocabFile?: string;
}

interface Example {
  ids: number[];
  y?: 0 | 1;
  target?: number;
}

/** Shuffle, then sort by length inside windows of 50 batches, then shuffle the batches. */
function bucketedBatches(examples: readonly Example[], batchSize: number, rng: Rng): Example[][] {
  const order = rng.shuffle(examples.map((_, i) => i));
  const batches: Example[][] = [];
  const window = batchSize * 50;
  for (let s = 0; s < order.length; s += window) {
    const chunk = order.slice(s, s + window).sort((a, b) => examples[a].ids.length - examples[b].ids.length);
    for (let j = 0; j < chunk.length; j += batchSize) batches.push(chunk.slice(j, j + batchSize).map((i) => examples[i]));
  }
  return rng.shuffle(batches);
}

export async function fitTransformer(
  model: TransformerRewardModel,
  examples: readonly Example[],
  h: TransformerHyper,
  log: (m: string) => void,
  afterEpoch?: () => Promise<string>,
): Promise<FitReport> {
  if (examples.length === 0) throw new Error('fitTransformer: no training examples');
  const rng = new Rng(h.seed + 1);
  const vars = model.encoder.trainableVariables();
  const opt = new AdamW({ lr: h.lr, weightDecay: h.weightDecay });
  const stepsPerEpoch = Math.ceil(examples.length / h.batchSize);
  const total = stepsPerEpoch * h.epochs;
  const warm = Math.max(1, Math.round(h.warmup * total));
  const lrAt = (s: number) => h.lr * (s < warm ? (s + 1) / warm : Math.max(0, (total - s) / Math.max(1, total - warm)));
  const t0 = Date.now();
  const epochLoss: number[] = [];
  let steps = 0;
  for (let epoch = 1; epoch <= h.epochs; epoch++) {
    let lossSum = 0;
    for (const batch of bucketedBatches(examples, h.batchSize, rng)) {
      const n = batch.length;
      const m = { cls: new Float32Array(n), y: new Float32Array(n), reg: new Float32Array(n), t: new Float32Array(n) };
      batch.forEach((e, i) => {
        if (e.target !== undefined) [m.reg[i], m.t[i]] = [1, e.target];
        else [m.cls[i], m.y[i]] = [1, e.y!];
      });
      const { ids, mask } = TransformerRewardModel.pack(batch.map((e) => e.ids), model.tokenizer.padId);
      const [cls, y, reg, t] = [m.cls, m.y, m.reg, m.t].map((a) => tf.tensor1d(a));
      const { value, grads } = tf.variableGrads(() => {
        const z = model.encoder.forward(ids, mask, true).reshape([n]);
        const bce = tf.softplus(z).sub(y.mul(z)).mul(cls); // BCE with logits: softplus(z) - y z
        const se = z.sub(t).square().mul(reg).mul(h.regWeight);
        return bce.add(se).mean() as tf.Scalar;
      }, vars);
      const clipped = clipGradNorm(vars.map((v) => grads[v.name]), 1.0);
      opt.lr = lrAt(steps);
      opt.apply(vars, clipped.grads);
      const loss = (await value.data())[0];
      if (!Number.isFinite(loss)) throw new Error(`fitTransformer: loss is ${loss} at step ${steps + 1} (epoch ${epoch}); lower --lr or check the data`);
      lossSum += loss * n;
      tf.dispose([ids, mask, cls, y, reg, t, value, ...Object.values(grads), ...clipped.grads]);
      steps++;
      if (steps % 100 === 0) log(`step ${steps}/${total} loss ${loss.toFixed(4)} lr ${opt.lr.toExponential(2)} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    }
    epochLoss.push(lossSum / examples.length);
    const extra = afterEpoch ? ` ${await afterEpoch()}` : '';
    log(`epoch ${epoch}/${h.epochs} loss ${epochLoss[epoch - 1].toFixed(4)} (${((Date.now() - t0) / 1000).toFixed(1)} s)${extra}`);
  }
  opt.dispose();
  return { epochLoss, seconds: (Date.now() - t0) / 1000, steps };
}

function archOf(h: TransformerHyper): Partial<BertConfig> {
  return {
    num_hidden_layers: h.layers, hidden_size: h.hidden, num_attention_heads: h.heads, intermediate_size: h.intermediate,
    // no dropout on the attention probabilities: on wasm its [B, H, T, T] random mask made a training
    // step ~1.7x slower (measured 390 vs 230 ms at B 32, T 128); hidden dropout and weight decay remain
    max_position_embeddings: h.maxLength, hidden_dropout_prob: h.dropout, attention_probs_dropout_prob: 0,
  };
}

function tokenizerFor(o: TransformerTrainOptions): WordPieceTokenizer {
  return WordPieceTokenizer.fromVocabFile(o.vocabFile ?? dataFile('tokenizers/bert-base-uncased/vocab.txt', o.dataDir));
}

export async function trainImdbTransformer(o: TransformerTrainOptions = {}): Promise<{ model: TransformerRewardModel; fit: FitReport }> {
  const h = { ...DEFAULT_TRANSFORMER_HYPER.imdb, ...o.hyper };
  const log = o.log ?? (() => {});
  const data = await prepareImdb(o.dataDir);
  const train = o.limit ? new Rng(h.seed).shuffle(data.train).slice(0, o.limit) : data.train;
  log(`imdb (transformer ${h.layers}x${h.hidden}, ${h.maxLength} tokens): ${train.length} train / ${data.val.length} validation reviews (excluded: ${data.excluded.reference} reference texts, ${data.excluded.testDuplicates} test duplicates)`);
  const raw = await TransformerRewardModel.create('imdb', tokenizerFor(o), archOf(h), h.seed, 'lvwerra/distilbert-imdb raw POSITIVE logit (affine-calibrated log-odds)');
  const examples: Example[] = train.map((r) => ({ ids: raw.encode(r.text), y: r.label }));
  // with --limit, validate on every k-th row (the rows are sorted by label: a prefix is one class)
  const k = o.limit ? Math.max(1, Math.floor(data.val.length / Math.max(200, Math.round(o.limit / 5)))) : 1;
  const val = data.val.filter((_, i) => i % k === 0);
  const fit = await fitTransformer(raw, examples, h, log, async () => `val acc ${accuracy(await raw.rawScores(val.map((r) => r.text)), val.map((r) => r.label)).toFixed(4)}`);
  const { calibration, z } = await calibrateImdb((t) => raw.rawScores(t), data.reference, o.calibration);
  const model = await raw.calibrated(calibration);
  raw.dispose();
  model.meta.training = { arch: 'transformer', ...h, trainRows: train.length, valRows: data.val.length, excluded: data.excluded, seconds: fit.seconds, steps: fit.steps, epochLoss: fit.epochLoss, zOnCalibrationRows: { n: z.length } };
  return { model, fit };
}

export async function trainToxicityTransformer(o: TransformerTrainOptions = {}): Promise<{ model: TransformerRewardModel; fit: FitReport }> {
  const h = { ...DEFAULT_TRANSFORMER_HYPER.toxicity, ...o.hyper };
  const log = o.log ?? (() => {});
  const data = await prepareToxicity(o.dataDir);
  const train = o.limit ? new Rng(h.seed).shuffle(data.train).slice(0, o.limit) : data.train;
  log(`toxicity (transformer ${h.layers}x${h.hidden}, ${h.maxLength} tokens): ${train.length} train / ${data.val.length} validation rows; ${data.heldOut} held out for evaluation, ${data.ambiguous} ambiguous dropped`);
  const raw = await TransformerRewardModel.create('toxicity', tokenizerFor(o), archOf(h), h.seed, 'unitary/toxic-bert reward = -logit(toxic)');
  // toxic-bert reward where the authors computed it; else P(toxic) = sigmoid(-z), i.e. y = non-toxic
  const examples: Example[] = train.map((r) => (r.reward !== undefined ? { ids: raw.encode(r.text), target: r.reward } : { ids: raw.encode(r.text), y: r.toxic === 1 ? 0 : 1 }));
  const fit = await fitTransformer(raw, examples, h, log, async () => {
    const z = await raw.rawScores(data.val.map((r) => r.text));
    const withRef = data.val.map((r, i) => [z[i], r.reward] as const).filter((p) => p[1] !== undefined);
    const sp = withRef.length >= 2 ? spearman(withRef.map((p) => p[0]), withRef.map((p) => p[1]!)).toFixed(4) : 'n/a';
    return `val acc ${accuracy(z, data.val.map((r) => 1 - r.toxic)).toFixed(4)} val Spearman vs toxic-bert ${sp} (n=${withRef.length})`;
  });
  const calibration = await calibrateToxicity((t) => raw.rawScores(t), data.val, train, o.calibration);
  const model = await raw.calibrated(calibration);
  raw.dispose();
  model.meta.training = { arch: 'transformer', ...h, trainRows: train.length, valRows: data.val.length, heldOutRows: data.heldOut, ambiguousRows: data.ambiguous, seconds: fit.seconds, steps: fit.steps, epochLoss: fit.epochLoss, heldOutRule: 'isRewardTrainRow(text): FNV-1a(text) even (lib/rewards/heldout.ts)' };
  return { model, fit };
}

