/**
 * `rarlhf reward train --task imdb|toxicity [--arch linear|transformer] [--quick] [--data-dir <dir>] --out <dir> [--epochs n] [--limit n] [--seed n] [--calibration moments|lsq]`
 * `rarlhf reward eval  --model <spec> --task imdb|toxicity [--data-dir <dir>] [--json]`
 * `rarlhf reward score --model <spec> [--text "..."]...   (or one text per line on stdin)`
 * <spec>: a kit model folder, an ONNX classifier folder, or a Hugging Face id in the hub cache.
 */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { evaluateImdb, evaluateToxicity } from '../../rewards/evaluate';
import { loadRewardModel } from '../../rewards/load';
import { parseRewardArch, quickDefaults, recordMetrics, trainKitReward, type KitReward } from '../../rewards/arch';
import { readDefaults } from '../../data/readers';
import { parseDecimal } from '../../data/strict';
import { checkOutputPath, claimRunFolder } from '../../rl/run-folder';

const USAGE = `usage:
  rarlhf reward train --task imdb|toxicity --out <dir> [--force] [--arch linear|transformer] [--quick] [--data-dir <dir>] [--epochs n] [--limit n] [--seed n] [--calibration moments|lsq]
  rarlhf reward eval  --model <spec> --task imdb|toxicity [--data-dir <dir>] [--limit n] [--prefix-tokens n] [--json]
  rarlhf reward score --model <spec> [--text "..."]...   (no --text: one text per line on stdin)
--allow-replacement (train, eval): read invalid UTF-8 in the data as U+FFFD (counted and printed) instead of failing
--arch: linear (default) = hashed n-gram linear model; transformer = small BERT saved in HF layout with onnx/model.onnx
--quick (train): test-sized model and data (seconds; numbers not meaningful)
--force (train): replace the model already in --out (without it a non-empty --out is refused)
--prefix-tokens n (eval): score every text cut to its first n WordPiece tokens (compare models at the transformer's length, 126)
<spec> = kit model folder (either arch) | ONNX classifier folder | Hugging Face id (local hub cache)`;

function task(v: string | undefined): 'imdb' | 'toxicity' {
  if (v !== 'imdb' && v !== 'toxicity') throw new Error(`--task must be imdb or toxicity, got ${JSON.stringify(v)}\n${USAGE}`);
  return v;
}

function intOpt(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = parseDecimal(v); // not Number(): "0x10" is not 16 here
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return n;
}

function printEval(ev: Awaited<ReturnType<typeof evaluateImdb>> | Awaited<ReturnType<typeof evaluateToxicity>>): void {
  const f = (x: number) => x.toFixed(4);
  if (ev.task === 'imdb') {
    console.log(`model ${ev.model}`);
    console.log(`IMDB test (n=${ev.test.n}): accuracy ${f(ev.test.accuracy)}  AUC ${f(ev.test.auc)}  reward mean/std pos ${f(ev.test.meanStdPos[0])}/${f(ev.test.meanStdPos[1])} neg ${f(ev.test.meanStdNeg[0])}/${f(ev.test.meanStdNeg[1])}`);
    const r = ev.reference;
    console.log(`distilbert-imdb reference logits (n=${r.n}): Spearman ${f(r.spearman)}  Pearson ${f(r.pearson)}  RMSE(held-out half, n=${r.nHeldOutHalf}) ${f(r.rmseHeldOutHalf)}  sign agreement ${f(r.signAgreement)}`);
    console.log(`  mean/std model ${f(r.meanStd.model[0])}/${f(r.meanStd.model[1])}  reference ${f(r.meanStd.reference[0])}/${f(r.meanStd.reference[1])}`);
  } else {
    const j = ev.jigsawHeldOut;
    console.log(`model ${ev.model}`);
    console.log(`Jigsaw test, held-out half (n=${j.n}): accuracy ${f(j.accuracy)}  AUC ${f(j.auc)}  Spearman vs toxic-bert ${f(j.spearmanToxicBert)}  Pearson ${f(j.pearsonToxicBert)}  RMSE ${f(j.rmseToxicBert)}`);
    console.log(`  mean/std model ${f(j.meanStd.model[0])}/${f(j.meanStd.model[1])}  toxic-bert ${f(j.meanStd.toxicBert[0])}/${f(j.meanStd.toxicBert[1])}`);
    for (const [src, m] of Object.entries(ev.otherHeldOut)) console.log(`${src} held-out (n=${m.n}): accuracy ${f(m.accuracy)}  AUC ${f(m.auc)}`);
  }
  console.log(`(${ev.seconds.toFixed(1)} s)`);
}

export async function run(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      task: { type: 'string' },
      out: { type: 'string' },
      model: { type: 'string' },
      'data-dir': { type: 'string' },
      epochs: { type: 'string' },
      limit: { type: 'string' },
      seed: { type: 'string' },
      calibration: { type: 'string' },
      arch: { type: 'string' },
      'prefix-tokens': { type: 'string' },
      quick: { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
      text: { type: 'string', multiple: true },
      json: { type: 'boolean', default: false },
      'allow-replacement': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: false,
  });
  if (!sub || values.help || sub === 'help' || sub === '--help' || sub === '-h') {
    console.log(USAGE);
    return;
  }
  const dataDir = values['data-dir'];
  readDefaults.allowReplacement = values['allow-replacement']!; // dataset loaders: invalid UTF-8 as U+FFFD, counted
  const log = (m: string) => process.stderr.write(`[reward] ${m}\n`);
  if (sub === 'train') {
    const t = task(values.task);
    if (!values.out) throw new Error(`reward train: --out <dir> is required\n${USAGE}`);
    checkOutputPath(values.out, 'folder', 'reward train: --out'); // before the data is read and the model trained
    const hyper: Record<string, number> = {};
    const epochs = intOpt('epochs', values.epochs);
    const seed = intOpt('seed', values.seed);
    if (epochs !== undefined) hyper.epochs = epochs;
    if (seed !== undefined) hyper.seed = seed;
    const cal = values.calibration;
    if (cal !== undefined && cal !== 'moments' && cal !== 'lsq') throw new Error(`--calibration must be moments or lsq, got ${JSON.stringify(cal)}`);
    const arch = parseRewardArch(values.arch);
    const quick = values.quick!;
    const opts = { dataDir, hyper, limit: intOpt('limit', values.limit), log, calibration: cal as 'moments' | 'lsq' | undefined, quick };
    // --quick evaluates on a subsample too (the full held-out sets take minutes for a transformer)
    const evalLimit = quick ? quickDefaults(arch).evalLimit : undefined;
    // a model folder is one run's: one writer at a time, and an existing model is replaced only with --force
    const lock = claimRunFolder(values.out, { force: values.force, command: 'rarlhf reward train' });
    let model: KitReward;
    let ev: Awaited<ReturnType<typeof evaluateImdb>> | Awaited<ReturnType<typeof evaluateToxicity>>;
    try {
      ({ model } = await trainKitReward(t, arch, opts));
      log(`evaluating on held-out data${evalLimit ? ` (--quick: about ${evalLimit} rows)` : ''} ...`);
      ev = t === 'imdb' ? await evaluateImdb(model, { dataDir, limit: evalLimit }) : await evaluateToxicity(model, { dataDir, limit: evalLimit });
      recordMetrics(model, ev);
      await model.save(values.out);
    } finally {
      lock.release();
    }
    log(`saved ${values.out}`);
    if (values.json) console.log(JSON.stringify(ev));
    else printEval(ev);
    model.dispose();
  } else if (sub === 'eval') {
    const t = task(values.task);
    if (!values.model) throw new Error(`reward eval: --model <spec> is required\n${USAGE}`);
    const model = await loadRewardModel(values.model);
    const limit = intOpt('limit', values.limit); // subsample of the held-out rows (default: all)
    const prefixTokens = intOpt('prefix-tokens', values['prefix-tokens']);
    const ev = t === 'imdb' ? await evaluateImdb(model, { dataDir, limit, prefixTokens }) : await evaluateToxicity(model, { dataDir, limit, prefixTokens });
    if (values.json) console.log(JSON.stringify(ev));
    else printEval(ev);
    await model.dispose?.();
  } else if (sub === 'score') {
    if (!values.model) throw new Error(`reward score: --model <spec> is required\n${USAGE}`);
    const texts = values.text ?? fs.readFileSync(0, 'utf8').split('\n').filter((l) => l.trim() !== '');
    const model = await loadRewardModel(values.model);
    const scores = await model.score(texts);
    texts.forEach((t, i) => console.log(values.json ? JSON.stringify({ text: t, score: scores[i] }) : `${scores[i].toFixed(4)}\t${t}`));
    await model.dispose?.();
  } else {
    throw new Error(`unknown reward subcommand "${sub}"\n${USAGE}`);
  }
}
