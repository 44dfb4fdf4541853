/**
 * Study specs (`rarlhf study --spec <file.json>`, issue 13): a base miniature task, a list of arms
 * (each a name, an algorithm and `--set`-style overrides on the base PPO config), seeds, the reward
 * model kind and the bootstrap settings. Errors name the file and the field.
 *
 *   {"task": "imdb-mini", "seeds": 5, "reward": "linear", "baseline": "RLHF",
 *    "arms": [{"name": "RLHF", "algo": "rlhf"}, {"name": "RA random", "algo": "ra-rlhf", "set": ["risk.rank_by=random"]}]}
 */
import * as fs from 'node:fs';
import { parseJsonText, type Json } from '../config/index';
import { decodeUtf8Strict } from '../data/utf8';
import { TASKS } from '../data/task-specs';

export interface StudyArm {
  name: string;
  /** folder and column name: the name lower-cased, runs of other characters as '-' */
  slug: string;
  algo: 'rlhf' | 'ra-rlhf';
  set: string[];
}

export interface StudySpec {
  task: string;
  seeds: number[];
  /** reward-model kind (lib/repro/pipeline.ts REWARD_KINDS): "linear" today */
  reward: string;
  /** name of the arm every other arm is compared with (default: the first rlhf arm) */
  baseline: string;
  arms: StudyArm[];
  bootstrap: { resamples: number; seed: number };
  /** as repro's --pretrain-texts / --train-prompts (null = the task's defaults) */
  pretrain_texts: number | null;
  train_prompts: number | null;
  /**
   * null = the task's tail threshold (IMDB -2.5 on distilbert's scale). q in (0, 1) = the prompts
   * whose score is at or below the q-quantile of the test prompts' scores: for a reward whose
   * prompt scores never reach the paper's threshold (the kit transformer's are compressed).
   */
  tail_quantile: number | null;
  /** further [arm, vs] pairs to compare besides every arm vs the baseline (e.g. both with a scaled horizon) */
  extra_pairs: [string, string][];
}

const KEYS = ['task', 'seeds', 'reward', 'baseline', 'arms', 'bootstrap', 'pretrain_texts', 'train_prompts', 'tail_quantile', 'extra_pairs'];

export function armSlug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

export function loadStudySpec(file: string): StudySpec {
  if (!fs.existsSync(file)) throw new Error(`${file}: study spec not found`);
  if (fs.statSync(file).isDirectory()) throw new Error(`${file} is a folder; expected a study spec (JSON)`);
  return parseStudySpec(parseJsonText(decodeUtf8Strict(fs.readFileSync(file), file).text, file), file);
}

export function parseStudySpec(v: Json, file: string): StudySpec {
  const err = (field: string, what: string, got?: unknown) => new Error(`${file}: ${field}: ${what}${got === undefined ? '' : `, got ${JSON.stringify(got)}`}`);
  if (!isObject(v)) throw err('(top level)', 'expected a JSON object');
  for (const k of Object.keys(v)) if (!k.startsWith('_') && !KEYS.includes(k)) throw err(k, `unknown field (known: ${KEYS.join(', ')})`);
  const miniatures = Object.values(TASKS).filter((t) => t.scaledFrom).map((t) => t.name as string);
  if (typeof v.task !== 'string' || !miniatures.includes(v.task)) throw err('task', `must be one of ${miniatures.join(', ')}`, v.task);

  let seeds: number[];
  if (typeof v.seeds === 'number') {
    if (!Number.isInteger(v.seeds) || v.seeds < 1) throw err('seeds', 'must be a positive integer n (seeds 0..n-1) or a list of seeds', v.seeds);
    seeds = Array.from({ length: v.seeds }, (_, i) => i);
  } else if (Array.isArray(v.seeds) && v.seeds.length > 0) {
    v.seeds.forEach((s, i) => { if (typeof s !== 'number' || !Number.isInteger(s) || s < 0) throw err(`seeds[${i}]`, 'must be a non-negative integer', s); });
    seeds = v.seeds as number[];
    if (new Set(seeds).size !== seeds.length) throw err('seeds', 'must be distinct', v.seeds);
  } else throw err('seeds', 'must be a positive integer n (seeds 0..n-1) or a non-empty list of seeds', v.seeds);

  const reward = v.reward ?? 'linear';
  if (typeof reward !== 'string') throw err('reward', 'must be a reward-model kind such as "linear"', reward);

  if (!Array.isArray(v.arms) || v.arms.length === 0) throw err('arms', 'must be a non-empty list of {"name", "algo", "set"}', v.arms);
  const arms = v.arms.map((a, i): StudyArm => {
    const at = `arms[${i}]`;
    if (!isObject(a)) throw err(at, 'must be an object {"name", "algo", "set"}', a);
    for (const k of Object.keys(a)) if (!k.startsWith('_') && !['name', 'algo', 'set'].includes(k)) throw err(`${at}.${k}`, 'unknown field (known: name, algo, set)');
    if (typeof a.name !== 'string' || !armSlug(a.name)) throw err(`${at}.name`, 'must be a name with at least one letter or digit', a.name);
    if (a.algo !== 'rlhf' && a.algo !== 'ra-rlhf') throw err(`${at}.algo`, 'must be "rlhf" or "ra-rlhf"', a.algo);
    const set = a.set ?? [];
    if (!Array.isArray(set) || set.some((x) => typeof x !== 'string' || !x.includes('='))) throw err(`${at}.set`, 'must be a list of "key=value" strings', set);
    return { name: a.name, slug: armSlug(a.name), algo: a.algo, set: set as string[] };
  });
  arms.forEach((a, i) => {
    const j = arms.findIndex((b) => b.slug === a.slug);
    if (j !== i) throw err(`arms[${i}].name`, `"${a.name}" gives the same folder name "${a.slug}" as arms[${j}] "${arms[j].name}"`);
  });

  const baseline = v.baseline ?? arms.find((a) => a.algo === 'rlhf')?.name;
  if (baseline === undefined) throw err('baseline', 'no arm has algo "rlhf"; name the arm to compare with in "baseline"');
  if (typeof baseline !== 'string' || !arms.some((a) => a.name === baseline)) throw err('baseline', `must name one of the arms (${arms.map((a) => a.name).join(', ')})`, baseline);

  const bs = v.bootstrap ?? {};
  if (!isObject(bs)) throw err('bootstrap', 'must be an object {"resamples", "seed"}', bs);
  for (const k of Object.keys(bs)) if (!['resamples', 'seed'].includes(k)) throw err(`bootstrap.${k}`, 'unknown field (known: resamples, seed)');
  const resamples = bs.resamples ?? 2000;
  const bseed = bs.seed ?? 0;
  if (typeof resamples !== 'number' || !Number.isInteger(resamples) || resamples < 1) throw err('bootstrap.resamples', 'must be a positive integer', resamples);
  if (typeof bseed !== 'number' || !Number.isInteger(bseed) || bseed < 0) throw err('bootstrap.seed', 'must be a non-negative integer', bseed);

  const optInt = (k: 'pretrain_texts' | 'train_prompts', min: number): number | null => {
    const x = v[k] ?? null;
    if (x !== null && (typeof x !== 'number' || !Number.isInteger(x) || x < min)) throw err(k, `must be null or an integer >= ${min}`, x);
    return x as number | null;
  };
  const tq = v.tail_quantile ?? null;
  if (tq !== null && (typeof tq !== 'number' || !(tq > 0 && tq < 1))) throw err('tail_quantile', 'must be null or a number in (0, 1)', tq);
  const ep = v.extra_pairs ?? [];
  if (!Array.isArray(ep)) throw err('extra_pairs', 'must be a list of [arm, vs] name pairs', ep);
  ep.forEach((pair, i) => {
    if (!Array.isArray(pair) || pair.length !== 2 || pair.some((n) => typeof n !== 'string' || !arms.some((a) => a.name === n)) || pair[0] === pair[1]) {
      throw err(`extra_pairs[${i}]`, `must be two different arm names (${arms.map((a) => a.name).join(', ')})`, pair);
    }
  });
  return {
    task: v.task, seeds, reward, baseline, arms, bootstrap: { resamples, seed: bseed }, pretrain_texts: optInt('pretrain_texts', 32), train_prompts: optInt('train_prompts', 32),
    tail_quantile: tq as number | null, extra_pairs: ep as [string, string][],
  };
}

function isObject(x: unknown): x is Record<string, Json> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
