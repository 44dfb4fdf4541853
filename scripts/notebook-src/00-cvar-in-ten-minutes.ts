// %% [markdown]
// # 00 · CVaR in ten minutes
//
// RLHF maximises the **mean** reward of the model's responses. RA-RLHF maximises a **CVaR**: the
// mean over the *worst* α share of them. This notebook needs no data and no GPU; it runs in seconds.
// It covers the definition, a picture, a toy where the two objectives differ in the way the paper
// hopes, a toy where selecting bad outcomes backfires (what the kit's fidelity study found), and
// exercises whose answers a cell checks.
//
// ## The definition
//
// For a reward R (one episode: a prompt and the model's response, scored by the reward model) and a
// level α ∈ (0, 1]:
//
// * **VaR**<sub>α</sub>(R) = the α-quantile of R: the largest reward still inside the worst α share;
// * **CVaR**<sub>α</sub>(R) = E[ R | R ≤ VaR<sub>α</sub>(R) ]: the mean of that worst α share.
//
// On N sampled rewards sorted r<sub>(1)</sub> ≤ … ≤ r<sub>(N)</sub>, with k = ⌈αN⌉:
//
// &nbsp;&nbsp;&nbsp;&nbsp; VaR<sub>α</sub> = r<sub>(k)</sub>, &nbsp;&nbsp; CVaR<sub>α</sub> = (1/k) · Σ<sub>i ≤ k</sub> r<sub>(i)</sub>.
//
// α = 1 gives the mean; α → 0 gives the worst case. `cvar(rewards, alpha)` in `lib/eval/metrics`
// computes exactly this (and is what every evaluation table in the kit reports).

// %%
import * as tslab from "tslab";
import { cvar, mean } from "../dist/lib/eval/metrics";
import { valueAtRisk, returnHistogramFigure, banditCurvesFigure } from "../dist/lib/notebook/toy-figures";
import { check, checkResults } from "../dist/lib/notebook/check";
import { showFigure } from "../dist/lib/notebook/show";
import { htmlTable } from "../dist/lib/notebook/html";

const rewards = [3, -1, 2, 0.5, -4, 1, 2.5, 0, 1.5, -2];
const byHand = { mean: 0.35, k: 2, VaR: -2, CVaR: (-4 + -2) / 2 };  // sorted: -4, -2, -1, 0, ...
const computed = { mean: mean(rewards), k: cvar(rewards, 0.2).n, VaR: valueAtRisk(rewards, 0.2), CVaR: cvar(rewards, 0.2).value };
tslab.display.html(htmlTable([{ "": "by hand", ...byHand }, { "": "computed", ...computed }], { caption: "ten rewards, α = 0.2" }));

// %% [markdown]
// **What you should see:** the two rows agree. The mean (0.35) hides two bad episodes; CVaR<sub>0.2</sub>
// is their average, −3.

// %%
check("cvar() and valueAtRisk() match the hand computation",
  Math.abs(computed.CVaR - byHand.CVaR) < 1e-12 && computed.VaR === byHand.VaR && Math.abs(computed.mean - byHand.mean) < 1e-12,
  computed);

// %% [markdown]
// ## A toy world: rare hostile prompts
//
// A contextual bandit stands in for a language model (`lib/rl/toy-bandit.ts`, 200 lines). Each
// episode draws a prompt: **benign** (90%) or **hostile** (10%). The policy answers with one of two
// actions: *continue the prompt's tone* or *turn it positive*. Rewards (plus noise of std 0.3):
//
// | prompt | continue | turn positive |
// |---|---|---|
// | benign (90%) | 1.0 | 0.9 |
// | hostile (10%) | −2.0 | 0.5 |
//
// The starting policy (like an SFT model that mirrors its prompt) continues the tone 88% of the time,
// everywhere. Its reward distribution has a long left tail made of hostile prompts:

// %%
import { BANDIT_WORLDS, runBandit, sampleRewards, type BanditSelect, type BanditStep } from "../dist/lib/rl/toy-bandit";

const world = BANDIT_WORLDS.rareHostile;
const start = world.contexts.map(() => world.initLogits);
const startRewards = sampleRewards(world, start, 4000, 0);
await showFigure(tslab.display, returnHistogramFigure(startRewards, 0.1, "Rewards of the starting policy (4,000 episodes), α = 0.1"));

// %% [markdown]
// **What you should see:** two bumps. The big one near 1 is benign prompts; the small one near −2 is
// hostile prompts answered in kind. With α = 0.1 the worst share is almost exactly the hostile bump,
// so CVaR<sub>0.1</sub> ≈ −2 while the mean is ≈ 0.7.

// %%
check("CVaR_0.1 of the starting policy sits in the hostile bump, far below its mean",
  cvar(startRewards, 0.1).value < -1.5 && mean(startRewards) > 0.5,
  { mean: mean(startRewards), "CVaR_0.1": cvar(startRewards, 0.1).value });

// %% [markdown]
// ## Mean vs CVaR policy gradient
//
// One training step samples B = 64 episodes and takes a REINFORCE step with advantages whitened
// over the episodes it learns from (PPO whitens the same way). The two rules differ only in
// *which* episodes enter the step:
//
// * `all` (RLHF): every episode;
// * `worst` (RA-RLHF): the soft-risk schedule's count of lowest-reward episodes: all 64 for a warm
//   start of n = 5 steps, then shrinking linearly to ⌈αB⌉ = 13 (α = 0.2) by step ⌈ρM⌉ = 48 (ρ = 0.8,
//   M = 60), the same `softRiskCount` and `selectRiskMask` the PPO trainer uses.
//
// Five seeds each; curves show the mean over seeds and a ±1 std band. "tail" is the expected reward
// on hostile prompts, computed exactly from the policy.

// %%
const SETTINGS = { B: 64, steps: 60, lr: 0.5, alpha: 0.2, n: 5, rho: 0.8 };
const SEEDS = [0, 1, 2, 3, 4];

function train(w: typeof world | typeof BANDIT_WORLDS.additive, select: BanditSelect, extra: Partial<typeof SETTINGS> = {}): BanditStep[][] {
  return SEEDS.map((seed) => runBandit({ ...w, ...SETTINGS, ...extra, select, seed }).history);
}
const last = (runs: BanditStep[][], f: "mean" | "tail" | "kept") => mean(runs.map((h) => h[h.length - 1][f]));

const rare = { all: train(world, "all"), worst: train(world, "worst") };
await showFigure(tslab.display, banditCurvesFigure(rare, "tail", "Rare hostile prompts: expected reward on hostile prompts"));

// %%
tslab.display.html(htmlTable(Object.entries(rare).map(([rule, runs]) => ({
  rule, "mean reward": last(runs, "mean"), "tail (hostile) reward": last(runs, "tail"), "episodes kept at the end": last(runs, "kept"),
})), { caption: "after 60 steps, mean over 5 seeds" }));

// %% [markdown]
// **What you should see:** the same mean for both rules (±0.05), and a much better tail for `worst`.
// The mean objective does learn to turn hostile prompts around, but a hostile prompt is only 10% of
// its batch, so its tail creeps up. The CVaR step learns mostly from hostile episodes.

// %%
check("CVaR selection lifts the tail on every seed",
  SEEDS.every((_, s) => rare.worst[s][59].tail > rare.all[s][59].tail),
  { "tail all": last(rare.all, "tail"), "tail worst": last(rare.worst, "tail") });
check("... at no cost in mean reward", last(rare.worst, "mean") > last(rare.all, "mean") - 0.05,
  { "mean all": last(rare.all, "mean"), "mean worst": last(rare.worst, "mean") });

// %% [markdown]
// Why: once the schedule has shrunk to ⌈αB⌉ = 13 episodes (m ≥ 48), roughly 40% of what `worst`
// keeps is hostile episodes, four times the 10% they make up of each batch.

// %%
await showFigure(tslab.display, banditCurvesFigure(rare, "keptTailShare", "Share of the episodes learnt from that are hostile"));
const hostileShare = mean(rare.worst.map((h) => mean(h.slice(48).map((s) => s.keptTailShare))));
check("at full risk aversion, hostile episodes are a large share of the kept ones (batch share: 0.1)", hostileShare > 0.3, { "kept hostile share, steps 48-59": hostileShare });

// %% [markdown]
// ## The reverse case: when selecting bad outcomes hurts
//
// Now one change, the one the kit's fidelity study points to (docs/results/study/). The policy is
// **shared** across prompts and turning positive adds **+1 after any prompt** (the reward shape of a
// linear n-gram reward model: positive words score the same whatever came before):
//
// | prompt | continue | turn positive |
// |---|---|---|
// | benign (80%) | 1.0 | 2.0 |
// | hostile (20%) | −2.0 | −1.0 |
//
// `worst` ranks episodes by their **realised** reward. The lowest ones are hostile prompts that
// *did not* turn positive; the hostile episodes that did (−1) are dropped. So the kept set holds few
// examples of the fix, and whitening contrasts bad with bad. Two controls with the same schedule:
// `random` (same count, random subset: just less data) and `context` (ranked by the prompt's expected
// reward, not the outcome: the analogue of `risk.rank_by=prompt_value`).

// %%
const additive = BANDIT_WORLDS.additive;
const rev: Record<string, BanditStep[][]> = {};
for (const rule of ["all", "worst", "random", "context"] as const) rev[rule] = train(additive, rule);
await showFigure(tslab.display, banditCurvesFigure(rev, "tail", "Additive reward, shared policy: tail (hostile) reward"));
tslab.display.html(htmlTable(Object.entries(rev).map(([rule, runs]) => ({
  rule, "mean reward": last(runs, "mean"), "tail (hostile) reward": last(runs, "tail"),
})), { caption: "after 60 steps, mean over 5 seeds" }));

// %% [markdown]
// **What you should see:** `worst` now has the *worst* tail and mean; `random` and `context` match
// `all`. Selecting on outcomes, not the risk objective itself, is what hurts here. On real IMDB
// with the kit's linear (bag-of-n-grams) reward the miniatures behave like this world (RA-RLHF as
// coded ≤ RLHF). With a transformer reward at the paper's response length they behave like the
// first world instead: RA-RLHF beats RLHF, and ranking by the prompt does *not* (docs/results/study/).

// %%
check("ranking by realised reward hurts the tail when the fix helps every prompt",
  last(rev.worst, "tail") < last(rev.all, "tail") - 0.2, { "tail all": last(rev.all, "tail"), "tail worst": last(rev.worst, "tail") });
check("ranking by the prompt (context) does not", Math.abs(last(rev.context, "tail") - last(rev.all, "tail")) < 0.1,
  { "tail context": last(rev.context, "tail"), "tail all": last(rev.all, "tail") });

// %% [markdown]
// ## Exercises
//
// Predict first, then run the cell: it computes the answer and checks the prediction written in
// its first line (edit it to yours).
//
// **1. Halve α (0.2 → 0.1) in the rare-hostile world.** How many episodes does the last step keep?
// Does the tail get better or worse?
//
// *Answer:* ⌈0.1 · 64⌉ = 7 episodes. Hostile episodes are ~6.4 per batch, so the kept set becomes
// almost purely hostile; the tail improves a little (less benign noise in the contrast), and the
// variance between seeds grows (fewer samples per step).

// %%
const myPrediction1 = { keptAtEnd: 7, tailBetter: true };
const halved = train(world, "worst", { alpha: 0.1 });
check("exercise 1: episodes kept at the end", last(halved, "kept") === myPrediction1.keptAtEnd, { kept: last(halved, "kept") });
check("exercise 1: tail at α = 0.1 vs α = 0.2", (last(halved, "tail") > last(rare.worst, "tail")) === myPrediction1.tailBetter,
  { "tail α=0.1": last(halved, "tail"), "tail α=0.2": last(rare.worst, "tail") });

// %% [markdown]
// **2. Make hostile prompts common (50%).** Does CVaR selection still beat the mean objective?
//
// *Answer:* barely. The mean objective now sees hostile prompts half the time and fixes them
// itself; risk-averse selection pays off when the bad context is *rare*.

// %%
const common = { ...world, contexts: [{ ...world.contexts[0], prob: 0.5 }, { ...world.contexts[1], prob: 0.5 }] };
const commonRuns = { all: train(common, "all"), worst: train(common, "worst") };
const gainRare = last(rare.worst, "tail") - last(rare.all, "tail");
const gainCommon = last(commonRuns.worst, "tail") - last(commonRuns.all, "tail");
check("exercise 2: the tail gain shrinks when hostile prompts are common", gainCommon < gainRare / 2,
  { "gain at 10% hostile": gainRare, "gain at 50% hostile": gainCommon });

// %% [markdown]
// **3. In the additive world, raise α to 0.4.** More data per step: does `worst` recover?
//
// *Answer:* no, it gets worse. With 26 kept episodes the kept set mixes all hostile episodes with
// the worst benign ones; inside it, turning positive co-occurs with hostile prompts (low reward) and
// continuing with benign ones (high reward), so the shared policy learns the wrong lesson. Keeping
// more is not the cure; ranking by the prompt is.

// %%
const wide = train(additive, "worst", { alpha: 0.4 });
check("exercise 3: α = 0.4 does not rescue outcome ranking in the additive world", last(wide, "tail") <= last(rev.worst, "tail") + 0.05,
  { "tail α=0.4": last(wide, "tail"), "tail α=0.2": last(rev.worst, "tail"), "tail all": last(rev.all, "tail") });

// %%
const failed = checkResults().filter((c) => !c.ok);
console.log(`${checkResults().length - failed.length} of ${checkResults().length} checks as expected`);

// %% [markdown]
// ## Where next
//
// * `03-rlhf-vs-ra-rlhf.ipynb`: the same schedule and selection inside PPO on a language model.
// * `docs/results/study/`: the fidelity study that found both regimes on real IMDB.
