/**
 * Table-driven bad inputs, part 2: configs, numeric CLI flags (library and CLI), checkpoint
 * folders, tokenizer files and model ids that look like paths. Each must fail with a message
 * naming the file (or flag), the line where there is one, and the field / key / tensor. No case
 * may touch the network: fetch is replaced by one that records calls, and the test asserts none.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadSFTConfig, loadTrainConfig } from '../lib/rl/config';
import { numberFlag } from '../lib/cli/flags';
import { loadCheckpoint, saveCheckpoint } from '../lib/models/checkpoint';
import { GPT2LMHeadModel } from '../lib/models/gpt2';
import { classifyModelRef, hubDownload } from '../lib/models/hub';
import { setupPPO, setupSFT, trainQueries } from '../lib/rl/setup';
import { readPromptFile } from '../lib/data/prompts';
import { checkpointPerplexity } from '../lib/eval/perplexity-run';
import { loadRewardModel } from '../lib/rewards/load';
import { GPT2Tokenizer } from '../lib/text/gpt2-tokenizer';
import { setDataLog } from '../lib/data/strict';
import { tf } from '../lib/engine';
import { tinyConfig, toyTokenizer } from './rl-fixtures';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-bad2-'));
let n = 0;
function file(name: string, body: string | Buffer): string {
  const p = path.join(tmp, `${n++}-${name}`);
  fs.writeFileSync(p, body);
  return p;
}
const J = (o: unknown) => JSON.stringify(o);

interface Case { name: string; run: () => unknown; expect: (string | RegExp)[] }
const cases: Case[] = [];
const add = (name: string, run: Case['run'], ...expect: Case['expect']) => cases.push({ name, run, expect });

// ---- configs ------------------------------------------------------------------------------
const cfgCases: [string, string, string[]][] = [
  ['object where a number belongs', J({ ppo: { batch_size: {} } }), ['ppo.batch_size: expected an integer, got object']],
  ['array where a number belongs', J({ ppo: { batch_size: [64] } }), ['ppo.batch_size', 'got array']],
  ['number where a section belongs', J({ ppo: 5 }), ['ppo: expected an object', 'got number']],
  ['duplicate key', '{"seed": 1, "seed": 2}', ['seed: key appears twice']],
  ['duplicate nested key', '{"ppo": {"batch_size": 64, "batch_size": 32}}', ['ppo.batch_size: key appears twice']],
  ['string for a number', J({ ppo: { batch_size: '64' } }), ['"ppo.batch_size" must be an integer', '"64"']],
  ['unknown key', J({ ppo: { batchsize: 64 } }), ['unknown field "ppo.batchsize"']],
  ['invalid JSON (line and column)', '{\n  "seed": 1,\n  "task": ,\n}', [':3:', 'invalid JSON']],
  ['null for a non-nullable key', J({ ppo: { learning_rate: null } }), ['"ppo.learning_rate" must not be null']],
  ['wrong type nested in model', J({ model: { policy: 5 } }), ['"model.policy" must be a string']],
  ['1e999 (Infinity) for a number', '{"risk": {"alpha": 1e999}}', ['"risk.alpha"']],
  ['boolean as string', J({ ppo: { adap_kl_ctrl: 'yes' } }), ['"ppo.adap_kl_ctrl" must be true or false']],
];
for (const [name, body, expect] of cfgCases) {
  const f = file('train.json', body);
  add(`config: ${name}`, () => loadTrainConfig(f), f, ...expect);
}
{
  const f = file('utf8.json', Buffer.concat([Buffer.from('{\n"task": "imdb-gen",\n"data_dir": "x'), Buffer.from([0xff]), Buffer.from('"}')]));
  add('config: invalid UTF-8', () => loadTrainConfig(f), f, 'line 3', 'invalid UTF-8');
  const d = path.join(tmp, 'cfg-folder.json');
  fs.mkdirSync(d);
  add('config: a folder', () => loadTrainConfig(d), d, 'is a folder');
  const s = file('sft.json', J({ sft: { batch_size: {} } }));
  add('sft config: object where a number belongs', () => loadSFTConfig(s), s, 'sft.batch_size: expected an integer, got object');
  add('--set: hex value', () => loadTrainConfig(undefined, ['ppo.batch_size=0x10']), '--set ppo.batch_size=0x10', '"ppo.batch_size"', '"0x10"');
}

// ---- numeric flags ------------------------------------------------------------------------
const flagCases: [string, string, Parameters<typeof numberFlag>[2], string][] = [
  ['--bins', '-3', { integer: true, min: 1, what: 'histogram bins' }, 'an integer >= 1 (histogram bins)'],
  ['--bins', '0x10', { integer: true, min: 1 }, 'decimal notation'],
  ['--bins', '2.5', { integer: true, min: 1 }, 'an integer'],
  ['--cvar-alpha', '0', { gt: 0, max: 1 }, 'a number > 0 and <= 1'],
  ['--cvar-alpha', '1.5', { gt: 0, max: 1 }, '<= 1'],
  ['--smoothing', '1', { min: 0, lt: 1 }, '< 1'],
  ['--ppl-batch-size', '', { integer: true, min: 1 }, 'an integer >= 1'],
  ['--tail', 'abc', {}, 'a number'],
  ['--tail', 'Infinity', {}, 'a number'],
];
for (const [flag, v, rule, want] of flagCases) add(`flag ${flag} ${JSON.stringify(v)}`, () => numberFlag(flag, v, rule), `${flag} ${JSON.stringify(v)}`, want);
{
  const gens = file('g.csv', 'prompt,prompt_score,m_response,m_reward\np,1,r,2\n');
  const evalRun = (args: string[]) => async () => (await import('../lib/cli/commands/eval')).run(args);
  add('eval CLI --bins -3 (was "Invalid array length")', evalRun(['--generations', gens, '--model', 'm', '--tail', '0', '--bins', '-3']), '--bins "-3"', 'an integer >= 1');
  const dir = path.join(tmp, 'gens-dir.csv');
  fs.mkdirSync(dir);
  add('eval CLI on a folder (was EISDIR)', evalRun(['--generations', dir, '--model', 'm', '--tail', '0']), dir, 'is a folder');
  add('generate CLI --samples 0x2', async () => (await import('../lib/cli/commands/generate')).run(['--task', 'imdb-mini', '--out', path.join(tmp, 'o.jsonl'), '--model', `A=${tmp}`, '--samples', '0x2']), '--samples', '"0x2"');
  add('reward CLI --epochs 0x3', async () => (await import('../lib/cli/commands/reward')).run(['train', '--task', 'imdb', '--out', path.join(tmp, 'rw'), '--epochs', '0x3']), '--epochs', '"0x3"');
  add('repro CLI --seeds 0x3', async () => (await import('../lib/cli/commands/repro')).run(['--task', 'imdb-mini', '--seeds', '0x3']), '--seeds', '"0x3"');
  add('demo CLI --seed ""', async () => (await import('../lib/cli/commands/demo')).run(['--seed', '']), '--seed', '""');
}

// ---- checkpoints, tokenizer files, model ids ------------------------------------------------
function checkpoint(name: string, opts: { tokenizer?: boolean; poison?: number } = {}): string {
  const dir = path.join(tmp, name);
  const m = new GPT2LMHeadModel(tinyConfig, { seed: 1 });
  const weights = new Map<string, tf.Tensor>(m.namedWeights());
  if (opts.poison !== undefined) weights.set('transformer.ln_f.weight', tf.fill([tinyConfig.n_embd], opts.poison));
  saveCheckpoint(dir, { config: m.config, weights, tokenizer: opts.tokenizer ? toyTokenizer() : undefined });
  m.dispose();
  return dir;
}
{
  const nan = checkpoint('nan', { tokenizer: true, poison: NaN });
  add('checkpoint with NaN weights', () => loadCheckpoint(nan), path.join(nan, 'model.safetensors'), 'tensor "transformer.ln_f.weight"', 'non-finite');
  const inf = checkpoint('inf', { tokenizer: true, poison: -Infinity });
  add('checkpoint with -Inf weights', () => loadCheckpoint(inf), path.join(inf, 'model.safetensors'), '"transformer.ln_f.weight"', '-Infinity');
  const f = file('model.safetensors', 'x');
  add('checkpoint path is a file', () => loadCheckpoint(f), f, 'is a file');
  add('checkpoint folder missing', () => loadCheckpoint(path.join(tmp, 'gone')), path.join(tmp, 'gone'), 'does not exist');
  const noCfg = path.join(tmp, 'nocfg');
  fs.mkdirSync(noCfg);
  add('checkpoint without config.json', () => loadCheckpoint(noCfg), path.join(noCfg, 'config.json'), 'missing');
  const noTok = checkpoint('notok');
  add('train: policy checkpoint without tokenizer files', () => setupPPO(loadTrainConfig(undefined, [`model.policy=${noTok}`])), 'model.policy', noTok, 'vocab.json', 'no tokenizer files');
  add('sft: init checkpoint without tokenizer files', () => setupSFT(loadSFTConfig(undefined, [`model.init=${noTok}`])), 'model.init', noTok, 'vocab.json', 'model.tokenizer');
  add('eval: perplexity of a checkpoint without tokenizer files', () => checkpointPerplexity(noTok, ['a']), noTok, 'vocab.json', '--ppl-tokenizer');
  const tok = path.join(tmp, 'tok');
  toyTokenizer().save(tok);
  const variant = (name: string, edit: (d: string) => void): string => {
    const d = path.join(tmp, `tok-${name}`);
    fs.cpSync(tok, d, { recursive: true });
    edit(d);
    return d;
  };
  const noMerges = variant('nomerges', (d) => fs.rmSync(path.join(d, 'merges.txt')));
  add('tokenizer: vocab.json without merges.txt', () => GPT2Tokenizer.fromDir(noMerges), path.join(noMerges, 'merges.txt'), 'missing');
  const badMerge = variant('badmerge', (d) => fs.writeFileSync(path.join(d, 'merges.txt'), '#version: 0.2\na b\nabc\n'));
  add('tokenizer: malformed merges line', () => GPT2Tokenizer.fromDir(badMerge), path.join(badMerge, 'merges.txt'), 'line 3');
  const badVocab = variant('badvocab', (d) => fs.writeFileSync(path.join(d, 'vocab.json'), '{"a": 0,'));
  add('tokenizer: vocab.json invalid JSON', () => GPT2Tokenizer.fromDir(badVocab), path.join(badVocab, 'vocab.json'), 'not valid JSON');
  const badId = variant('badid', (d) => fs.writeFileSync(path.join(d, 'vocab.json'), J({ a: 0, b: 1.5 })));
  add('tokenizer: non-integer id', () => GPT2Tokenizer.fromDir(badId), path.join(badId, 'vocab.json'), 'token "b"', '1.5');
  const wp = path.join(tmp, 'tok-wp');
  fs.mkdirSync(wp);
  fs.writeFileSync(path.join(wp, 'tokenizer.json'), J({ model: { type: 'WordPiece', vocab: {} } }));
  add('tokenizer: tokenizer.json not BPE', () => GPT2Tokenizer.fromDir(wp), path.join(wp, 'tokenizer.json'), 'model.type', 'WordPiece');
  const noneDir = path.join(tmp, 'tok-none');
  fs.mkdirSync(noneDir);
  add('tokenizer: folder without tokenizer files', () => GPT2Tokenizer.fromDir(noneDir), noneDir, 'vocab.json+merges.txt');

  // Path-like ids: no Hub lookup (fetch is stubbed and must stay uncalled).
  fs.mkdirSync(path.join(tmp, 'runs'));
  const refMsg = (ref: string) => () => {
    const r = classifyModelRef(ref, tmp);
    if (r.kind !== 'missing') return r;
    throw new Error(r.message);
  };
  add('model id ./x/y', refMsg('./x/y'), 'no such folder ./x/y', 'not looking it up on the Hub', 'written as a path');
  add('model id runs/typo where ./runs exists', refMsg('runs/typo'), 'no such folder runs/typo', './runs is a local folder');
  add('model id a/b/c', refMsg('a/b/c'), 'no such folder a/b/c', 'not a Hub id');
  const noPrompt = file('prompts.jsonl', `${J({ prompt: 'fine' })}\n${J({ query: 'wrong field' })}\n`);
  add('train.prompts_file: a row without "prompt"', () => readPromptFile(noPrompt), noPrompt, 'line 2', 'prompt', 'missing');
  const emptyPrompts = file('empty.jsonl', '');
  add('train.prompts_file: no rows', () => readPromptFile(emptyPrompts), emptyPrompts, 'train.prompts_file holds no prompts');
  add('train: task demo without train.prompts_file', () => trainQueries(loadTrainConfig(undefined, ['task=demo']), toyTokenizer()), '"task"', 'train.prompts_file');
  // named before any model loads: the policy path here does not even exist
  add('train: task demo without train.prompts_file, before loading models', () => setupPPO(loadTrainConfig(undefined, ['task=demo', 'model.policy=lib/missing-ckpt'])), '"task"', 'train.prompts_file');
  add('train: policy lib/missing-ckpt (./lib exists)', () => setupPPO(loadTrainConfig(undefined, ['model.policy=lib/missing-ckpt'])), 'model.policy', 'no such folder lib/missing-ckpt', 'not looking it up on the Hub');
  add('reward: missing absolute path', () => loadRewardModel(path.join(tmp, 'no-reward')), path.join(tmp, 'no-reward'), 'not looking it up on the Hub');
  add('Hub id offline and not cached', () => hubDownload('someorg/somemodel', { offline: true, cacheDir: path.join(tmp, 'hf') }), 'someorg/somemodel/config.json', 'HF_HUB_OFFLINE');
}

test(`${cases.length} bad config / flag / checkpoint / tokenizer / id inputs fail naming file (or flag), line and field; no network`, async () => {
  const realFetch = globalThis.fetch;
  const fetched: string[] = [];
  globalThis.fetch = (async (u: unknown) => {
    fetched.push(String(u));
    throw new TypeError('network disabled in this test');
  }) as typeof fetch;
  const restoreLog = setDataLog(() => undefined);
  const failures: string[] = [];
  try {
    for (const c of cases) {
      let msg: string | null = null;
      try {
        await c.run();
      } catch (e) {
        msg = (e as Error).message;
      }
      if (msg === null) failures.push(`${c.name}: accepted`);
      else for (const x of c.expect) if (typeof x === 'string' ? !msg.includes(x) : !x.test(msg)) failures.push(`${c.name}: ${JSON.stringify(msg)} lacks ${x}`);
    }
  } finally {
    globalThis.fetch = realFetch;
    setDataLog(restoreLog);
  }
  assert.deepEqual(failures, []);
  assert.deepEqual(fetched, [], 'no case may reach the network');
});
