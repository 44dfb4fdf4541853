// %% [markdown]
// # 02 · The policy: tokenizer, GPT-2, pretraining and SFT
//
// In the paper the policy is GPT-2 (124M parameters), first **supervised fine-tuned (SFT)** on the
// "good" class of the task (positive IMDB reviews), and only then trained with RLHF or RA-RLHF.
// Pretrained GPT-2 weights are not available on this machine, and a 124M model does not train on two
// CPU cores in minutes anyway. So this notebook builds a miniature of the same pipeline:
//
// 1. a byte-level BPE tokenizer trained on IMDB reviews (GPT-2's algorithm, a smaller vocabulary);
// 2. a GPT-2 with the same architecture and parameter names as Hugging Face's, only smaller;
// 3. **pretraining** on reviews of both classes, standing in for GPT-2's web pretraining;
// 4. **SFT** on positive reviews only, as the paper does;
// 5. sample continuations and held-out perplexity before and after SFT.
//
// The checkpoints go to `runs/notebooks/<scale>/` and notebooks 03-05 start from them.
//
// **Scale.** The first code cell reads `RARLHF_NB_SCALE` (`quick` for CI: a few minutes on 2 cores,
// numbers only illustrate the mechanics; `full`: larger model, all reviews, tens of minutes) and
// `RARLHF_DATA_DIR`. The committed outputs come from the `quick` run printed there.

// %%
import * as fs from "fs";
import * as path from "path";
import * as tslab from "tslab";
import { projectRoot, resolveDataDir } from "../dist/lib/data/paths";
import { initEngine } from "../dist/lib/engine";

const SCALE = (process.env.RARLHF_NB_SCALE ?? "quick") as "quick" | "full";
if (SCALE !== "quick" && SCALE !== "full") throw new Error(`RARLHF_NB_SCALE must be quick or full, got ${SCALE}`);
const DATA_DIR = resolveDataDir(process.env.RARLHF_DATA_DIR);
const RUN_DIR = path.join(projectRoot(), "runs", "notebooks", SCALE);
const P = SCALE === "quick"
  ? { bpeTexts: 3000, vocabSize: 2048, model: { n_layer: 2, n_embd: 128, n_head: 4 }, pretrainTexts: 1600, pretrainEpochs: 1, sftTexts: 640, maxLength: 48 }
  : { bpeTexts: 24895, vocabSize: 8192, model: { n_layer: 4, n_embd: 256, n_head: 8 }, pretrainTexts: 24895, pretrainEpochs: 2, sftTexts: 2000, maxLength: 64 };
fs.mkdirSync(RUN_DIR, { recursive: true });
const engine = await initEngine();
console.log({ SCALE, DATA_DIR, RUN_DIR, backend: engine.backend, ...P });

// %% [markdown]
// ## 1 · Tokenizer
//
// GPT-2 splits text into *pre-tokens* (words with their leading space, numbers, punctuation) and then
// merges frequent byte pairs (BPE). The real GPT-2 vocabulary has 50,257 entries; with a model this
// small the embedding and output layers would dominate the compute, so we train the same algorithm
// on IMDB reviews with a much smaller vocabulary (`trainByteLevelBPE`). Both tokenizers are the same
// class, `GPT2Tokenizer`, and both save in Hugging Face's format.

// %%
import { GPT2Tokenizer } from "../dist/lib/text/gpt2-tokenizer";
import { trainByteLevelBPE } from "../dist/lib/text/bpe-trainer";
import { loadImdb } from "../dist/lib/data/imdb";
import { Rng } from "../dist/lib/engine/rng";
import { htmlTable } from "../dist/lib/notebook/html";

const imdbTrain = (await loadImdb("train", { dataDir: DATA_DIR })).rows;
const shuffled = new Rng(0).shuffle(imdbTrain);
const t0 = performance.now();
const { tokenizer, stats: bpeStats } = trainByteLevelBPE(shuffled.slice(0, P.bpeTexts).map((r) => r.text), { vocabSize: P.vocabSize });
console.log(`BPE: ${P.vocabSize} tokens from ${P.bpeTexts} reviews in ${((performance.now() - t0) / 1000).toFixed(1)} s`, bpeStats);

const gpt2Tok = GPT2Tokenizer.fromDir(path.join(DATA_DIR, "tokenizers/gpt2"));
const sentence = "This movie was an absolute masterpiece, although the ending dragged a little.";
tslab.display.html(htmlTable([gpt2Tok, tokenizer].map((tok, i) => ({
  tokenizer: i === 0 ? "GPT-2 (50,257)" : `IMDB BPE (${tok.vocabSize})`,
  tokens: tok.encode(sentence).length,
  pieces: tok.tokenize(sentence).map((p) => p.replace(/Ġ/g, "␣")).join(" | "),
})), { caption: "The same sentence under both tokenizers (␣ marks a leading space)", maxChars: 400 }));

// %% [markdown]
// The task's prompts are token prefixes, so they depend on the tokenizer. `loadTask` accepts one:
// `imdb-mini` keeps the first 16 tokens of each review (the paper's `imdb-gen` keeps 64 GPT-2
// tokens).

// %%
import { loadTask } from "../dist/lib/data/tasks";

const task = await loadTask("imdb-mini", { dataDir: DATA_DIR, tokenizer: tokenizer });
console.log(`${task.spec.name}: ${task.train.length} train prompts, ${task.test.length} test prompts, ${task.sftTexts.length} SFT texts`);
tslab.display.html(htmlTable(task.test.slice(0, 4).map((p) => ({
  class: task.spec.classNames[p.label], "16-token prompt": p.query, tokens: p.queryIds.length,
})), { caption: "imdb-mini test prompts with the IMDB tokenizer" }));

// %% [markdown]
// ## 2 · The policy network
//
// `GPT2LMHeadModel` follows Hugging Face's `GPT2LMHeadModel`: learned position embeddings, pre-norm
// blocks, `gelu_new`, the output layer tied to the token embedding, and HF parameter names (so real
// GPT-2 checkpoints load into it). Here it is tiny. Dropout is off: a model trained for a minute
// underfits, it does not overfit.

// %%
import { GPT2LMHeadModel, gpt2ParameterCount } from "../dist/lib/models/gpt2";

const policy = new GPT2LMHeadModel({
  ...P.model, vocab_size: tokenizer.vocabSize, n_positions: 128,
  resid_pdrop: 0, embd_pdrop: 0, attn_pdrop: 0,
  bos_token_id: tokenizer.bosTokenId, eos_token_id: tokenizer.eosTokenId,
}, { seed: 0 });
tslab.display.html(htmlTable([{
  layers: policy.config.n_layer, "d_model": policy.config.n_embd, heads: policy.config.n_head,
  vocabulary: policy.config.vocab_size, "context": policy.config.n_positions,
  parameters: gpt2ParameterCount(policy.config), "GPT-2 small parameters": gpt2ParameterCount({ ...policy.config, vocab_size: 50257, n_positions: 1024, n_embd: 768, n_layer: 12, n_head: 12 }),
}], { caption: "Policy architecture" }));

// %% [markdown]
// ## 3 · Pretraining (stand-in for GPT-2's web pretraining)
//
// Next-token prediction on reviews of **both** classes, each cut to its first tokens. This gives the
// policy English and movie vocabulary but no preference for a sentiment, like a generic pretrained
// model. The loop is `trainSFT` (lib/rl/sft.ts, described in step 4) with a pretraining learning rate;
// it holds out 2% of the texts to report a loss before and after.

// %%
import { trainSFT } from "../dist/lib/rl/sft";
import { saveModelCheckpoint } from "../dist/lib/models/checkpoint";

let t1 = performance.now();
const pretrain = await trainSFT({
  learning_rate: 2e-3, batch_size: 32, grad_accum: 1, epochs: P.pretrainEpochs, max_seq_length: P.maxLength,
  weight_decay: 0, max_grad_norm: 1.0, eval_fraction: 0.02, seed: 0, save_every: null,
}, { model: policy, tokenizer: tokenizer, texts: shuffled.slice(0, P.pretrainTexts).map((r) => r.text), progress: false });
const pretrainSeconds = (performance.now() - t1) / 1000;
const pretrainLosses = pretrain.steps.map((r) => r.loss);
saveModelCheckpoint(path.join(RUN_DIR, "pretrain"), policy, { tokenizer: tokenizer });
console.log(`pretraining: ${pretrainLosses.length} steps in ${pretrainSeconds.toFixed(0)} s; held-out loss ${pretrain.evalLossBefore?.toFixed(2)} -> ${pretrain.evalLoss?.toFixed(2)} (ln V = ${Math.log(tokenizer.vocabSize).toFixed(2)})`);

// %% [markdown]
// ## 4 · Supervised fine-tuning on positive reviews
//
// The paper's SFT (`sft_auth1.py`, trl `SFTTrainer`) fine-tunes GPT-2 on the **positive** IMDB train
// reviews with the same next-token loss, AdamW without decay on biases and LayerNorms, linear
// learning-rate decay. `trainSFT` (lib/rl/sft.ts) implements that recipe and reports the loss on a
// held-out slice of the SFT texts before and after. The SFT model is both the starting point of
// RLHF / RA-RLHF and their KL reference. We take `imdb-mini`'s SFT settings (batch 32, one epoch,
// 40 tokens) with a 10x learning rate, because the miniature runs only a few dozen steps.

// %%
t1 = performance.now();
const sft = await trainSFT({
  learning_rate: task.spec.sft.learningRate * 10, batch_size: task.spec.sft.batchSize, grad_accum: task.spec.sft.gradAccum,
  epochs: task.spec.sft.epochs, max_seq_length: task.spec.sft.maxSeqLength, weight_decay: 0, max_grad_norm: null,
  eval_fraction: 0.1, seed: task.spec.sft.seed, save_every: null,
}, { model: policy, tokenizer: tokenizer, texts: task.sftTexts.slice(0, P.sftTexts), progress: false });
const sftSeconds = (performance.now() - t1) / 1000;
const sftLosses = sft.steps.map((r) => r.loss);
saveModelCheckpoint(path.join(RUN_DIR, "sft"), policy, { tokenizer: tokenizer });
console.log(`SFT: ${sftLosses.length} steps in ${sftSeconds.toFixed(0)} s; held-out loss ${sft.evalLossBefore?.toFixed(3)} -> ${sft.evalLoss?.toFixed(3)}`);

// %% [markdown]
// Loss per optimizer step. SFT continues from where pretraining stopped, on positive text only.

// %%
import { figureToPng } from "../dist/lib/eval/render";
import type { Figure } from "../dist/lib/eval/figures";

const lossFig: Figure = {
  data: [
    { type: "scatter", mode: "lines", name: "pretraining (all reviews)", x: pretrainLosses.map((_, i) => i + 1), y: pretrainLosses },
    { type: "scatter", mode: "lines", name: "SFT (positive reviews)", x: sftLosses.map((_, i) => pretrainLosses.length + i + 1), y: sftLosses },
  ],
  layout: { title: { text: "Next-token loss" }, width: 750, height: 380, xaxis: { title: { text: "optimizer step" } }, yaxis: { title: { text: "cross-entropy (nats)" } } },
};
const lossPng = await figureToPng(lossFig);
if (lossPng) tslab.display.png(lossPng); else console.log("no Chromium found: figure skipped");

// %% [markdown]
// ## 5 · What changed: samples and perplexity
//
// Sampling follows the paper's test-time setting: plain ancestral sampling (top-k off, top-p 1,
// temperature 1) with a fixed number of new tokens. Below, the same prompts and the same random
// stream for the pretrained and the SFT model.

// %%
import { loadGPT2 } from "../dist/lib/models/checkpoint";
import { generate } from "../dist/lib/models/generate";

const pretrained = loadGPT2(path.join(RUN_DIR, "pretrain")).model;
const prompts = task.test.slice(0, 6);
const sampleOf = (model: GPT2LMHeadModel) =>
  generate(model, prompts.map((p) => p.queryIds), { maxNewTokens: task.spec.maxNewTokens, minNewTokens: task.spec.maxNewTokens, eosTokenId: tokenizer.eosTokenId, seed: 1 })
    .responses.map((r) => tokenizer.decode(r));
const before = sampleOf(pretrained);
const after = sampleOf(policy);
tslab.display.html(htmlTable(prompts.map((p, i) => ({
  class: task.spec.classNames[p.label], prompt: p.query, pretrained: before[i], SFT: after[i],
})), { caption: `Continuations (${task.spec.maxNewTokens} new tokens, sampled)` }));

// %% [markdown]
// Perplexity of **held-out** test reviews (first 200 characters, BOS prepended, mean of per-text
// perplexities as the paper's `evaluate` measurement). A model that has moved towards positive text
// gains more on positive reviews than on negative ones. At `quick` scale a few dozen SFT steps mostly
// continue general language-model training, so both columns drop by about the same amount; the
// class gap needs the `full` run.

// %%
import { perplexity, causalLMLogprobs } from "../dist/lib/eval/perplexity";

const meanPerplexity = async (model: GPT2LMHeadModel, texts: string[]) =>
  (await perplexity(causalLMLogprobs(model), tokenizer, texts, { maxChars: 200, batchSize: 16, bosTokenId: tokenizer.bosTokenId, padTokenId: tokenizer.padTokenId })).meanPerplexity;

const heldOut = (label: 0 | 1) => task.test.filter((p) => p.label === label).slice(0, SCALE === "quick" ? 64 : 128).map((p) => p.text);
const pplRows: Record<string, string | number>[] = [];
for (const [name, model] of [["pretrained", pretrained], ["SFT", policy]] as const) {
  const pos = await meanPerplexity(model, heldOut(1));
  const neg = await meanPerplexity(model, heldOut(0));
  pplRows.push({ model: name, "positive reviews": pos, "negative reviews": neg });
}
tslab.display.html(htmlTable(pplRows, { caption: "Held-out perplexity (lower is better)", digits: 1 }));
// (tslab 1.0 does not rewrite `{ name }` shorthand for names from other cells: write `name: name`.)
fs.writeFileSync(path.join(RUN_DIR, "02-summary.json"), JSON.stringify({ params: P, pretrainSeconds: pretrainSeconds, sftSeconds: sftSeconds, perplexity: pplRows }, null, 2));
pretrained.dispose();
