// %% [markdown]
// # 03 · RLHF vs RA-RLHF
//
// Standard RLHF (PPO) maximises the **average** reward over a batch of episodes. RA-RLHF replaces
// that objective with a **CVaR** (conditional value at risk): the average over the worst α fraction
// of episodes. In practice that means a PPO step that only learns from the lowest-return episodes of
// each batch. Starting straight at α would discard most of the batch before the policy has learnt
// anything, so RA-RLHF uses a **soft-risk schedule**: the whole batch for a warm start of n
// iterations, then a linear shrink until ρ·M iterations, after which α·B episodes are kept.
//
// Part 1 plots that schedule for the paper's settings and shows the batch selection on a toy batch.
// Part 2 trains RLHF and RA-RLHF on a miniature task and compares their training curves.
//
// **Scale.** The first code cell reads `RARLHF_NB_SCALE` (`quick` for CI, `full`) and
// `RARLHF_DATA_DIR`; the committed outputs come from the `quick` run printed there.

// %%
import * as tslab from "tslab";
import { resolveDataDir } from "../dist/lib/data/paths";

const SCALE = (process.env.RARLHF_NB_SCALE ?? "quick") as "quick" | "full";
if (SCALE !== "quick" && SCALE !== "full") throw new Error(`RARLHF_NB_SCALE must be quick or full, got ${SCALE}`);
const DATA_DIR = resolveDataDir(process.env.RARLHF_DATA_DIR);
console.log({ SCALE, DATA_DIR });

// %% [markdown]
// ## Part 1 · The soft-risk schedule
//
// `softRiskCount(m, {B, alpha, n, rho, M})` returns how many episodes of the batch are kept at
// 0-based iteration m (the authors' `risk_scheduler="new"`):
//
// * m ≤ n: all B episodes (warm start, plain RLHF);
// * m ≥ ⌈ρM⌉: ⌈αB⌉ episodes;
// * otherwise ⌈B · max(α, 1 − K(m − n))⌉ with K = (1 − α)/(⌈ρM⌉ − n).
//
// M is the number of dataloader batches in one pass over the prompts (hard-coded per task in the
// authors' scripts). The settings below are the paper's (task specs in `lib/data/task-specs.ts`).

// %%
import { softRiskCount, type SoftRiskOptions } from "../dist/lib/rl/risk";
import { TASKS } from "../dist/lib/data/tasks";
import { htmlTable } from "../dist/lib/notebook/html";

const settings: Record<string, SoftRiskOptions> = {};
for (const name of ["imdb-gen", "jigsaw-gen", "rtp-gen", "imdb-mini", "jigsaw-mini"] as const) {
  const t = TASKS[name];
  settings[name] = { B: t.batchSize, M: t.M, ...t.risk };
}
// GPT-J 6B runs (paper-spec section 1.1): B = 8, n = 300, M = 3601.
settings["imdb-gptj"] = { B: 8, alpha: 0.2, n: 300, rho: 0.95, M: 3601 };

tslab.display.html(htmlTable(Object.entries(settings).map(([name, o]) => ({
  run: name, B: o.B, M: o.M, "α": o.alpha, n: o.n, "ρ": o.rho,
  "⌈ρM⌉": Math.ceil(o.rho * o.M),
  "kept at m = n+1": softRiskCount(o.n + 1, o),
  "kept at m = (n+⌈ρM⌉)/2": softRiskCount(Math.floor((o.n + Math.ceil(o.rho * o.M)) / 2), o),
  "kept at the end": softRiskCount(o.M - 1, o),
})), { caption: "Episodes kept per batch by the soft-risk schedule" }));

// %% [markdown]
// The same numbers over the whole pass, as the fraction of the batch kept. IMDB keeps 40% at the
// end, Jigsaw and RTP 20%. The miniatures scale n with M so the warm start covers the same share
// of training (IMDB 30/194 ≈ 5/30).

// %%
import { figureToPng } from "../dist/lib/eval/render";
import type { Figure } from "../dist/lib/eval/figures";

const scheduleFig: Figure = {
  data: Object.entries(settings).map(([name, o]) => {
    const m = Array.from({ length: o.M }, (_, i) => i);
    return { type: "scatter", mode: "lines", name, x: m.map((i) => i / o.M), y: m.map((i) => softRiskCount(i, o) / o.B) };
  }),
  layout: {
    title: { text: "Soft-risk schedule: share of the batch used by each PPO step" }, width: 800, height: 420,
    xaxis: { title: { text: "iteration m / M (one pass over the prompts)" } },
    yaxis: { title: { text: "episodes kept / B" }, range: [0, 1.05] },
  },
};
const schedulePng = await figureToPng(scheduleFig);
if (schedulePng) tslab.display.png(schedulePng); else console.log("no Chromium found: figure skipped");

// %% [markdown]
// ### Which episodes are kept
//
// At each step the trainer ranks the episodes by a statistic (by default the λ-return at the first
// response token, as in the authors' code) and `selectRiskMask(stat, alphaN)` keeps every episode
// whose statistic is ≤ the alphaN-th smallest one. Ties at the threshold are all kept. The others get
// a zero mask: they contribute no gradient and are left out of advantage whitening.

// %%
import { selectRiskMask } from "../dist/lib/rl/risk";
import { Rng } from "../dist/lib/engine/rng";

const rng = new Rng(0);
const toyReturns = Array.from({ length: 16 }, () => Math.round(rng.normal() * 100) / 100);
const toyOpts: SoftRiskOptions = { B: 16, alpha: 0.25, n: 2, rho: 0.95, M: 10 };
const rows = [0, 3, 6, 9].map((m) => {
  const alphaN = softRiskCount(m, toyOpts);
  const keep = selectRiskMask(toyReturns, alphaN);
  return {
    m, alphaN,
    "kept returns (sorted)": toyReturns.filter((_, i) => keep[i]).sort((a, b) => a - b).join("  "),
  };
});
tslab.display.html(htmlTable(rows, { caption: `16 toy returns: ${toyReturns.join("  ")}` }));
