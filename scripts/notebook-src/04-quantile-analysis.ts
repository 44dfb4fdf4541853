// %% [markdown]
// # 04 · Quantile analysis: where RA-RLHF should help
//
// The paper's evaluation is built around the **prompt score**: the reward model's score of the prompt
// alone. Sorting test prompts by it separates easy prompts (already positive openings) from the tail
// (openings so negative that a continuation tends to stay negative). This notebook evaluates the four
// policies of notebooks 02-03 the paper's way:
//
// 1. one sampled continuation per test prompt and model (top-k off, top-p 1, fixed length);
// 2. the **distribution-shift** figure: histograms of prompt scores and of each model's rewards, per class;
// 3. the **reward-vs-quantile** curve: mean reward over the lowest q% of prompts, q = 1..100;
// 4. tail tables and the generations for the riskiest prompts side by side.
//
// Model names follow the paper's tables: `gpt2` is our pretrained model (the paper's untuned GPT-2),
// `sft`, `rlhf` and `ra_rlhf`.
//
// **Scale.** The first code cell reads `RARLHF_NB_SCALE` and `RARLHF_DATA_DIR`; the committed outputs
// come from the `quick` run printed there. At `quick` scale the policies trained for 12 PPO steps, so
// differences between them are small and mostly noise; the notebook shows the method, the `full` run
// shows the effect.

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
const CHECKPOINTS: Record<string, string> = {
  gpt2: path.join(RUN_DIR, "pretrain"),
  sft: path.join(RUN_DIR, "sft"),
  rlhf: path.join(RUN_DIR, "rlhf", "checkpoints", "final"),
  ra_rlhf: path.join(RUN_DIR, "ra-rlhf", "checkpoints", "final"),
};
for (const [name, dir] of Object.entries(CHECKPOINTS)) {
  if (!fs.existsSync(path.join(dir, "config.json"))) throw new Error(`${name}: ${dir} not found; run notebooks 02 and 03 first (same RARLHF_NB_SCALE)`);
}
await initEngine();
console.log({ SCALE, DATA_DIR, RUN_DIR });

// %% [markdown]
// ## 1 · Generations on the test prompts
//
// `generationRows` (lib/pipeline/generations.ts) scores every prompt alone (the prompt score), samples
// one continuation per model with the same seed, and scores prompt + continuation with the kit reward
// model of notebook 03. The table is written as JSONL, the format `rarlhf eval` reads.

// %%
import { loadTask } from "../dist/lib/data/tasks";
import { loadGPT2 } from "../dist/lib/models/checkpoint";
import { KitRewardModel } from "../dist/lib/rewards/trained";
import { generationRows } from "../dist/lib/pipeline/generations";
import { writeGenerations } from "../dist/lib/eval/generations";
import { GPT2Tokenizer } from "../dist/lib/text/gpt2-tokenizer";

const tokenizer = GPT2Tokenizer.fromDir(CHECKPOINTS.sft);
const task = await loadTask("imdb-mini", { dataDir: DATA_DIR, tokenizer: tokenizer });
const reward = await KitRewardModel.load(path.join(RUN_DIR, "reward"));
const models = Object.entries(CHECKPOINTS).map(([name, dir]) => ({ name: name, model: loadGPT2(dir).model, tokenizer: tokenizer }));
const t0 = performance.now();
const rows = await generationRows(
  task.test.map((p) => ({ prompt: p.query, cls: p.label })),
  models, reward, { maxNewTokens: task.spec.maxNewTokens, seed: 0, batchSize: 64 },
);
const GEN_FILE = path.join(RUN_DIR, "generations.jsonl");
writeGenerations(GEN_FILE, rows);
console.log(`${rows.length} prompts x ${models.length} models in ${((performance.now() - t0) / 1000).toFixed(0)} s -> ${GEN_FILE}`);
for (const m of models) m.model.dispose();

// %% [markdown]
// ## 2 · Metrics and the distribution shift
//
// `evaluateTable` computes every metric of the paper's evaluation from that table: mean reward, tail
// reward (mean over prompts with prompt score ≤ -2.5, the IMDB threshold), CVaR of the reward,
// Distinct-n, the quantile curve and 30-bin histograms on shared edges.

// %%
import { evaluateTable, aggregateSeeds } from "../dist/lib/eval/evaluate";
import { readGenerations } from "../dist/lib/eval/generations";
import { evalSpec } from "../dist/lib/pipeline/report";
import { htmlTable as resultsHtml } from "../dist/lib/eval/tables";

const NAMES = Object.keys(CHECKPOINTS);
const TAIL = task.spec.tailThreshold;
const CVAR_ALPHA = 0.2;
const result = evaluateTable(readGenerations(GEN_FILE), evalSpec(NAMES, TAIL, CVAR_ALPHA, false));
console.log(`${result.prompts} prompts (${JSON.stringify(result.promptsPerClass)} per class); ${result.models[0].tailN} in the tail (prompt score <= ${TAIL}); mean prompt score ${result.meanPromptScore.toFixed(2)}`);
tslab.display.html(resultsHtml(aggregateSeeds([result]), { tail: TAIL, cvarAlpha: CVAR_ALPHA }));

// %% [markdown]
// The distribution-shift figure (paper Fig. 2/3): the first panel is the prompt scores, the next ones
// each model's rewards on the same 30 bins, split by the review's class, and the last panel the
// reward-vs-quantile curves. Fine-tuning for reward should move mass to the right; RA-RLHF is meant
// to move the *negative-class* (tail) mass further than RLHF does.

// %%
import { distributionShiftFigure, quantileFigure } from "../dist/lib/eval/figures";
import { figureToPng } from "../dist/lib/eval/render";

const shiftPng = await figureToPng(distributionShiftFigure(result, { classNames: { "0": "negative", "1": "positive" } }));
if (shiftPng) tslab.display.png(shiftPng); else console.log("no Chromium found: figure skipped");

// %% [markdown]
// ## 3 · Reward vs prompt-score quantile
//
// Sort the prompts by prompt score; for each q take the **first** ⌊q%·N⌋ prompts (cumulative, so the
// curve at q = 100 is the mean reward) and average each model's reward over them. The left end is
// the riskiest prompts: that is where the paper reports RA-RLHF above RLHF.

// %%
const curves = Object.fromEntries(result.models.map((m) => [m.name, m.quantileReward]));
const quantilePng = await figureToPng(quantileFigure(result.quantiles.q, curves, "Reward vs prompt-score quantile (imdb-mini test)"));
if (quantilePng) tslab.display.png(quantilePng); else console.log("no Chromium found: figure skipped");

// %%
import { htmlTable } from "../dist/lib/notebook/html";

const qShown = [5, 10, 20, 50, 100];
tslab.display.html(htmlTable(qShown.map((q) => {
  const i = result.quantiles.q.indexOf(q);
  const row: Record<string, number> = { "quantile (%)": q, prompts: result.quantiles.n[i] };
  for (const m of result.models) row[m.name] = m.quantileReward[i];
  return row;
}), { caption: "Mean reward over the lowest q% of prompts by prompt score" }));

// %% [markdown]
// ## 4 · Tail tables
//
// The authors' table helper also prints the tail reward at several thresholds. With a small test set
// the tail at -2.5 may hold few prompts, so the counts matter as much as the means.

// %%
import { tailReward } from "../dist/lib/eval/metrics";
import { numberColumn } from "../dist/lib/eval/generations";

const table = readGenerations(GEN_FILE);
const promptScores = numberColumn(table, "prompt_score");
tslab.display.html(htmlTable([2.5, 0, -2.5, -5].map((thr) => {
  const row: Record<string, number> = { "prompt score ≤": thr };
  for (const name of NAMES) {
    const t = tailReward(numberColumn(table, `${name}_reward`), promptScores, thr);
    row["prompts"] = t.n;
    row[name] = t.value;
  }
  return row;
}), { caption: "Tail reward by threshold (NaN = empty tail)" }));

// %% [markdown]
// ## 5 · The riskiest prompts, side by side
//
// The lowest-scored test prompts with each model's continuation and its reward. (At `quick` scale the
// policies are 2-layer models trained for a few minutes: expect broken English.)

// %%
const riskiest = [...table.rows].sort((a, b) => Number(a.prompt_score) - Number(b.prompt_score)).slice(0, 6);
tslab.display.html(htmlTable(riskiest.flatMap((r) => NAMES.map((name, j) => ({
  prompt: j === 0 ? String(r.prompt) : "",
  "prompt score": j === 0 ? Number(r.prompt_score) : null,
  model: name,
  continuation: String(r[`${name}_response`]),
  reward: Number(r[`${name}_reward`]),
}))), { caption: "Generations for the six riskiest test prompts" }));
