/**
 * `rarlhf eval`: metrics, tables and figures from generations tables (spec section 6), in the
 * wide or the long layout (lib/eval/layout.ts; docs/analyse-generations.md).
 *
 *   rarlhf eval --generations gens_seed0.csv [--generations gens_seed1.csv ...] [--layout long]
 *     [--model RLHF=rlhf_response:rlhf_reward --model RA-RLHF ...] [--tail -2.5 | --task imdb]
 *     [--compare RA-RLHF,RLHF] [--frontier [0.05,0.1,0.2,0.4,1]] [--reference RLHF] [--per-prompt prompts.csv]
 *     [--score-prompts <reward model>]
 *     [--cvar-alpha 0.2] [--perplexity RLHF=44.1,44.6] [--curves RUN=dir/metrics.jsonl]
 *     [--out dir] [--json] [--no-png] [--plotly beside|inline]
 *
 * Each --generations file is one seed: the table shows mean ± sample std over files.
 * `--model NAME` alone means NAME=NAME_response:NAME_reward (wide) or the rows with model NAME (long).
 * Resolved columns, prompt-score decisions and small tails are reported on stderr.
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { compareModels, formatCompare, parseCompare, type CompareResult } from '../../eval/compare';
import { evaluateTable, promptView, type EvalSpec } from '../../eval/evaluate';
import { readMetricsJsonl, type CurveRun } from '../../eval/figures';
import type { GenerationsFormat } from '../../eval/generations';
import { writeFrontier } from '../../eval/frontier-report';
import { loadTables } from '../../eval/load-tables';
import { DEFAULT_CVAR_ALPHA } from '../../eval/metrics';
import { writePerPrompt } from '../../eval/per-prompt';
import { DEFAULT_FRONTIER_ALPHAS, frontierCaption, frontierMarkdown, parseFrontierAlphas, riskFrontier, type FrontierResult } from '../../eval/risk-frontier';
import { closeRenderer, type PlotlyMode } from '../../eval/render';
import { resultsJson, writeReport } from '../../eval/report';
import { aggregateSeeds } from '../../eval/evaluate';
import { markdownTable } from '../../eval/tables';
import { perplexityOfModels, readTexts } from '../../eval/perplexity-run';
import { checkOutputPath } from '../../rl/run-folder';
import { numberFlag, positiveInt, type NumberRule } from '../flags';

/** Tail thresholds of the paper per task. */
export const TASK_TAIL: Record<string, number> = { imdb: -2.5, jigsaw: 5, rtp: 5, toxicity: 5 };

export const HELP = `usage: rarlhf eval --generations <file> [--generations <file> ...] [--layout wide|long] [--model NAME ...]
               [--tail <t> | --task imdb|jigsaw|rtp] [--compare A,B] [--frontier [alphas]] [--per-prompt <file>] [options]

Table layouts (CSV with a header row, or JSONL; .gz read too; one file per seed):
  wide (default): one row per prompt (per sample with --sample-col)
      prompt,prompt_score,A_response,A_reward,B_response,B_reward
      "The film",-2.9,"was dull",-1.2,"was fine",0.4
    --model NAME = columns NAME_response / NAME_reward; --model NAME=<response col>:<reward col>;
    no --model: every <name>_reward column with a <name>_response beside it.
  long (--layout long): one row per (prompt, model) (per sample with --sample-col)
      prompt,prompt_score,model,response,score
      "The film",-2.9,A,"was dull",-1.2
      "The film",-2.9,B,"was fine",0.4
    --model NAME = the rows whose model column is NAME (default: every model in the file). Each
    model needs exactly one row per prompt; the rows of a prompt must agree on prompt_score/class.
  prompt_score (reward of the prompt alone) is optional: without it, mean reward and CVaR only.

Worked example (long table above as gens.csv):
  rarlhf eval --generations gens.csv --layout long --tail -2.5 --compare B,A --per-prompt prompts.csv
  stderr: "model A: rows with model = 'A' (response / score)", a warning when the tail has N < 30
  stdout: the table (tail header shows N), then B − A of mean reward, tail reward and CVaR with a
          paired-bootstrap 95% interval (--json: "compare": {"metrics": [{"metric", "diff", "ci95": [lo, hi]}]})

Columns and layout:
  --layout wide|long          table layout (default wide)
  --format csv|jsonl          file format (default: from the extension)
  --prompt-col <c>            prompt text column (default prompt)
  --prompt-score-col <c>      reward of the prompt alone (default prompt_score); optional unless a tail is asked
  --model-col <c>             long layout: model name column (default model)
  --response-col <c>          long layout: response column (default response)
  --reward-col <c>            long layout: reward column (default score)
  --class-col <c>             class label column for the histograms (e.g. label, toxic)
  --class-names 0=neg,1=pos   display names of class values
  --zoom x0,x1,y0,y1          zoom inset in the histograms (paper's Jigsaw figure: -7,5,0,150)
  --sample-col <c>            sample index column when k > 1 samples per prompt
  --prompt-id-col <c>         group rows by this column instead of the prompt text
  --allow-replacement         read invalid UTF-8 in the tables as U+FFFD (counted and printed) instead of failing
Metrics:
  --tail <t> | --task imdb|jigsaw|rtp   tail threshold on the prompt score (-2.5 IMDB, +5 toxicity); tail reward =
                              mean reward over prompts with prompt score <= t; its N is printed, with a warning under 30
  --score-prompts <dir|id>    compute a missing prompt-score column with a reward model (kit/ONNX folder or HF id)
  --cvar-alpha <a>            CVaR level: mean of the worst ceil(a*N) rewards (default ${DEFAULT_CVAR_ALPHA}; rarlhf repro
                              reports CVaR at the task's risk level alpha instead, on purpose)
  --compare A,B               paired A − B of mean reward, tail reward, CVaR over the same prompts, with a
                              paired bootstrap 95% interval (prompts, and seed files when several)
  --frontier [a1,a2,...]      risk frontier: CVaR at each level (default ${DEFAULT_FRONTIER_ALPHAS.join(',')}; 1 = mean reward) per
                              model, and model − reference with a paired bootstrap 95% interval; with --out writes
                              frontier.md, frontier.json and the figure frontier.html/.svg/.png (CVaR vs alpha)
  --reference <name>          the frontier's reference model (default: rlhf/RLHF when present, else the first model)
  --resamples <n>             bootstrap resamples (default 2000); --bootstrap-seed <s> (default 0)
  --per-prompt <file>         write one row per prompt: prompt, [class], prompt_score, <model>_reward, line (csv or jsonl)
  --bins <n>                  histogram bins (default 30)
  --distinct-denominator ngrams|words   (default ngrams; 'words' = DExperts distinctness)
Perplexity:
  --perplexity NAME=v[,v...]  perplexity per seed to show in the table
  --ppl-model NAME=dir[,dir...]  compute perplexity of checkpoints (one per seed) on --ppl-texts
  --ppl-texts <file>          held-out human texts (csv/jsonl[.gz]); --ppl-text-col <c> (default text)
  --ppl-where col=value       keep matching rows (repeatable), e.g. toxic=0 (Jigsaw), label=1 (IMDB)
  --ppl-max-chars <n>         first n characters per text (paper: 500 Jigsaw, 1000 IMDB/RTP)
  --ppl-batch-size <n>        texts per forward pass (default 8); --ppl-limit <n> first n texts
  --ppl-tokenizer <dir>       tokenizer for --ppl-model checkpoints that have no tokenizer files (else an error),
                              e.g. ../shared/data/tokenizers/gpt2
Output:
  --curves [NAME=]metrics.jsonl  plot training curves (repeatable); --smoothing <w> (default 0.97)
  --out <dir>                 write results.json/.md/.html and figures (HTML + PNG); needs prompt scores and a tail
  --no-png                    skip PNG rendering
  --plotly beside|inline      plotly.min.js beside the pages (default) or inlined in each
  --title <text>              report title
  --json                      print one JSON object instead of the markdown table`;

const parseNumber = (flag: string, s: string, rule: NumberRule = {}): number => numberFlag(flag, s, rule);

function parseKeyValues(flag: string, items: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items ?? []) {
    const i = item.indexOf('=');
    if (i <= 0) throw new Error(`${flag} "${item}": expected KEY=VALUE`);
    out[item.slice(0, i)] = item.slice(i + 1);
  }
  return out;
}

/** `--frontier` takes an optional value, which parseArgs cannot express: a bare one means the default levels. */
export function expandBareFrontier(argv: readonly string[]): string[] {
  return argv.map((x, i) => {
    const next = argv[i + 1];
    const bare = next === undefined || (next.startsWith('-') && !/^-(\d|\.\d)/.test(next));
    return x === '--frontier' && bare ? `--frontier=${DEFAULT_FRONTIER_ALPHAS.join(',')}` : x;
  });
}

/** parseArgs rejects "--tail -2.5"; join an option with a following negative number ("--tail=-2.5"). */
export function joinNegativeNumbers(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const next = argv[i + 1];
    if (/^--[^=]+$/.test(argv[i]) && next !== undefined && /^-(\d|\.\d)/.test(next)) { out.push(`${argv[i]}=${next}`); i++; }
    else out.push(argv[i]);
  }
  return out;
}

export async function run(argv: string[]): Promise<void> {
  const { values: a } = parseArgs({
    args: joinNegativeNumbers(expandBareFrontier(argv)),
    options: {
      generations: { type: 'string', multiple: true }, format: { type: 'string' },
      'prompt-col': { type: 'string', default: 'prompt' }, 'prompt-score-col': { type: 'string', default: 'prompt_score' },
      'class-col': { type: 'string' }, 'class-names': { type: 'string' }, 'sample-col': { type: 'string' },
      'prompt-id-col': { type: 'string' }, model: { type: 'string', multiple: true }, tail: { type: 'string' },
      task: { type: 'string' }, 'cvar-alpha': { type: 'string', default: String(DEFAULT_CVAR_ALPHA) }, bins: { type: 'string', default: '30' },
      'distinct-denominator': { type: 'string', default: 'ngrams' }, perplexity: { type: 'string', multiple: true },
      curves: { type: 'string', multiple: true }, smoothing: { type: 'string', default: '0.97' },
      out: { type: 'string' }, 'no-png': { type: 'boolean', default: false }, plotly: { type: 'string', default: 'beside' },
      'ppl-model': { type: 'string', multiple: true }, 'ppl-texts': { type: 'string' }, 'ppl-text-col': { type: 'string', default: 'text' },
      'ppl-where': { type: 'string', multiple: true }, 'ppl-max-chars': { type: 'string' }, 'ppl-batch-size': { type: 'string', default: '8' },
      'ppl-limit': { type: 'string' }, zoom: { type: 'string' },
      title: { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' },
      'allow-replacement': { type: 'boolean', default: false }, 'ppl-tokenizer': { type: 'string' },
      layout: { type: 'string', default: 'wide' }, 'model-col': { type: 'string', default: 'model' },
      'response-col': { type: 'string', default: 'response' }, 'reward-col': { type: 'string', default: 'score' },
      compare: { type: 'string' }, resamples: { type: 'string', default: '2000' }, 'bootstrap-seed': { type: 'string', default: '0' },
      'per-prompt': { type: 'string' }, 'score-prompts': { type: 'string' }, frontier: { type: 'string' }, reference: { type: 'string' },
    },
    allowPositionals: false,
  });
  if (a.help) { console.log(HELP); return; }
  if (a.out) checkOutputPath(a.out, 'folder', 'eval: --out'); // before tables, perplexity and figures are computed
  const gens = a.generations ?? [];
  if (gens.length === 0 && !(a.curves && a.curves.length)) throw new Error(`eval: --generations <file> is required\n\n${HELP}`);
  if (a.format && a.format !== 'csv' && a.format !== 'jsonl') throw new Error(`--format "${a.format}": expected csv or jsonl`);
  if (a['distinct-denominator'] !== 'ngrams' && a['distinct-denominator'] !== 'words') throw new Error('--distinct-denominator: expected ngrams or words');
  if (a.plotly !== 'beside' && a.plotly !== 'inline') throw new Error('--plotly: expected beside or inline');
  if (a.layout !== 'wide' && a.layout !== 'long') throw new Error(`--layout "${a.layout}": expected wide or long`);

  let tail: number | undefined;
  if (a.tail !== undefined) tail = parseNumber('--tail', a.tail);
  else if (a.task !== undefined) {
    tail = TASK_TAIL[a.task];
    if (tail === undefined) throw new Error(`--task "${a.task}": expected one of ${Object.keys(TASK_TAIL).join(', ')}`);
  }
  if (a.out && gens.length > 0 && tail === undefined) {
    throw new Error('eval --out: the report shows tail reward and prompt-score figures; give --tail <threshold> or --task imdb|jigsaw|rtp (or drop --out for mean reward and CVaR only)');
  }
  const log = (line: string) => process.stderr.write(`eval: ${line}\n`);
  const cvarAlpha = parseNumber('--cvar-alpha', a['cvar-alpha']!, { gt: 0, max: 1, what: 'CVaR level' });
  const resamples = parseNumber('--resamples', a.resamples!, { integer: true, min: 1, max: 10_000_000, what: 'bootstrap resamples' });
  const bootstrapSeed = parseNumber('--bootstrap-seed', a['bootstrap-seed']!, { integer: true, min: 0, what: 'bootstrap seed' });
  if (a.compare && gens.length === 0) throw new Error('eval --compare needs --generations <file>');
  if (a['per-prompt'] && gens.length === 0) throw new Error('eval --per-prompt needs --generations <file>');
  if (a.frontier !== undefined && gens.length === 0) throw new Error('eval --frontier needs --generations <file>');
  if (a.reference !== undefined && a.frontier === undefined) throw new Error('eval --reference is the reference of --frontier; add --frontier [alphas]');
  const frontierAlphas = a.frontier !== undefined ? parseFrontierAlphas(a.frontier) : undefined;
  if (a['per-prompt']) checkOutputPath(a['per-prompt'], 'file', 'eval: --per-prompt');

  // Tables first (cheap, and every column error shows before perplexity or reward models run).
  const loaded = await loadTables(gens, {
    layout: a.layout, format: a.format as GenerationsFormat | undefined, allowReplacement: a['allow-replacement'], models: a.model,
    columns: {
      modelCol: a['model-col']!, responseCol: a['response-col']!, rewardCol: a['reward-col']!, promptCol: a['prompt-col']!,
      promptScoreCol: a['prompt-score-col']!, promptIdCol: a['prompt-id-col'], sampleCol: a['sample-col'], classCol: a['class-col'],
    },
    scorePrompts: a['score-prompts'], needPromptScores: tail !== undefined, log,
  });
  const spec: EvalSpec = {
    promptCol: a['prompt-col']!, promptScoreCol: a['prompt-score-col']!, classCol: a['class-col'], sampleCol: a['sample-col'],
    promptIdCol: a['prompt-id-col'], models: loaded.models, tail, cvarAlpha,
    bins: parseNumber('--bins', a.bins!, { integer: true, min: 1, max: 100_000, what: 'histogram bins' }),
    distinctDenominator: a['distinct-denominator'] as 'ngrams' | 'words',
  };
  const specs = loaded.tables.map((_, i) => ({ ...spec, promptScoreCol: loaded.hasPromptScores[i] ? spec.promptScoreCol : undefined }));
  const compare = a.compare ? parseCompare(a.compare, loaded.models.map((m) => m.name)) : undefined;
  const perplexity = Object.fromEntries(Object.entries(parseKeyValues('--perplexity', a.perplexity)).map(([k, v]) => [
    k, v.split(',').map((x) => parseNumber(`--perplexity ${k}`, x, { gt: 0, what: 'perplexity per seed' })),
  ]));
  const pplModels = Object.fromEntries(Object.entries(parseKeyValues('--ppl-model', a['ppl-model'])).map(([k, v]) => [k, v.split(',')]));
  let corpusPerplexity: Record<string, number[]> | undefined;
  if (Object.keys(pplModels).length > 0) {
    if (!a['ppl-texts']) throw new Error('--ppl-model needs --ppl-texts <file>');
    const texts = readTexts({ file: a['ppl-texts'], textCol: a['ppl-text-col'], where: parseKeyValues('--ppl-where', a['ppl-where']),
      limit: a['ppl-limit'] !== undefined ? parseNumber('--ppl-limit', a['ppl-limit'], positiveInt('number of texts')) : undefined,
      allowReplacement: a['allow-replacement'] });
    const ppl = await perplexityOfModels(pplModels, texts, {
      maxChars: a['ppl-max-chars'] !== undefined ? parseNumber('--ppl-max-chars', a['ppl-max-chars'], positiveInt('characters per text')) : undefined,
      batchSize: parseNumber('--ppl-batch-size', a['ppl-batch-size']!, positiveInt('texts per forward pass')), tokenizerDir: a['ppl-tokenizer'],
    });
    for (const [k, v] of Object.entries(ppl.perplexity)) {
      if (perplexity[k]) throw new Error(`perplexity of ${k} given twice (--perplexity and --ppl-model)`);
      perplexity[k] = v;
    }
    corpusPerplexity = ppl.corpusPerplexity;
  }
  for (const k of Object.keys(perplexity)) {
    if (!spec.models.some((m) => m.name === k)) throw new Error(`perplexity of ${k}: no --model named ${k}`);
  }
  const curves: CurveRun[] = (a.curves ?? []).map((c) => {
    const i = c.indexOf('=');
    const file = i > 0 ? c.slice(i + 1) : c;
    return { name: i > 0 ? c.slice(0, i) : path.basename(path.dirname(path.resolve(file))), records: readMetricsJsonl(file) };
  });
  const classNames = a['class-names'] ? parseKeyValues('--class-names', a['class-names'].split(',')) : undefined;

  let zoom: { x: [number, number]; y: [number, number] } | undefined;
  if (a.zoom) {
    const z = a.zoom.split(',').map((x) => parseNumber('--zoom', x));
    if (z.length !== 4) throw new Error(`--zoom "${a.zoom}": expected x0,x1,y0,y1`);
    zoom = { x: [z[0], z[1]], y: [z[2], z[3]] };
  }

  const results = loaded.tables.map((t, i) => evaluateTable(t, specs[i]));
  for (const r of results) {
    const n = r.models[0]?.tailN ?? 0;
    if (tail !== undefined && n < 30) log(`warning: ${r.file}: the tail (prompt score ≤ ${tail}) holds N=${n} prompt${n === 1 ? '' : 's'} (< 30): tail reward rests on few prompts`);
  }
  const needViews = compare || a['per-prompt'] || frontierAlphas;
  const views = needViews ? loaded.tables.map((t, i) => promptView(t, specs[i])) : [];
  const names = loaded.models.map((m) => m.name);
  let cmp: CompareResult | undefined;
  if (compare) cmp = compareModels(views, names, compare[0], compare[1], { tail, cvarAlpha, resamples, seed: bootstrapSeed });
  let frontier: FrontierResult | undefined;
  if (frontierAlphas) frontier = riskFrontier(views, names, { alphas: frontierAlphas, reference: a.reference, resamples, seed: bootstrapSeed });
  const frontierText = frontier && `\nRisk frontier. ${frontierCaption(frontier)}\n\n${frontierMarkdown(frontier)}`;
  if (a['per-prompt']) log(`wrote ${writePerPrompt(a['per-prompt'], views, names)} per-prompt rows to ${a['per-prompt']}`);
  const columns = loaded.models.map((m) => ({ ...m, layout: a.layout }));
  try {
    if (a.out) {
      const rep = await writeReport(results, {
        outDir: a.out, title: a.title, plotly: a.plotly as PlotlyMode, png: !a['no-png'], classNames, zoom, perplexity, curves,
        smoothing: parseNumber('--smoothing', a.smoothing!, { min: 0, lt: 1, what: 'EMA factor' }),
      });
      const fr = frontier && await writeFrontier(a.out, frontier, { png: !a['no-png'], plotly: a.plotly as PlotlyMode });
      if (fr) { rep.files.push(...fr.files); if (fr.pngSkipped) rep.pngSkipped.push('frontier'); }
      if (a.json) console.log(JSON.stringify({ ...resultsJson(results, rep.table), perplexity, corpusPerplexity, columns, compare: cmp, frontier, files: rep.files, pngSkipped: rep.pngSkipped }));
      else {
        console.log(rep.markdown);
        if (cmp) console.log(`\n${formatCompare(cmp)}`);
        if (frontierText) console.log(frontierText);
        console.log(`wrote ${rep.files.length} files to ${a.out}${rep.pngSkipped.length ? ` (PNG skipped: ${rep.pngSkipped.join(', ')})` : ''}`);
      }
    } else if (results.length > 0) {
      const table = aggregateSeeds(results, perplexity);
      if (a.json) console.log(JSON.stringify({ ...resultsJson(results, table), perplexity, corpusPerplexity, columns, compare: cmp, frontier }));
      else {
        console.log(markdownTable(table, { tail: results[0].tail, cvarAlpha: results[0].cvarAlpha }));
        if (cmp) console.log(`\n${formatCompare(cmp)}`);
        if (frontierText) console.log(frontierText);
      }
    } else {
      throw new Error('eval: --curves without --generations needs --out <dir> for the figures');
    }
  } finally {
    await closeRenderer();
  }
}
