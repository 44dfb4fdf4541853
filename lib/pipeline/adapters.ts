/**
 * The few calls the demo and repro pipelines make into the other modules (models, rl, rewards),
 * gathered in one file so the orchestration reads as the paper's protocol and the glue is in one
 * place.
 */
import { tf } from '../engine';
import { Rng } from '../engine/rng';
import { AdamW } from '../engine/optim';
import { GPT2LMHeadModel, type GPT2Config } from '../models/gpt2';
import { lmLoss } from '../models/generate';
import { loadCheckpoint, saveCheckpoint } from '../models/checkpoint';
import { GPT2Tokenizer } from '../text/gpt2-tokenizer';

export interface TinyModelSpec { n_layer: number; n_embd: number; n_head: number; n_positions: number; dropout: number }

export function tinyGPT2Config(spec: TinyModelSpec, tokenizer: GPT2Tokenizer): Partial<GPT2Config> {
  return {
    vocab_size: tokenizer.vocabSize, n_positions: spec.n_positions, n_embd: spec.n_embd, n_layer: spec.n_layer, n_head: spec.n_head,
    resid_pdrop: spec.dropout, embd_pdrop: spec.dropout, attn_pdrop: spec.dropout,
    bos_token_id: tokenizer.bosTokenId, eos_token_id: tokenizer.eosTokenId,
  };
}

/** HF-layout checkpoint folder (lib/models/checkpoint.ts): config.json, model.safetensors, tokenizer files. */
export function saveLM(model: GPT2LMHeadModel, tokenizer: GPT2Tokenizer, dir: string, extra?: Record<string, unknown>): void {
  saveCheckpoint(dir, { config: model.config, weights: new Map(model.namedWeights()), tokenizer, extra });
}

/** Load the LM of a checkpoint (a PPO checkpoint's value head is dropped); its tokenizer is required. */
export function loadLM(dir: string): { model: GPT2LMHeadModel; tokenizer: GPT2Tokenizer } {
  const ck = loadCheckpoint(dir);
  if (!ck.tokenizer) throw new Error(`${dir}: no tokenizer files (vocab.json + merges.txt or tokenizer.json) next to the weights`);
  const model = new GPT2LMHeadModel(ck.config, { init: false });
  const lmWeights = new Map([...ck.weights].filter(([n]) => !n.startsWith('v_head.')));
  model.loadWeights(lmWeights, { source: dir });
  for (const t of ck.weights.values()) t.dispose();
  return { model, tokenizer: ck.tokenizer };
}

export interface LMTrainOptions {
  epochs: number;
  batchSize: number;
  lr: number;
  /** sequences are cut to this many tokens (the paper's SFT max_seq_length 64) */
  maxLength: number;
  seed: number;
  /** called after every optimizer step */
  onStep?: (step: number, totalSteps: number, loss: number) => void;
}

/**
 * Causal-LM training on token sequences (each ends with EOS): shuffled right-padded batches,
 * masked next-token cross-entropy, Adam. Returns the per-step losses.
 */
export function trainCausalLM(model: GPT2LMHeadModel, seqs: readonly number[][], padId: number, o: LMTrainOptions): number[] {
  const rng = new Rng(o.seed);
  const opt = new AdamW({ lr: o.lr });
  const vars = model.trainableVariables();
  const perEpoch = Math.ceil(seqs.length / o.batchSize);
  const total = perEpoch * o.epochs;
  const losses: number[] = [];
  try {
    for (let e = 0; e < o.epochs; e++) {
      const order = rng.shuffle(seqs.map((_, i) => i));
      for (let b = 0; b < perEpoch; b++) {
        const batch = order.slice(b * o.batchSize, (b + 1) * o.batchSize).map((i) => seqs[i].slice(0, o.maxLength));
        const T = Math.max(...batch.map((s) => s.length));
        const ids = batch.map((s) => [...s, ...new Array<number>(T - s.length).fill(padId)]);
        const mask = batch.map((s) => [...new Array<number>(s.length).fill(1), ...new Array<number>(T - s.length).fill(0)]);
        const inputIds = tf.tensor2d(ids, [batch.length, T], 'int32');
        const attentionMask = tf.tensor2d(mask, [batch.length, T], 'int32');
        const { value, grads } = tf.variableGrads(() => lmLoss(model, inputIds, attentionMask, { training: true, rng }), vars);
        opt.apply(vars, vars.map((v) => grads[v.name]));
        const loss = value.dataSync()[0];
        tf.dispose([value, inputIds, attentionMask, ...Object.values(grads)]);
        losses.push(loss);
        o.onStep?.(losses.length, total, loss);
      }
    }
  } finally {
    opt.dispose();
  }
  return losses;
}
