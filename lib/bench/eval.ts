/**
 * `rarlhf bench eval`: (1) metrics of a synthetic 5,000-prompt x 4-model generations table
 * (read CSV + every metric + seed aggregation; target < 5 s), (2) writing the HTML report for it
 * (no PNG), (3) perplexity throughput on a TINY random GPT-2 (2 layers, 64 wide, vocab 256), which
 * measures the batching/masking path, not GPT-2-small speed. `--no-ppl` skips (3).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Rng } from '../engine/rng';
import { aggregateSeeds, evaluateTable, type EvalSpec } from '../eval/evaluate';
import { readGenerations, writeGenerations, type Row } from '../eval/generations';
import { writeReport } from '../eval/report';

const WORDS = 'the a movie film was is great bad terrible wonderful plot acting story boring fun love hate and but not very really'.split(' ');

/** A synthetic table shaped like the paper's IMDB eval (48-word responses, rewards ~ N(score, 1)). */
export function syntheticGenerations(rows: number, models: string[], seed = 0): Row[] {
  const rng = new Rng(seed);
  const words = (n: number) => Array.from({ length: n }, () => WORDS[rng.int(WORDS.length)]).join(' ');
  return Array.from({ length: rows }, () => {
    const label = rng.int(2);
    const score = (label ? 2 : -2) + 1.5 * rng.normal();
    const row: Row = { prompt: words(20), label, prompt_score: score };
    models.forEach((m, j) => { row[`${m}_response`] = words(40 + rng.int(9)); row[`${m}_reward`] = score * 0.5 + 0.4 * j + rng.normal(); });
    return row;
  });
}

export async function bench(argv: string[] = []): Promise<object> {
  const models = ['gpt2', 'sft', 'rlhf', 'ra_rlhf'];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-bench-eval-'));
  try {
    const file = path.join(dir, 'gens.csv');
    writeGenerations(file, syntheticGenerations(5000, models));
    const spec: EvalSpec = {
      promptCol: 'prompt', promptScoreCol: 'prompt_score', classCol: 'label', tail: -2.5,
      models: models.map((name) => ({ name, responseCol: `${name}_response`, rewardCol: `${name}_reward` })),
    };
    let t0 = performance.now();
    const result = evaluateTable(readGenerations(file), spec);
    aggregateSeeds([result]);
    const evalSeconds = (performance.now() - t0) / 1000;
    t0 = performance.now();
    await writeReport([result], { outDir: path.join(dir, 'out'), png: false });
    const reportSeconds = (performance.now() - t0) / 1000;
    const out: Record<string, unknown> = {
      eval_5000x4_seconds: round(evalSeconds), eval_under_5s: evalSeconds < 5, report_html_5000x4_seconds: round(reportSeconds),
    };
    if (!argv.includes('--no-ppl')) Object.assign(out, await perplexityThroughput());
    return out;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Tokens/s of perplexity() on a tiny random GPT-2 (64 texts x 127 tokens + BOS, batch 8). */
async function perplexityThroughput(): Promise<object> {
  const { initEngine } = await import('../engine');
  const { GPT2LMHeadModel } = await import('../models/gpt2');
  const { causalLMLogprobs, perplexityOfIds } = await import('../eval/perplexity');
  const engine = await initEngine({ quiet: true });
  const model = new GPT2LMHeadModel({ preset: 'tiny' }, { seed: 0 });
  const rng = new Rng(1);
  const ids = Array.from({ length: 64 }, () => Array.from({ length: 127 }, () => rng.int(255)));
  const lm = causalLMLogprobs(model);
  await perplexityOfIds(lm, ids.slice(0, 8), { bosTokenId: 255, batchSize: 8 }); // warm-up
  const t0 = performance.now();
  const r = await perplexityOfIds(lm, ids, { bosTokenId: 255, batchSize: 8 });
  const s = (performance.now() - t0) / 1000;
  const tokens = r.tokens.reduce((a, b) => a + b, 0);
  model.dispose();
  return {
    ppl_model: 'tiny random GPT-2 (n_layer 2, n_embd 64, vocab 256), not GPT-2 small',
    ppl_backend: engine.backend, ppl_tokens_per_second: Math.round(tokens / s), ppl_tiny_random_mean: round(r.meanPerplexity),
  };
}

function round(x: number): number { return Math.round(x * 1000) / 1000; }
