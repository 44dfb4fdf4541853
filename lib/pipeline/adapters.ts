/**
 * The few calls the demo and repro pipelines make into the other modules (models, rl, rewards),
 * gathered in one file so the orchestration reads as the paper's protocol and the glue is in one
 * place.
 */
import { GPT2LMHeadModel, type GPT2Config } from '../models/gpt2';
import { trainSFT } from '../rl/sft';
import { saveCheckpoint } from '../models/checkpoint';
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

export interface LMTrainOptions {
  epochs: number;
  batchSize: number;
  lr: number;
  /** texts are cut to this many tokens (the paper's SFT max_seq_length 64) */
  maxLength: number;
  seed: number;
  /** append <|endoftext|> to every text so short documents teach the model to stop */
  appendEos?: boolean;
  /** called after every optimizer step */
  onStep?: (step: number, loss: number) => void;
}

/**
 * Causal-LM training of `model` on `texts` with the kit's SFT trainer (lib/rl/sft.ts: HF Trainer
 * semantics, AdamW, linear decay, grad clipping 1.0, 2% held-out eval loss). Used for the
 * "pretraining" stand-in and for SFT. Writes <outDir>/metrics.jsonl, summary.json and the
 * checkpoint <outDir>/checkpoints/final.
 */
export async function trainCausalLM(model: GPT2LMHeadModel, tokenizer: GPT2Tokenizer, texts: readonly string[], outDir: string, o: LMTrainOptions): Promise<Record<string, unknown>> {
  const eos = o.appendEos ? tokenizer.eosToken : '';
  const r = await trainSFT(
    { learning_rate: o.lr, batch_size: o.batchSize, grad_accum: 1, epochs: o.epochs, max_seq_length: o.maxLength, weight_decay: 0, max_grad_norm: 1.0, eval_fraction: 0.02, seed: o.seed, save_every: null },
    { model, tokenizer, texts: texts.map((t) => t + eos), outDir, progress: false, onStep: (rec) => o.onStep?.(rec.step, rec.loss) },
  );
  return r.summary;
}

/** Number of optimizer steps trainCausalLM will take (for progress bars): 2% of texts are held out. */
export function causalLMSteps(nTexts: number, o: Pick<LMTrainOptions, 'batchSize' | 'epochs'>): number {
  const nTrain = nTexts - Math.max(1, Math.round(nTexts * 0.02));
  return Math.ceil(nTrain / o.batchSize) * o.epochs;
}
