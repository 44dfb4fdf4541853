// %% [markdown]
// # 02 · The policy: tokenizer, GPT-2, pretraining and SFT
//
// In the paper the policy is GPT-2 (124M parameters), first **supervised fine-tuned (SFT)** on the
// "good" class of the task (positive IMDB reviews), and only then trained with RLHF or RA-RLHF.
// Pretrained GPT-2 weights are not available offline, and a 124M model does not train on two CPU
// cores in minutes. So this notebook builds a miniature of the same pipeline:
//
// 1. a byte-level BPE tokenizer (GPT-2's algorithm, a smaller vocabulary);
// 2. a GPT-2 with the same architecture and parameter names as Hugging Face's, only smaller;
// 3. **pretraining** on reviews of both classes, standing in for GPT-2's web pretraining;
// 4. **SFT** on positive reviews only, as the paper does;
// 5. samples and held-out perplexity before and after SFT.
//
// **Scale** (`RARLHF_NB_SCALE`): `teach` (default, what the committed outputs show) uses the offline
// demo's generated reviews: readable text, and a policy that learns it in a minute. `real` and `full`
// run the same cells on real IMDB (`imdb-mini`), where a model this small writes broken English
// (see docs/results/study/ for what the kit measures at that scale). Everything a later notebook
// needs lives in `runs/notebooks/<scale>/`; the data and settings of a scale are one `course`
// object (`lib/notebook/course.ts`).

// %%
import * as path from "path";
import * as tslab from "tslab";
import { initEngine } from "../dist/lib/engine";
import { courseScale, loadCourse, courseCheckpoints } from "../dist/lib/notebook/course";
import { check } from "../dist/lib/notebook/check";
import { showFigure } from "../dist/lib/notebook/show";
import { htmlTable } from "../dist/lib/notebook/html";

const engine = await initEngine();
const course = await loadCourse(courseScale());
console.log({ scale: course.scale, data: course.dataName, runDir: course.runDir, backend: engine.backend });
tslab.display.html(htmlTable([{ ...course.hyper.model, vocabulary: course.hyper.vocabSize, "pretraining texts": course.pretrainTexts.length, "SFT texts (positive)": course.sftTexts.length }],
  { caption: `${course.scale} scale` }));

// %% [markdown]
// ## 1 · Tokenizer
//
// GPT-2 splits text into *pre-tokens* (words with their leading space, numbers, punctuation) and
// merges frequent byte pairs (BPE). The real GPT-2 vocabulary has 50,257 entries; with a model this
// small the embedding and output layers would dominate the compute, so we train the same algorithm
// with a much smaller vocabulary (`trainByteLevelBPE`). Both tokenizers are the same class,
// `GPT2Tokenizer`, and both save in Hugging Face's format.

// %%
import { GPT2Tokenizer } from "../dist/lib/text/gpt2-tokenizer";
import { trainByteLevelBPE } from "../dist/lib/text/bpe-trainer";

const tokenizer = trainByteLevelBPE(course.bpeTexts, { vocabSize: course.hyper.vocabSize }).tokenizer;
const gpt2Tok = GPT2Tokenizer.fromDir(path.join(course.dataDir, "tokenizers/gpt2"));
const sentence = "This movie was an absolute masterpiece, although the ending dragged a little.";
tslab.display.html(htmlTable([gpt2Tok, tokenizer].map((tok, i) => ({
  tokenizer: i === 0 ? "GPT-2 (50,257)" : `trained BPE (${tok.vocabSize})`,
  tokens: tok.encode(sentence).length,
  pieces: tok.tokenize(sentence).map((p) => p.replace(/Ġ/g, "␣")).join(" | "),
})), { caption: "The same sentence under both tokenizers (␣ marks a leading space)", maxChars: 400 }));

// %% [markdown]
// The prompts are what the policy will continue. At `teach` scale a prompt is a review's opening
// sentence, and 10% of the reviews open with a **hostile** sentence: the tail RA-RLHF is meant to
// handle. (`real`: the first 16 tokens of an IMDB review, the `imdb-mini` task.)

// %%
import { coursePrompts } from "../dist/lib/notebook/course";

const prompts = await coursePrompts(course, tokenizer);
const examples = [...prompts.test.filter((p) => !p.hostile).slice(0, 3), ...prompts.test.filter((p) => p.hostile).slice(0, 3)];
tslab.display.html(htmlTable(examples.map((p) => ({ class: course.classNames[p.label], hostile: p.hostile, prompt: p.prompt, tokens: p.ids.length })),
  { caption: `${prompts.train.length} train prompts, ${prompts.test.length} test prompts (${prompts.test.filter((p) => p.hostile).length} hostile)` }));

// %% [markdown]
// ## 2 · The policy network
//
// `GPT2LMHeadModel` follows Hugging Face's `GPT2LMHeadModel`: learned position embeddings, pre-norm
// blocks, `gelu_new`, the output layer tied to the token embedding, and HF parameter names (so real
// GPT-2 checkpoints load into it). Dropout is off: a model trained for a minute underfits, it does
// not overfit.

// %%
import { GPT2LMHeadModel, gpt2ParameterCount } from "../dist/lib/models/gpt2";
import { tinyGPT2Config } from "../dist/lib/pipeline/adapters";

const policy = new GPT2LMHeadModel(tinyGPT2Config({ ...course.hyper.model, dropout: 0 }, tokenizer), { seed: 0 });
tslab.display.html(htmlTable([{
  layers: policy.config.n_layer, d_model: policy.config.n_embd, heads: policy.config.n_head, vocabulary: policy.config.vocab_size, context: policy.config.n_positions,
  parameters: gpt2ParameterCount(policy.config),
  "GPT-2 small parameters": gpt2ParameterCount({ ...policy.config, vocab_size: 50257, n_positions: 1024, n_embd: 768, n_layer: 12, n_head: 12 }),
}], { caption: "Policy architecture" }));

// %% [markdown]
// ## 3 · Pretraining (stand-in for GPT-2's web pretraining)
//
// Next-token prediction on reviews of **both** classes. This gives the policy the language but no
// preference for a sentiment, like a generic pretrained model. `trainCausalLM` is the kit's SFT
// trainer (`lib/rl/sft.ts`: AdamW, linear decay, gradient clipping) with a pretraining learning
// rate; it holds out 2% of the texts and reports their loss before and after, and writes the
// checkpoint and `metrics.jsonl` into the stage folder (the same call the offline demo makes).

// %%
import { trainCausalLM } from "../dist/lib/pipeline/adapters";

const dirs = courseCheckpoints(course);
let t0 = performance.now();
const pretrain = await trainCausalLM(policy, tokenizer, course.pretrainTexts, path.join(course.runDir, "pretrain"),
  { ...course.hyper.pretrain, seed: 0, appendEos: true });
const lnV = Math.log(tokenizer.vocabSize);
console.log(`pretraining: ${pretrain.steps} steps in ${((performance.now() - t0) / 1000).toFixed(0)} s; held-out loss ${Number(pretrain.eval_loss_before).toFixed(2)} -> ${Number(pretrain.eval_loss).toFixed(2)} (uniform guess: ln V = ${lnV.toFixed(2)})`);

// %% [markdown]
// **What you should see:** the held-out loss starts near ln V (an untrained model spreads its
// probability over the whole vocabulary) and ends far below it: at `teach` scale under half.

// %%
check("pretraining learnt the language: held-out loss below ln V / 2", Number(pretrain.eval_loss) < lnV / 2,
  { "loss before": Number(pretrain.eval_loss_before), "loss after": Number(pretrain.eval_loss), "ln V": lnV });

// %% [markdown]
// ## 4 · Supervised fine-tuning on positive reviews
//
// The paper's SFT (`sft_auth1.py`, trl `SFTTrainer`) fine-tunes GPT-2 on the **positive** train
// reviews with the same next-token loss. The SFT model is both the starting point of RLHF /
// RA-RLHF and their KL reference. It starts from the pretrained checkpoint.

// %%
import { AutoModelForCausalLM } from "../dist/lib/models/pretrained";

// the one loading verb: a checkpoint folder (or a Hugging Face id) -> model (+ its tokenizer)
const sftModel = (await AutoModelForCausalLM.fromPretrained(dirs.gpt2)).model;
t0 = performance.now();
const sft = await trainCausalLM(sftModel, tokenizer, course.sftTexts, path.join(course.runDir, "sft"),
  { ...course.hyper.sft, seed: 0, appendEos: true });
console.log(`SFT: ${sft.steps} steps in ${((performance.now() - t0) / 1000).toFixed(0)} s; held-out loss ${Number(sft.eval_loss_before).toFixed(3)} -> ${Number(sft.eval_loss).toFixed(3)}`);

// %% [markdown]
// Loss per optimizer step. SFT continues from where pretraining stopped, on positive text only.

// %%
import { readMetricsJsonl } from "../dist/lib/eval/figures";

const lossOf = (stage: string) => readMetricsJsonl(path.join(course.runDir, stage, "metrics.jsonl")).filter((r) => typeof r.loss === "number").map((r) => Number(r.loss));
const pretrainLoss = lossOf("pretrain"), sftLoss = lossOf("sft");
await showFigure(tslab.display, {
  data: [
    { type: "scatter", mode: "lines", name: "pretraining (all reviews)", x: pretrainLoss.map((_, i) => i + 1), y: pretrainLoss },
    { type: "scatter", mode: "lines", name: "SFT (positive reviews)", x: sftLoss.map((_, i) => pretrainLoss.length + i + 1), y: sftLoss },
  ],
  layout: { title: { text: "Next-token loss" }, font: { size: 15 }, width: 800, height: 400, xaxis: { title: { text: "optimizer step" } }, yaxis: { title: { text: "cross-entropy (nats)" } } },
});

// %% [markdown]
// ## 5 · What changed: samples and perplexity
//
// Sampling follows the paper's test-time setting: plain ancestral sampling (top-k off, top-p 1,
// temperature 1) with a fixed number of new tokens. The same prompts and random stream for both.

// %%
import { generate } from "../dist/lib/models/generate";

const pretrained = (await AutoModelForCausalLM.fromPretrained(dirs.gpt2)).model;
const sampleOf = (model: GPT2LMHeadModel) =>
  generate(model, examples.map((p) => p.ids), { maxNewTokens: course.hyper.ppo.maxNewTokens, minNewTokens: course.hyper.ppo.maxNewTokens, eosTokenId: tokenizer.eosTokenId, seed: 1 })
    .responses.map((r) => tokenizer.decode(r));
const before = sampleOf(pretrained), after = sampleOf(sftModel);
tslab.display.html(htmlTable(examples.map((p, i) => ({ hostile: p.hostile, prompt: p.prompt, pretrained: before[i], SFT: after[i] })),
  { caption: `Continuations (${course.hyper.ppo.maxNewTokens} new tokens, sampled)` }));

// %% [markdown]
// Perplexity of **held-out** reviews (first 200 characters, BOS prepended, mean of per-text
// perplexities as the paper's `evaluate` measurement). A model that moved towards positive text
// gains on positive reviews and loses on negative ones.

// %%
import { perplexity, causalLMLogprobs } from "../dist/lib/eval/perplexity";

const meanPerplexity = async (model: GPT2LMHeadModel, texts: string[]) =>
  (await perplexity(causalLMLogprobs(model), tokenizer, texts, { maxChars: 200, batchSize: 16, bosTokenId: tokenizer.bosTokenId, padTokenId: tokenizer.padTokenId })).meanPerplexity;
const n = course.hyper.eval.pplTexts;
const ppl: Record<string, { positive: number; negative: number }> = {};
for (const [name, model] of [["pretrained", pretrained], ["SFT", sftModel]] as const) {
  ppl[name] = { positive: await meanPerplexity(model, course.heldOut.positive.slice(0, n)), negative: await meanPerplexity(model, course.heldOut.negative.slice(0, n)) };
}
tslab.display.html(htmlTable(Object.entries(ppl).map(([model, p]) => ({ model, "positive reviews": p.positive, "negative reviews": p.negative })),
  { caption: `Held-out perplexity, ${n} reviews per class (lower is better)`, digits: 2 }));

// %% [markdown]
// **What you should see:** after SFT, positive reviews are more likely (lower perplexity) than
// before and than negative reviews: the model now prefers the good class, as the paper's SFT does.

// %%
check("SFT lowers the perplexity of positive reviews", ppl.SFT.positive < ppl.pretrained.positive, { pretrained: ppl.pretrained.positive, SFT: ppl.SFT.positive });
check("after SFT, positive reviews are more likely than negative ones", ppl.SFT.positive < ppl.SFT.negative, { positive: ppl.SFT.positive, negative: ppl.SFT.negative });
pretrained.dispose();
policy.dispose();
sftModel.dispose();
