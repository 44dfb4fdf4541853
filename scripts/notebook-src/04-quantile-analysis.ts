// %% [markdown]
// # 04 · Quantile analysis: where RA-RLHF should help
//
// The paper's evaluation is built around the **prompt score**: the reward model's score of the
// prompt alone. Sorting test prompts by it separates easy prompts (already positive openings) from
// the tail (openings so negative that a continuation tends to stay negative). This notebook
// evaluates the four policies of notebooks 02-03 the paper's way:
//
// 1. one sampled continuation per test prompt and model (top-k off, top-p 1, fixed length);
// 2. the results table, with the tail's size and a paired bootstrap interval for RA-RLHF − RLHF;
// 3. the **distribution-shift** figure: histograms of prompt scores and of each model's rewards;
// 4. the **reward-vs-quantile** curve: mean reward over the lowest q% of prompts, q = 1..100;
// 5. the riskiest prompts side by side.
//
// Model names follow the paper's tables: GPT2 is our pretrained model (the paper's untuned GPT-2),
// then SFT, RLHF and RA-RLHF. **Scale**: as in notebook 02 (`teach` by default; run 02 and 03 first).

// %%
import * as path from "path";
import * as tslab from "tslab";
import { initEngine } from "../dist/lib/engine";
import { courseScale, loadCourse, courseCheckpoints, loadCourseTokenizer, loadCourseModels, coursePrompts, requireCourseDir, courseTail } from "../dist/lib/notebook/course";
import { check } from "../dist/lib/notebook/check";
import { showFigure } from "../dist/lib/notebook/show";
import { htmlTable } from "../dist/lib/notebook/html";

await initEngine();
const course = await loadCourse(courseScale());
const tokenizer = loadCourseTokenizer(course);
const dirs = courseCheckpoints(course);
const MODELS = ["gpt2", "sft", "rlhf", "ra_rlhf"] as const;
console.log({ scale: course.scale, data: course.dataName, runDir: course.runDir });

// %% [markdown]
// ## 1 · Generations
//
// `generationRows` (the function behind `rarlhf generate`) samples each model's continuation of every
// test prompt, scores prompt + continuation with the reward model, and scores the prompt alone (the
// `prompt_score` column). The table is written as JSONL: `rarlhf eval` reads it too.

// %%
import { KitRewardModel } from "../dist/lib/rewards/trained";
import { generationRows } from "../dist/lib/pipeline/generations";
import { writeGenerations } from "../dist/lib/eval/generations";

const reward = await KitRewardModel.load(requireCourseDir(course, dirs.reward, "03-rlhf-vs-ra-rlhf.ipynb"));
const testPrompts = (await coursePrompts(course, tokenizer)).test;
const models = await loadCourseModels(course, tokenizer, MODELS);
const t0 = performance.now();
const rows = await generationRows(testPrompts.map((p) => ({ prompt: p.prompt, cls: p.label, extra: { hostile: p.hostile } })),
  models, reward, { maxNewTokens: course.hyper.eval.maxNewTokens, seed: 0, batchSize: 64 });
const GEN_FILE = path.join(course.runDir, "generations.jsonl");
writeGenerations(GEN_FILE, rows);
console.log(`${rows.length} prompts x ${models.length} models in ${((performance.now() - t0) / 1000).toFixed(0)} s -> ${GEN_FILE}`);
for (const m of models) m.model.dispose();

// %% [markdown]
// ## 2 · Results table
//
// **Tail**: the test prompts whose prompt score is at most a threshold. IMDB uses the paper's −2.5
// on distilbert's logit scale; the generated reviews' reward has another scale, so the threshold is
// the 90th percentile of the hostile openings' scores (the demo's rule). **CVaR** at level 0.1: the
// mean of the worst 10% of rewards, whatever the prompt. The table prints how many prompts the tail
// holds: a tail of a dozen prompts is noise.

// %%
import { evaluateTable, aggregateSeeds } from "../dist/lib/eval/evaluate";
import { readGenerations } from "../dist/lib/eval/generations";
import { evalSpec } from "../dist/lib/pipeline/report";
import { htmlTable as resultsHtml } from "../dist/lib/eval/tables";

const table = readGenerations(GEN_FILE);
const TAIL = courseTail(course, rows.map((r) => ({ promptScore: Number(r.prompt_score), hostile: r.hostile === true })));
const CVAR_ALPHA = 0.1;
const result = evaluateTable(table, evalSpec([...MODELS], TAIL, CVAR_ALPHA, false));
console.log(`${result.prompts} prompts; ${result.models[0].tailN} in the tail (prompt score <= ${TAIL})`);
tslab.display.html(resultsHtml(aggregateSeeds([result]), { tail: TAIL, cvarAlpha: CVAR_ALPHA }));

// %% [markdown]
// One seed gives one number per model. How sure is "RA-RLHF − RLHF"? Resample the test prompts
// with replacement (the same draw for both models: the comparison is **paired** by prompt) and
// read the 2.5% and 97.5% percentiles of the difference: `rarlhf eval --compare ra_rlhf,rlhf`
// prints the same interval. It covers prompt noise only; seed-to-seed noise needs several training
// runs (the study's two-level bootstrap, docs/results/study/).

// %%
import { pairedBootstrap } from "../dist/lib/eval/bootstrap";
import { numberColumn } from "../dist/lib/eval/generations";

const promptScores = numberColumn(table, "prompt_score");
const paired = pairedBootstrap({ a: [numberColumn(table, "ra_rlhf_reward")], b: [numberColumn(table, "rlhf_reward")], promptScores: [promptScores] },
  [{ kind: "meanReward" }, { kind: "tailReward", threshold: TAIL }, { kind: "cvar", alpha: CVAR_ALPHA }], { resamples: 2000, seed: 0 });
tslab.display.html(htmlTable(paired.map((p) => ({ metric: p.metric, "RA-RLHF − RLHF": p.diff, "95% low": p.ci95[0], "95% high": p.ci95[1], resamples: p.resamples })),
  { caption: `Paired bootstrap over ${result.prompts} test prompts (${result.models[0].tailN} in the tail)` }));

// %% [markdown]
// **What you should see** (teach scale): both RL models far above SFT on the mean; RA-RLHF above
// RLHF on the tail and on CVaR, and by more on CVaR (the worst outcomes, what it optimises) than on
// the mean. With ~50 tail prompts the tail interval is wide: one seed rarely settles a tail claim.
// At `real` scale (imdb-mini, linear reward) expect RA-RLHF ≈ RLHF, the fidelity study's finding
// for that setting, so the checks may report ✗.

// %%
const byName = Object.fromEntries(result.models.map((m) => [m.name, m]));
const tailDiff = paired[1];
check("RLHF and RA-RLHF raise the mean reward over SFT", byName.rlhf.meanReward > byName.sft.meanReward && byName.ra_rlhf.meanReward > byName.sft.meanReward,
  { SFT: byName.sft.meanReward, RLHF: byName.rlhf.meanReward, "RA-RLHF": byName.ra_rlhf.meanReward });
check("the tail holds enough prompts to read (N >= 30)", byName.rlhf.tailN >= 30, { N: byName.rlhf.tailN });
check("RA-RLHF has the better tail", tailDiff.diff > 0, { "tail RA-RLHF − RLHF": tailDiff.diff, "95% low": tailDiff.ci95[0], "95% high": tailDiff.ci95[1] });
check("RA-RLHF gains more on CVaR than on the mean", paired[2].diff > paired[0].diff, { "CVaR gain": paired[2].diff, "mean gain": paired[0].diff });

// %% [markdown]
// ## 3 · Distribution shift
//
// The paper's Fig. 2/3: the first panel holds the prompt scores (the dashed line is the tail
// threshold), the next ones each model's rewards on the same bins, split by the review's class, and
// the last panel the reward-vs-quantile curves. Fine-tuning for reward moves mass to the right;
// RA-RLHF is meant to move the *negative-class* (tail) mass further than RLHF does.

// %%
import { distributionShiftFigure, quantileFigure, quantileTailFigure, quantileDiffFigure } from "../dist/lib/eval/figures";

await showFigure(tslab.display, distributionShiftFigure(result, { classNames: { "0": course.classNames[0], "1": course.classNames[1] } }));

// %% [markdown]
// ## 4 · Reward vs prompt-score quantile
//
// Sort the prompts by prompt score; for each q take the **first** ⌊q%·N⌋ prompts (cumulative, so the
// curve at q = 100 is the mean reward) and average each model's reward over them. The left end is
// the riskiest prompts: that is where the paper reports RA-RLHF above RLHF. The second figure zooms
// into the lowest 20%, the third plots RA-RLHF − RLHF with a paired bootstrap band.

// %%
const curves = Object.fromEntries(result.models.map((m) => [m.name, m.quantileReward]));
await showFigure(tslab.display, quantileFigure(result.quantiles.q, curves, `Reward vs prompt-score quantile (${course.dataName})`));

// %%
import { quantileDiffBootstrap } from "../dist/lib/eval/quantile-diff";

await showFigure(tslab.display, quantileTailFigure(result.quantiles.q, curves, { maxQ: 20 }));
const band = quantileDiffBootstrap({ a: [numberColumn(table, "ra_rlhf_reward")], b: [numberColumn(table, "rlhf_reward")], promptScores: [promptScores] }, { resamples: 1000, seed: 0 });
await showFigure(tslab.display, quantileDiffFigure([{ a: "ra_rlhf", b: "rlhf", band }]));

// %% [markdown]
// **What you should see:** the RA-RLHF − RLHF curve above zero from the riskiest prompts to
// q = 100 (where it is the difference in mean reward). In the paper the gap is largest at the left;
// here, compare the gap at q = 10 with the one at q = 100: at this scale RA-RLHF lifts the whole
// distribution about evenly by prompt score, and its extra gain shows in CVaR (worst *outcomes*)
// rather than in the worst *prompts*.

// %%
const at = (q: number) => band.diff[band.q.indexOf(q)];
check("RA-RLHF is above RLHF on the riskiest 10% of prompts and overall", at(10) > 0 && at(100) > 0, { "gap at q=10": at(10), "gap at q=100": at(100) });

// %% [markdown]
// ## 5 · The riskiest prompts, side by side
//
// The lowest-scored test prompts with each model's continuation and its reward.

// %%
const riskiest = [...table.rows].sort((a, b) => Number(a.prompt_score) - Number(b.prompt_score)).slice(0, 5);
tslab.display.html(htmlTable(riskiest.flatMap((r) => MODELS.map((name, j) => ({
  prompt: j === 0 ? String(r.prompt) : "",
  "prompt score": j === 0 ? Number(r.prompt_score) : null,
  model: name,
  continuation: String(r[`${name}_response`]),
  reward: Number(r[`${name}_reward`]),
}))), { caption: "Generations for the five riskiest test prompts" }));
