import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { evaluateTable } from '../lib/eval/evaluate';
import { readGenerations, writeGenerations } from '../lib/eval/generations';
import { chromiumPath } from '../lib/eval/render';
import { HANDMADE_WIDE_CSV } from './eval-fixtures';

const ROOT = path.resolve(__dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-eval-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const close = (a: number, b: number, eps = 1e-12) => assert.ok(Math.abs(a - b) <= eps, `${a} != ${b}`);
const HAS_CHROMIUM = chromiumPath() !== null;

// Five prompts; p3 and p5 tie at prompt score -2.5 (the tail threshold).
const CSV = HANDMADE_WIDE_CSV;
// Hand-computed expectations (tail <= -2.5 -> p1, p3, p5; CVaR alpha 0.4 -> ceil(2) = 2 worst):
//   sft: mean (-1+0-2+1+2)/5 = 0; tail (-1-2+2)/3 = -1/3; CVaR (-2-1)/2 = -1.5; words (3+2+4+3+2)/5 = 2.8
//        dist-1 4/14, dist-2 4/9, dist-3 3/4 (see eval-metrics.test.ts)
//   ra:  mean 7/5 = 1.4; tail (1+0+1)/3 = 2/3; CVaR (0+1)/2 = 0.5; words 8/5 = 1.6
//        dist-1 6/8 ({good,very,x,nice,one,ok} / 8 words), dist-2 3/3, dist-3 none -> NaN (null in JSON)
//   quantile order (stable): p1, p3, p5, p2, p4 -> sft q20 -1, q40 -1.5, q60 -1/3; ra q20 1, q40 0.5, q60 2/3
//   --bins 7 over [-3, 4] -> unit bins; prompt scores class 0: -3,-2.5,-2.5 -> bin 0 x3; class 1: 2 -> bin 5, 4 -> bin 6
const csvFile = path.join(tmp, 'gens.csv');
fs.writeFileSync(csvFile, CSV);

function cli(args: string[]): string {
  return execFileSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'lib/cli/main.ts'), 'eval', ...args], {
    cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
  });
}

const BASE = ['--generations', csvFile, '--class-col', 'label', '--model', 'sft=sft_response:sft_reward', '--model', 'ra',
  '--tail', '-2.5', '--cvar-alpha', '0.4', '--bins', '7'];

test(`eval CLI on a handmade CSV gives the hand-computed numbers, writes report + figures${HAS_CHROMIUM ? ' + PNG' : ' (PNG SKIPPED: no chromium)'}`, () => {
  const out = path.join(tmp, 'out');
  const j = JSON.parse(cli([...BASE, '--out', out, '--json']));
  const [sft, ra] = j.perSeed[0].models;
  close(sft.meanReward, 0);
  close(sft.tailReward, -1 / 3);
  assert.equal(sft.tailN, 3);
  close(sft.cvar, -1.5);
  close(sft.lengthWords, 2.8);
  close(sft.distinct.corpus[1], 4 / 14);
  close(sft.distinct.corpus[2], 4 / 9);
  close(sft.distinct.corpus[3], 3 / 4);
  close(ra.meanReward, 1.4);
  close(ra.tailReward, 2 / 3);
  close(ra.cvar, 0.5);
  close(ra.lengthWords, 1.6);
  close(ra.distinct.corpus[1], 6 / 8);
  close(ra.distinct.corpus[2], 1);
  assert.equal(ra.distinct.corpus[3], null);
  assert.deepEqual(sft.quantileReward.slice(19, 20), [-1]);
  close(sft.quantileReward[39], -1.5);
  close(sft.quantileReward[59], -1 / 3);
  close(ra.quantileReward[19], 1);
  close(ra.quantileReward[39], 0.5);
  close(ra.quantileReward[59], 2 / 3);
  close(ra.quantileReward[99], 1.4);
  assert.equal(sft.quantileReward[18], null); // q=19: floor(0.95) = 0 prompts -> NaN
  assert.deepEqual(j.perSeed[0].edges, [-3, -2, -1, 0, 1, 2, 3, 4]);
  assert.deepEqual(j.perSeed[0].promptScoreHistograms, { 0: [3, 0, 0, 0, 0, 0, 0], 1: [0, 0, 0, 0, 0, 1, 1] });
  // sft rewards: class 0 -> -1 (bin 2), -2 (bin 1), 2 (bin 5); class 1 -> 0 (bin 3), 1 (bin 4)
  assert.deepEqual(sft.histograms, { 0: [0, 1, 1, 0, 0, 1, 0], 1: [0, 0, 0, 1, 1, 0, 0] });
  assert.equal(j.table[0].metrics.meanReward.n, 1);

  for (const f of ['results.json', 'results.md', 'results.html', 'plotly.min.js', 'distribution_shift.html', 'quantile.html']) {
    assert.ok(fs.existsSync(path.join(out, f)), `${f} written`);
  }
  assert.match(fs.readFileSync(path.join(out, 'results.html'), 'utf8'), /Plotly\.newPlot\("fig0"/);
  assert.match(fs.readFileSync(path.join(out, 'results.md'), 'utf8'), /\| sft \| 0\.00 \| -0\.33 \| -1\.50 \| 2\.8 \| 0\.286 \| 0\.444 \| 0\.750 \|/);
  if (HAS_CHROMIUM) {
    const png = fs.readFileSync(path.join(out, 'distribution_shift.png'));
    assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG');
    assert.equal(png.readUInt32BE(16), 330 * 4 * 2); // IHDR width = layout width (3 histogram panels + quantile) x PNG scale 2
    assert.deepEqual(j.pngSkipped, []);
  }
});

test('eval CLI markdown output and mean ± sample std over two seed files', () => {
  // seed 2: every sft reward +1 -> sft mean 1; over seeds [0, 1]: mean 0.5, stdev sqrt(0.5)
  const seed2 = path.join(tmp, 'gens_seed2.jsonl');
  const t = readGenerations(csvFile);
  writeGenerations(seed2, t.rows.map((r) => ({ ...r, sft_reward: Number(r.sft_reward) + 1 })));
  const md = cli([...BASE, '--generations', seed2, '--perplexity', 'sft=10,12']);
  assert.match(md, /\| sft \| 0\.50 ± 0\.71 \|/);
  assert.match(md, /11\.00 ± 1\.41 \|$/m); // perplexity column, mean 11, stdev sqrt(2)
  const j = JSON.parse(cli([...BASE, '--generations', seed2, '--json']));
  close(j.table[0].metrics.meanReward.std, Math.sqrt(0.5));
  close(j.table[1].metrics.meanReward.std, 0);
});

test('errors name the file, line and column', () => {
  const bad = path.join(tmp, 'bad.csv');
  fs.writeFileSync(bad, CSV.replace('p3,0,-2.5,a b c d,-2', 'p3,0,-2.5,a b c d,oops'));
  assert.throws(() => cli([...BASE.slice(2), '--generations', bad]), (e: { stderr: string }) => {
    assert.match(e.stderr, new RegExp(`${bad.replace(/[.]/g, '\\.')}:4: column 'sft_reward' has "oops"`));
    return true;
  });
  assert.throws(() => cli([...BASE, '--model', 'gpt2']), (e: { stderr: string }) => /gens\.csv:1: column 'gpt2_reward' not in the header/.test(e.stderr));
  const jl = path.join(tmp, 'missing.jsonl');
  fs.writeFileSync(jl, '{"prompt":"a","prompt_score":1,"m_response":"x","m_reward":1}\n{"prompt":"b","m_response":"y","m_reward":2}\n');
  assert.throws(() => evaluateTable(readGenerations(jl), { promptCol: 'prompt', promptScoreCol: 'prompt_score', models: [{ name: 'm', responseCol: 'm_response', rewardCol: 'm_reward' }], tail: 0 }),
    /missing\.jsonl:2: field 'prompt_score' missing/);
});

test('k > 1 samples per prompt: reward metrics average a prompt\'s samples; CVaR uses every sample', () => {
  const f = path.join(tmp, 'k2.jsonl');
  writeGenerations(f, [
    { prompt: 'A', prompt_score: -3, sample: 0, m_response: 'u v', m_reward: 1 },
    { prompt: 'B', prompt_score: 1, sample: 0, m_response: 'u', m_reward: 0 },
    { prompt: 'A', prompt_score: -3, sample: 1, m_response: 'u w', m_reward: 3 },
    { prompt: 'B', prompt_score: 1, sample: 1, m_response: 'u', m_reward: 2 },
  ]);
  const spec = { promptCol: 'prompt', promptScoreCol: 'prompt_score', sampleCol: 'sample', models: [{ name: 'm', responseCol: 'm_response', rewardCol: 'm_reward' }], tail: -2.5, cvarAlpha: 0.5 };
  const r = evaluateTable(readGenerations(f), spec);
  assert.equal(r.prompts, 2);
  assert.deepEqual(r.samplesPerPrompt, { min: 2, max: 2 });
  const m = r.models[0];
  assert.equal(m.meanReward, 1.5); // prompt means A = 2, B = 1
  assert.equal(m.tailReward, 2); // only A (score -3)
  assert.equal(m.cvar, 0.5); // worst 2 of samples [1,0,3,2] -> 0, 1
  assert.equal(m.quantileReward[49], 2); // q=50 -> first prompt by score (A)
  assert.equal(m.distinct.perPrompt[1], (3 / 4 + 1 / 2) / 2); // A: {u,v,w}/4, B: {u}/2
  // samples of one prompt must agree on the prompt score
  writeGenerations(f, [{ prompt: 'A', prompt_score: -3, sample: 0, m_response: 'x', m_reward: 1 }, { prompt: 'A', prompt_score: 0, sample: 1, m_response: 'x', m_reward: 1 }]);
  assert.throws(() => evaluateTable(readGenerations(f), spec), /k2\.jsonl:2: sample of an earlier prompt/);
});

test('eval --ppl-model: checkpoint perplexity on filtered, cut human texts (--ppl-tokenizer GPT-2) lands in the table', async () => {
  const { GPT2LMHeadModel } = await import('../lib/models/gpt2');
  const { saveModelCheckpoint, loadGPT2 } = await import('../lib/models/checkpoint');
  const { GPT2Tokenizer } = await import('../lib/text/gpt2-tokenizer');
  const { dataFile } = await import('../lib/data/paths');
  const { causalLMLogprobs, perplexityOfIds } = await import('../lib/eval/perplexity');
  const cfg = { preset: 'gpt2', n_embd: 16, n_layer: 1, n_head: 2, n_positions: 64 };
  const dirs = [0, 1].map((seed) => {
    const d = path.join(tmp, `ckpt${seed}`);
    const m = new GPT2LMHeadModel(cfg, { seed });
    saveModelCheckpoint(d, m); // no tokenizer saved -> --ppl-tokenizer names data/tokenizers/gpt2 (no silent fallback)
    m.dispose();
    return d;
  });
  const textsFile = path.join(tmp, 'human.jsonl');
  writeGenerations(textsFile, [
    { text: 'This movie was a wonderful surprise from start to end.', toxic: 0 },
    { text: 'you are an idiot and everybody knows it', toxic: 1 },
    { text: 'Thanks for the careful edits on the article.', toxic: 0 },
  ]);
  const j = JSON.parse(cli([...BASE, '--ppl-model', `sft=${dirs.join(',')}`, '--ppl-texts', textsFile, '--ppl-where', 'toxic=0',
    '--ppl-max-chars', '20', '--ppl-batch-size', '2', '--ppl-tokenizer', dataFile('tokenizers/gpt2'), '--json']));
  // expected: the two toxic=0 texts cut to 20 chars, tokenized, BOS 50256, per seed checkpoint
  const tok = GPT2Tokenizer.fromDir(dataFile('tokenizers/gpt2'));
  const ids = ['This movie was a won', 'Thanks for the caref'].map((s) => tok.encode(s));
  const expected: number[] = [];
  for (const d of dirs) {
    const { model } = loadGPT2(d);
    expected.push((await perplexityOfIds(causalLMLogprobs(model), ids, { batchSize: 1 })).meanPerplexity);
    model.dispose();
  }
  assert.equal(j.perplexity.sft.length, 2);
  j.perplexity.sft.forEach((p: number, i: number) => assert.ok(Math.abs(p - expected[i]) < 1e-3 * expected[i], `${p} vs ${expected[i]}`));
  assert.ok(expected[0] > 1000 && expected[0] < 1e6); // an untrained 50257-way model: near the vocab size
  close(j.table[0].metrics.perplexity.mean, (expected[0] + expected[1]) / 2, 1e-3 * expected[0]);
  assert.equal(j.corpusPerplexity.sft.length, 2);
});

test('generations CSV round trip: quotes, commas, newlines; line numbers of multi-line records', () => {
  const f = path.join(tmp, 'rt.csv');
  const rows = [
    { prompt: 'he said "hi", then\nleft', prompt_score: -1.5, m_response: 'a,b', m_reward: 2 },
    { prompt: 'plain', prompt_score: 3, m_response: '', m_reward: 'bad' },
  ];
  writeGenerations(f, rows);
  const t = readGenerations(f);
  assert.deepEqual(t.columns, ['prompt', 'prompt_score', 'm_response', 'm_reward']);
  assert.equal(t.rows[0].prompt, 'he said "hi", then\nleft');
  assert.equal(t.rows[0].m_response, 'a,b');
  assert.deepEqual(t.lines, [2, 4]); // record 1 spans lines 2-3
  assert.throws(() => evaluateTable(t, { promptCol: 'prompt', promptScoreCol: 'prompt_score', models: [{ name: 'm', responseCol: 'm_response', rewardCol: 'm_reward' }], tail: 0 }),
    /rt\.csv:4: column 'm_reward' has "bad"/);
  writeGenerations(path.join(tmp, 'rt.jsonl.gz'), rows);
  assert.deepEqual(readGenerations(path.join(tmp, 'rt.jsonl.gz')).rows, rows);
});
