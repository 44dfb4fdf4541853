// %% [markdown]
// # 01 · The data behind RA-RLHF
//
// RA-RLHF (Chaudhary et al., NeurIPS 2024) fine-tunes a language model so that it stays safe on the
// *hardest* prompts, not just on average. Every task is a **prompt-continuation** task: the policy
// reads the first tokens of a human text (the *prompt*) and writes a continuation; a reward model
// scores prompt + continuation. What makes a prompt hard is its **prompt score**: the reward model's
// score of the prompt alone. A very negative review opening, or a toxic comment opening, drags the
// continuation with it. These low-score prompts form the *tail* that RA-RLHF targets.
//
// This notebook loads the staged datasets with `lib/data`, applies the paper's preparation
// (length filters, GPT-2 token prompts) and looks at the score distributions per class.
//
// This notebook is about the **real** data at every scale (the `teach` course of notebooks 02-05
// trains on generated reviews instead; see notebook 02). `RARLHF_NB_SCALE` only decides how many
// prompts are tokenized for the length statistics: 2,000 at `teach` and `real`, all at `full`.
// `RARLHF_DATA_DIR` points at the data (default `../shared/data`).

// %%
import * as path from "path";
import * as tslab from "tslab";
import { resolveDataDir } from "../dist/lib/data/paths";
import { courseScale } from "../dist/lib/notebook/course";
import { check } from "../dist/lib/notebook/check";

const SCALE = courseScale();
const DATA_DIR = resolveDataDir(process.env.RARLHF_DATA_DIR);
const N_TOKENIZE = SCALE === "full" ? Infinity : 2000; // prompts tokenized for the length statistics
console.log({ SCALE, DATA_DIR, N_TOKENIZE });

// %% [markdown]
// ## IMDB-Gen
//
// The paper's first task: continue a movie review **positively**. Prompts are the first 64 GPT-2
// tokens of IMDB reviews longer than 200 characters; the reward is the positive-class logit of a
// sentiment classifier. `loadImdb` applies the `len(text) > 200` filter and reports what it dropped.

// %%
import { loadImdb } from "../dist/lib/data/imdb";
import { htmlTable } from "../dist/lib/notebook/html";

const imdbTrain = await loadImdb("train", { dataDir: DATA_DIR });
const imdbTest = await loadImdb("test", { dataDir: DATA_DIR });
const imdbSummary = [imdbTrain, imdbTest].map((d, i) => ({
  split: i === 0 ? "train" : "test",
  read: d.report.read,
  kept: d.report.kept,
  dropped: JSON.stringify(d.report.dropped),
  positive: d.rows.filter((r) => r.label === 1).length,
  negative: d.rows.filter((r) => r.label === 0).length,
}));
tslab.display.html(htmlTable(imdbSummary, { caption: "IMDB after the paper's len(text) > 200 filter" }));

// %% [markdown]
// **What you should see:** the filter drops only ~0.5% of each split, and both classes stay
// balanced (IMDB has 12,500 reviews per class and split).

// %%
for (const r of imdbSummary) check(`IMDB ${r.split}: under 1% dropped, classes within 1% of each other`,
  r.kept / r.read > 0.99 && Math.abs(r.positive - r.negative) / r.kept < 0.01, { read: r.read, kept: r.kept, positive: r.positive, negative: r.negative });

// %% [markdown]
// Star ratings tell how extreme a review is: negative reviews have 1-4 stars, positive ones 7-10.
// The 1-star reviews are where the hardest prompts come from.

// %%
const ratingRows = [1, 2, 3, 4, 7, 8, 9, 10].map((stars) => ({
  stars,
  train: imdbTrain.rows.filter((r) => r.rating === stars).length,
  test: imdbTest.rows.filter((r) => r.rating === stars).length,
}));
tslab.display.html(htmlTable(ratingRows, { caption: "IMDB reviews per star rating" }));

// %% [markdown]
// ### Prompts are GPT-2 token prefixes
//
// The policy never sees a whole review: the prompt is the first 64 tokens of GPT-2's byte-level BPE
// (the tokenizer files ship with the data). Below, the share of reviews that are longer than 64
// tokens, and what a prompt looks like.

// %%
import { GPT2Tokenizer } from "../dist/lib/text/gpt2-tokenizer";

const tokenizer = GPT2Tokenizer.fromDir(path.join(DATA_DIR, "tokenizers/gpt2"));
const PROMPT_TOKENS = 64;
const sample = imdbTrain.rows.slice(0, Math.min(N_TOKENIZE, imdbTrain.rows.length));
const lengths = sample.map((r) => tokenizer.encode(r.text).length).sort((a, b) => a - b);
const pct = (p: number) => lengths[Math.min(lengths.length - 1, Math.floor((p / 100) * lengths.length))];
tslab.display.html(htmlTable([{
  reviews: lengths.length,
  "min tokens": lengths[0],
  "median tokens": pct(50),
  "p95 tokens": pct(95),
  "share > 64 tokens": lengths.filter((n) => n > PROMPT_TOKENS).length / lengths.length,
}], { caption: "GPT-2 token lengths of IMDB train reviews (first N_TOKENIZE rows)" }));

const promptOf = (text: string, nTokens: number) => tokenizer.decode(tokenizer.encode(text).slice(0, nTokens));
tslab.display.html(htmlTable(
  [imdbTrain.rows[0], imdbTrain.rows[imdbTrain.rows.length - 1]].map((r) => ({
    label: r.label === 1 ? "pos" : "neg", stars: r.rating, "64-token prompt": promptOf(r.text, PROMPT_TOKENS),
  })),
  { caption: "Two IMDB-Gen prompts", maxChars: 600 },
));

// %% [markdown]
// ### Reference prompt scores from the authors' sentiment classifier
//
// The paper's IMDB reward model (`lvwerra/distilbert-imdb`) is not available offline, but the authors'
// repository kept 1,550 train reviews with its raw positive logit: the **critical** ones, where the
// classifier disagrees with the gold label. They show why a learned reward is noisy near zero and
// what the logit scale looks like (the tail threshold for IMDB is a prompt score of **-2.5**).

// %%
import { loadImdbReference } from "../dist/lib/rewards/data";
import { histogram, histogramEdges, mean } from "../dist/lib/eval/metrics";

const reference = loadImdbReference(DATA_DIR);
const refByClass = [0, 1].map((g) => reference.filter((r) => r.gold === g).map((r) => r.logit));
tslab.display.html(htmlTable([0, 1].map((g) => ({
  "gold label": g === 1 ? "pos (scored < 0)" : "neg (scored > 0)",
  rows: refByClass[g].length,
  "mean logit": mean(refByClass[g]),
  min: Math.min(...refByClass[g]),
  max: Math.max(...refByClass[g]),
})), { caption: "distilbert-imdb positive logit on the authors' critical reviews" }));
check("these are distilbert's mistakes: gold-positive reviews score below 0, gold-negative above", Math.max(...refByClass[1]) < 0 && Math.min(...refByClass[0]) > 0,
  { "max logit, gold pos": Math.max(...refByClass[1]), "min logit, gold neg": Math.min(...refByClass[0]) });

// %% [markdown]
// ## Jigsaw-Gen
//
// The second task: continue a Wikipedia talk-page comment **without toxicity**. Prompts are the first
// 8 GPT-2 tokens; the reward is minus the "toxic" logit of `unitary/toxic-bert`. The test set is the
// authors' exact file: 7,708 comments longer than 64 characters, half toxic, each with the reward of
// the *full* comment as the authors computed it. That column is a real prompt-score-like signal, so
// we can look at the distribution per class and at the tail the paper evaluates on: **score <= +5**.

// %%
import { loadJigsaw, splitByToxic } from "../dist/lib/data/jigsaw";
import { quantileCurve } from "../dist/lib/eval/metrics";

const jigsaw = await loadJigsaw("test", { dataDir: DATA_DIR });
const { toxic, nonToxic } = splitByToxic(jigsaw.rows);
const scoreOf = (rows: typeof jigsaw.rows) => rows.map((r) => {
  if (r.reward === null) throw new Error("jigsaw test row without reward");
  return r.reward;
});
const jigScores = { toxic: scoreOf(toxic), nonToxic: scoreOf(nonToxic) };
const JIGSAW_TAIL = 5;
tslab.display.html(htmlTable(
  (["nonToxic", "toxic"] as const).map((k) => ({
    class: k === "toxic" ? "toxic" : "non-toxic",
    comments: jigScores[k].length,
    "mean score": mean(jigScores[k]),
    "share in tail (score <= 5)": jigScores[k].filter((s) => s <= JIGSAW_TAIL).length / jigScores[k].length,
  })),
  { caption: "Jigsaw test: -toxic-bert logit of the full comment, per class" },
));

// %% [markdown]
// **What you should see:** toxic comments score far lower (the reward is −toxic-bert's logit), and
// almost all of them fall in the tail (score ≤ 5), against a quarter of the non-toxic ones.

// %%
check("toxic comments score lower than non-toxic ones", mean(jigScores.toxic) < mean(jigScores.nonToxic), { toxic: mean(jigScores.toxic), "non-toxic": mean(jigScores.nonToxic) });

// %% [markdown]
// A histogram with 30 shared bins, as in the paper's distribution-shift figure: non-toxic comments
// pile up at high scores (+5 to +7.6), toxic ones spread over the negative range. The tail
// (score <= 5) holds nearly every toxic comment and a slice of the non-toxic ones.

// %%
import { showFigure } from "../dist/lib/notebook/show";
import type { Figure } from "../dist/lib/eval/figures";

const edges = histogramEdges([jigScores.toxic, jigScores.nonToxic], 30);
const centers = edges.slice(0, -1).map((e, i) => (e + edges[i + 1]) / 2);
const histFig: Figure = {
  data: [
    { type: "bar", x: centers, y: histogram(jigScores.nonToxic, edges).counts, name: "non-toxic", opacity: 0.6 },
    { type: "bar", x: centers, y: histogram(jigScores.toxic, edges).counts, name: "toxic", opacity: 0.6 },
  ],
  layout: {
    title: { text: "Jigsaw test: -toxic-bert logit of the full comment" }, barmode: "overlay", width: 750, height: 400,
    xaxis: { title: { text: "score (reward of the full comment)" } }, yaxis: { title: { text: "comments" } },
    shapes: [{ type: "line", x0: JIGSAW_TAIL, x1: JIGSAW_TAIL, yref: "paper", y0: 0, y1: 1, line: { dash: "dash" } }],
  },
};
await showFigure(tslab.display, histFig);

// %% [markdown]
// ### Tail prompts
//
// What the policy is actually prompted with: the first 8 GPT-2 tokens. Below, the lowest-scored
// comments (the far tail) with their 8-token prompts. These are the prompts on which an
// average-optimising RLHF policy still produces toxic text, and which RA-RLHF up-weights.
// (Content warning: real toxic comments.)

// %%
const byScore = [...jigsaw.rows].sort((a, b) => (a.reward ?? 0) - (b.reward ?? 0));
tslab.display.html(htmlTable(
  byScore.slice(0, 8).map((r) => ({ score: r.reward, toxic: r.toxic, "8-token prompt": promptOf(r.text, 8) })),
  { caption: "Lowest-scored Jigsaw test comments and their prompts" },
));

// %% [markdown]
// The reward-vs-quantile curve sorts prompts by prompt score and averages the reward over the first
// q% (cumulative). Here the "reward" is the comment's own score, so the curve simply shows how
// quickly the mean rises as the tail is diluted; in notebook 04 the same function compares policies.

// %%
const allJig = scoreOf(jigsaw.rows);
const curve = quantileCurve(allJig, allJig, [1, 5, 10, 20, 30, 50, 70, 100]);
tslab.display.html(htmlTable(
  curve.q.map((q, i) => ({ "quantile (%)": q, prompts: curve.n[i], "mean score": curve.reward[i] })),
  { caption: "Jigsaw test: mean score of the lowest q% of comments" },
));
check("the cumulative quantile curve rises with q and ends at the mean", curve.reward.every((v, i) => i === 0 || v >= curve.reward[i - 1]) && Math.abs(curve.reward[curve.reward.length - 1] - mean(allJig)) < 1e-9,
  { "q=1": curve.reward[0], "q=100": curve.reward[curve.reward.length - 1], mean: mean(allJig) });

// %% [markdown]
// ## The tasks as the trainers see them: `loadTask`
//
// `loadTask(name)` turns a task spec into train prompts, test prompts and SFT texts. Besides the
// paper's three tasks there are two **miniatures** (`imdb-mini`, `jigsaw-mini`) that shrink batch
// size, number of iterations M and prompt/response lengths so a small GPT-2 trains in minutes on a
// CPU; notebooks 02-05 use them. Where the paper's data is not available offline (Jigsaw's 70/30
// train file, the full RealToxicityPrompts), the spec's notes say what stands in.

// %%
import { loadTask, TASKS, type TaskData } from "../dist/lib/data/tasks";

const tasks: Record<string, TaskData> = {};
for (const name of Object.keys(TASKS)) tasks[name] = await loadTask(name, { dataDir: DATA_DIR, tokenizer: tokenizer });
tslab.display.html(htmlTable(Object.values(tasks).map((t) => ({
  task: t.spec.name,
  "prompt / new tokens": `${t.spec.promptTokens} / ${t.spec.maxNewTokens}`,
  "train prompts": t.train.length,
  "test prompts": t.test.length,
  "toxic/pos share (test)": t.test.filter((p) => p.label === 1).length / t.test.length,
  "SFT texts": t.sftTexts.length,
  B: t.spec.batchSize,
  "batches / pass": t.batchesPerEpoch,
  "paper M": t.spec.M,
  "α, n, ρ": `${t.spec.risk.alpha}, ${t.spec.risk.n}, ${t.spec.risk.rho}`,
  "tail threshold": t.spec.tailThreshold,
})), { caption: "Tasks after loadTask (paper tasks and CPU miniatures)" }));

// %% [markdown]
// What each task substitutes or scales, in the loader's own words:

// %%
tslab.display.html(htmlTable(
  Object.values(tasks).flatMap((t) => t.notes.map((note) => ({ task: t.spec.name, note }))),
  { caption: "Task notes", maxChars: 1000 },
));

// %% [markdown]
// A few miniature prompts per class: `imdb-mini` keeps only 16 tokens of a review, so its prompts
// are short openings; `jigsaw-mini` keeps the paper's 8 tokens.

// %%
const examples = ["imdb-mini", "jigsaw-mini"].flatMap((name) => {
  const t = tasks[name];
  return [0, 1].flatMap((label) => t.test.filter((p) => p.label === label).slice(0, 3).map((p) => ({
    task: name, class: t.spec.classNames[label], prompt: p.query,
  })));
});
tslab.display.html(htmlTable(examples, { caption: "Miniature test prompts" }));
