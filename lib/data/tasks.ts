/**
 * loadTask(name): a task spec (task-specs.ts) turned into train prompts, test prompts and SFT
 * texts, following the paper's preparation (paper-spec §5) where the data exists offline and
 * documented stand-ins where it does not (each TaskSpec's `notes`, plus `TaskData.notes`).
 */
import * as path from 'node:path';
import { GPT2Tokenizer } from '../text/gpt2-tokenizer';
import { filterByLength, imdbTestSample, loadImdb } from './imdb';
import { loadJigsaw, splitByToxic } from './jigsaw';
import { loadOlid } from './olid';
import { HUB_SOURCE, type HubDatasetOptions } from './hub-datasets';
import { makePrompts, type Prompt, type PromptTokenizer } from './prompts';
import { resolveDataDir } from './paths';
import type { LoadReport, ReadOptions } from './readers';
import { dataLog } from './strict';
import { loadRtp, rtpSplit } from './rtp';
import { build7030, buildBalanced, hashHalves, seededSample, type ClassMix } from './split';
import { getTaskSpec, TASKS, type TaskName, type TaskSpec } from './task-specs';

export { TASKS, getTaskSpec };
export type { TaskName, TaskSpec };

/** A prompt with its source text, class and (where the dataset has one) precomputed reward. */
export interface TaskPrompt extends Prompt {
  text: string;
  /** Class per spec.classField: IMDB 1 = positive; toxicity tasks 1 = toxic. */
  label: 0 | 1;
  /**
   * The dataset's own reward for the FULL source text (Jigsaw test: -toxic-bert toxic logit of the
   * whole comment), null when absent. Not the prompt-only score (prompt_score), which eval computes.
   */
  datasetReward: number | null;
}

export interface MixStats {
  nToxic: number;
  nNonToxic: number;
  requestedNonToxic: number;
  capped: boolean;
}

export interface TaskData {
  spec: TaskSpec;
  train: TaskPrompt[];
  test: TaskPrompt[];
  sftTexts: string[];
  /** the opposite class of sftTexts under the same cap (negative reviews, toxic comments): the DExperts anti-expert's texts */
  antiTexts: string[];
  /** floor(train.length / batchSize): the dataloader batches one pass really has (spec.M is the paper's). */
  batchesPerEpoch: number;
  reports: LoadReport[];
  mix: { train?: MixStats; test?: MixStats };
  notes: string[];
}

export interface LoadTaskOptions extends ReadOptions {
  dataDir?: string;
  /** Default: GPT2Tokenizer.fromDir(<dataDir>/tokenizers/gpt2). */
  tokenizer?: PromptTokenizer;
  /**
   * Replace the staged sources. IMDB: train/test = .jsonl[.gz]/.parquet file or an aclImdb folder.
   * Jigsaw: train = Kaggle train.csv (or the authors' 70/30 file), test = jigsaw_test.csv/.jsonl.gz.
   * RTP: train = full prompts.jsonl (split into train/test by the eda.py recipe).
   * 'hub' (IMDB train/test, RTP train): download the paper's Hub dataset (lib/data/hub-datasets.ts).
   */
  sources?: { train?: string; test?: string };
  /** Download options for 'hub' sources (endpoint, cacheDir, revision, offline, ...). */
  hub?: HubDatasetOptions;
  /**
   * Which test rows become evaluation prompts. 'all' (default): the task's test set as the paper
   * builds it (correct with the real toxic-bert). 'reward-heldout': toxicity tasks keep only the
   * rows on the evaluation side of the kit reward models' held-out rule (lib/rewards/heldout.ts,
   * docs/reward-fidelity.md), so a KIT toxicity model never scores prompts it was trained on.
   * Train prompts are unchanged. IMDB needs no rule (the kit sentiment model never sees IMDB test).
   */
  evalRows?: EvalRows;
}

export type EvalRows = 'all' | 'reward-heldout';

interface Row {
  text: string;
  label: 0 | 1;
  datasetReward: number | null;
}

const stats = (m: ClassMix<unknown>): MixStats => ({
  nToxic: m.nToxic,
  nNonToxic: m.nNonToxic,
  requestedNonToxic: m.requestedNonToxic,
  capped: m.capped,
});

export async function loadTask(name: TaskName | string, opts: LoadTaskOptions = {}): Promise<TaskData> {
  const spec = getTaskSpec(name);
  const tokenizer = opts.tokenizer ?? GPT2Tokenizer.fromDir(path.join(resolveDataDir(opts.dataDir), 'tokenizers', 'gpt2'));
  // one loader per dataset: a new task is a spec entry (task-specs.ts) plus, for a new dataset, a loader here
  const loader = Object.hasOwn(DATASET_LOADERS, spec.dataset) ? DATASET_LOADERS[spec.dataset] : undefined;
  if (!loader) throw new Error(`loadTask(${spec.name}): no loader for dataset "${spec.dataset}" (known: ${Object.keys(DATASET_LOADERS).join(', ')})`);
  const parts = await loader(spec, opts);
  const evalRows = opts.evalRows ?? 'all';
  if (evalRows !== 'all' && evalRows !== 'reward-heldout') throw new Error(`loadTask: evalRows must be 'all' or 'reward-heldout', got ${JSON.stringify(evalRows)}`);
  if (evalRows === 'reward-heldout') applyHeldOutRule(spec, parts);
  const toPrompts = (rows: Row[]): TaskPrompt[] =>
    makePrompts(
      rows.map((r) => r.text),
      tokenizer,
      spec.promptTokens,
    ).map((p, i) => ({ ...p, text: rows[i].text, label: rows[i].label, datasetReward: rows[i].datasetReward }));
  const train = toPrompts(parts.train);
  const batchesPerEpoch = Math.floor(train.length / spec.batchSize);
  const notes = [...spec.notes, ...parts.notes];
  if (batchesPerEpoch < spec.M) {
    notes.push(`Train prompts give ${batchesPerEpoch} batches of ${spec.batchSize}, fewer than the paper's M=${spec.M}.`);
  }
  return { spec, train, test: toPrompts(parts.test), sftTexts: parts.sftTexts, antiTexts: parts.antiTexts, batchesPerEpoch, reports: parts.reports, mix: parts.mix, notes };
}

/**
 * Keep the test rows a kit toxicity reward model never trained on: side b of hashHalves, which is
 * exactly isRewardEvalRow (lib/rewards/heldout.ts defines the rule through this function; lib/data
 * does not import lib/rewards). Applied after the paper's split, so train prompts do not move.
 */
function applyHeldOutRule(spec: TaskSpec, parts: Parts): void {
  if (spec.dataset === 'imdb') {
    parts.notes.push('evalRows reward-heldout: no effect on IMDB (the kit sentiment model trains on IMDB train only).');
    return;
  }
  const before = parts.test.length;
  parts.test = hashHalves(parts.test, (r) => r.text).b;
  dataLog(`${spec.name}: evalRows reward-heldout dropped ${before - parts.test.length} of ${before} test prompts (kit reward-train side of the held-out rule)`);
  const nToxic = parts.test.filter((r) => r.label === 1).length;
  if (parts.mix.test) parts.mix.test = { ...parts.mix.test, nToxic, nNonToxic: parts.test.length - nToxic };
  parts.notes.push(`evalRows reward-heldout: ${parts.test.length} of ${before} test rows are on the reward-eval side of the held-out rule (${nToxic} toxic); the other ${before - parts.test.length} may be kit reward-train texts and were dropped.`);
}

interface Parts {
  train: Row[];
  test: Row[];
  sftTexts: string[];
  antiTexts: string[];
  reports: LoadReport[];
  mix: TaskData['mix'];
  notes: string[];
}

/** A seeded sample of n rows (the task's size); printed, so the rows left out are counted. */
function cap<T>(rows: T[], n: number | null, seed: number, what = 'rows'): T[] {
  if (n === null || rows.length <= n) return rows;
  dataLog(`${what}: kept a seeded sample of ${n} of ${rows.length} (the task's size)`);
  return seededSample(rows, n, seed);
}

const DATASET_LOADERS: Record<string, (spec: TaskSpec, opts: LoadTaskOptions) => Promise<Parts>> = {
  imdb: (s, o) => imdbParts(s, o),
  jigsaw: (s, o) => jigsawParts(s, o),
  rtp: (s, o) => rtpParts(s, o),
};

async function imdbParts(spec: TaskSpec, opts: LoadTaskOptions): Promise<Parts> {
  const ro = { dataDir: opts.dataDir, skipBadRows: opts.skipBadRows, hub: opts.hub };
  // One read of train serves both: prompts use len > 200, SFT (sft_auth1.py) uses every positive review.
  const sftSet = await loadImdb('train', { ...ro, source: opts.sources?.train, minChars: -1 });
  const trainSet = filterByLength(sftSet);
  const testSet = await loadImdb('test', { ...ro, source: opts.sources?.test });
  const asRow = (r: { text: string; label: 0 | 1 }): Row => ({ text: r.text, label: r.label, datasetReward: null });
  const test = spec.testSize === null ? testSet.rows : imdbTestSample(testSet.rows, Math.min(spec.testSize, testSet.rows.length), spec.dataSeed);
  if (test.length < testSet.rows.length) dataLog(`${spec.name} test prompts: kept a seeded sample of ${test.length} of ${testSet.rows.length} (the task's size)`);
  const sft = sftSet.rows.filter((r) => r.label === spec.sftClass).map((r) => r.text);
  const anti = sftSet.rows.filter((r) => r.label !== spec.sftClass).map((r) => r.text);
  return {
    train: cap(trainSet.rows, spec.trainSize, spec.dataSeed, `${spec.name} train prompts`).map(asRow),
    test: test.map(asRow),
    sftTexts: cap(sft, spec.sftMaxTexts, spec.dataSeed, `${spec.name} SFT texts`),
    antiTexts: cap(anti, spec.sftMaxTexts, spec.dataSeed, `${spec.name} anti-expert texts`),
    reports: [trainSet.report, testSet.report],
    mix: {},
    notes: [],
  };
}

async function jigsawParts(spec: TaskSpec, opts: LoadTaskOptions): Promise<Parts> {
  if (opts.sources?.train === HUB_SOURCE || opts.sources?.test === HUB_SOURCE) {
    throw new Error(`loadTask(${spec.name}): Jigsaw (Kaggle Toxic Comment Classification) is not on the Hub in the paper's form; pass --data-dir <dir> or local files as sources`);
  }
  const ro = { dataDir: opts.dataDir, skipBadRows: opts.skipBadRows };
  const seed = spec.dataSeed;
  const testSet = await loadJigsaw(opts.sources?.test ?? 'test', ro);
  const asRow = (r: { text: string; toxic: 0 | 1; reward: number | null }): Row => ({ text: r.text, label: r.toxic, datasetReward: r.reward });
  const reports = [testSet.report];
  const notes: string[] = [];

  if (spec.scaledFrom) {
    // Miniature: disjoint hash halves of the paper's test set (see spec notes).
    const { a, b } = hashHalves(testSet.rows, (r) => r.text);
    const trainHalf = splitByToxic(a);
    const evalHalf = splitByToxic(b);
    const nTox = Math.floor((spec.trainSize ?? a.length) * 0.3);
    const trainMix = build7030(seededSample(trainHalf.toxic, Math.min(nTox, trainHalf.toxic.length), seed), trainHalf.nonToxic, seed);
    const testMix = buildBalanced(evalHalf.toxic, evalHalf.nonToxic, seed, spec.testSize === null ? undefined : Math.floor(spec.testSize / 2));
    notes.push(`Hash halves of ${testSet.rows.length} test rows: train half ${a.length} (${trainHalf.toxic.length} toxic), eval half ${b.length} (${evalHalf.toxic.length} toxic).`);
    return {
      train: trainMix.rows.map(asRow),
      test: testMix.rows.map(asRow),
      sftTexts: cap(trainHalf.nonToxic.map((r) => r.text), spec.sftMaxTexts, seed, `${spec.name} SFT texts`),
      antiTexts: cap(trainHalf.toxic.map((r) => r.text), spec.sftMaxTexts, seed, `${spec.name} anti-expert texts`),
      reports,
      mix: { train: stats(trainMix), test: stats(testMix) },
      notes,
    };
  }

  const testClasses = splitByToxic(testSet.rows);
  const test = (spec.testSize === null ? testSet.rows : buildBalanced(testClasses.toxic, testClasses.nonToxic, seed, Math.floor(spec.testSize / 2)).rows).map(asRow);
  let trainMix: ClassMix<Row>;
  if (opts.sources?.train) {
    const trainSet = await loadJigsaw(opts.sources.train, ro);
    reports.push(trainSet.report);
    const { toxic, nonToxic } = splitByToxic(trainSet.rows);
    trainMix = build7030(toxic.map(asRow), nonToxic.map(asRow), seed);
  } else {
    // Offline stand-in pool, disjoint from the test texts (spec notes).
    const testTexts = new Set(testSet.rows.map((r) => r.text));
    const wiki = await loadJigsaw('wiki-toxic-test', ro);
    const prefixes = await loadJigsaw('critical-toxic-prefixes', { ...ro, minChars: -1 });
    const olid = await loadOlid('train', { ...ro, minChars: 64 });
    reports.push(wiki.report, prefixes.report, olid.report);
    const wikiKept = wiki.rows.filter((r) => !testTexts.has(r.text));
    dataLog(`${spec.name}: dropped ${wiki.rows.length - wikiKept.length} of ${wiki.rows.length} wiki-toxic-test comments that are also in the test set`);
    const pool: Row[] = [
      ...wikiKept.map(asRow),
      ...prefixes.rows.map(asRow),
      ...olid.rows.map((r) => ({ text: r.text, label: r.toxic, datasetReward: null })),
    ];
    trainMix = build7030(pool.filter((r) => r.label === 1), pool.filter((r) => r.label === 0), seed);
    notes.push(`Stand-in train pool: ${pool.length} rows; 70/30 mix ${trainMix.nToxic} toxic + ${trainMix.nNonToxic} non-toxic (asked ${trainMix.requestedNonToxic}).`);
  }
  return {
    train: cap(trainMix.rows, spec.trainSize, seed, `${spec.name} train prompts`),
    test,
    sftTexts: cap(trainMix.rows.filter((r) => r.label === 0).map((r) => r.text), spec.sftMaxTexts, seed, `${spec.name} SFT texts`),
    antiTexts: cap(trainMix.rows.filter((r) => r.label === 1).map((r) => r.text), spec.sftMaxTexts, seed, `${spec.name} anti-expert texts`),
    reports,
    mix: { train: stats(trainMix) },
    notes,
  };
}

async function rtpParts(spec: TaskSpec, opts: LoadTaskOptions): Promise<Parts> {
  const set = await loadRtp(opts.sources?.train ?? 'subset-flat', { dataDir: opts.dataDir, skipBadRows: opts.skipBadRows, hub: opts.hub });
  const split = rtpSplit(set.rows, spec.dataSeed);
  const asRow = (r: { text: string; label: 0 | 1 }): Row => ({ text: r.text, label: r.label, datasetReward: null });
  const s = split.sizes;
  return {
    train: cap(split.train.rows, spec.trainSize, spec.dataSeed, `${spec.name} train prompts`).map(asRow),
    test: split.test.rows.map(asRow),
    sftTexts: cap(split.train.rows.filter((r) => r.label === spec.sftClass).map((r) => r.text), spec.sftMaxTexts, spec.dataSeed, `${spec.name} SFT texts`),
    antiTexts: cap(split.train.rows.filter((r) => r.label !== spec.sftClass).map((r) => r.text), spec.sftMaxTexts, spec.dataSeed, `${spec.name} anti-expert texts`),
    reports: [set.report],
    mix: { train: stats(split.train), test: stats(split.test) },
    notes: [
      `80/20 per class: toxic ${s.toxicTrain}/${s.toxicTest}, non-toxic ${s.nonToxicTrain}/${s.nonToxicTest}; train ${split.train.nToxic} + ${split.train.nNonToxic} (asked ${split.train.requestedNonToxic}), test ${split.test.nToxic} + ${split.test.nNonToxic}.`,
    ],
  };
}
