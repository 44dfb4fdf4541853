/**
 * Config loading: defaults <- file <- --set, strict validation with file + key in every error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseSet } from '../lib/config';
import { loadSFTConfig, loadTrainConfig } from '../lib/rl/config';
import { loadStudySpec } from '../lib/study/spec';

const write = (obj: unknown, raw?: string) => {
  const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-cfg-')), 'c.json');
  fs.writeFileSync(f, raw ?? JSON.stringify(obj, null, 2));
  return f;
};

test('every shipped config validates and keeps the paper numbers', () => {
  const dir = path.join(__dirname, '..', 'configs');
  const imdb = loadTrainConfig(path.join(dir, 'imdb-gen.json'));
  assert.deepEqual([imdb.ppo.batch_size, imdb.risk.M, imdb.risk.alpha, imdb.risk.n, imdb.risk.rho, imdb.ppo.learning_rate], [128, 194, 0.4, 30, 0.95, 1.41e-5]);
  assert.deepEqual([imdb.generation.max_new_tokens, imdb.generation.top_k, imdb.generation.top_p, imdb.ppo.init_kl_coef, imdb.ppo.target, imdb.ppo.horizon], [48, 0, 1, 0.2, 6, 10000]);
  const jig = loadTrainConfig(path.join(dir, 'jigsaw-gen.json'));
  assert.deepEqual([jig.risk.alpha, jig.risk.M, jig.generation.max_new_tokens, jig.generation.min_length], [0.2, 288, 32, 32]);
  const rtp = loadTrainConfig(path.join(dir, 'rtp-gen.json'));
  assert.deepEqual([rtp.ppo.learning_rate, rtp.risk.M], [2.82e-5, 452]);
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.json'))) {
    if (f.startsWith('sft-')) loadSFTConfig(path.join(dir, f));
    else if (f.startsWith('study-')) loadStudySpec(path.join(dir, f)); // rarlhf study specs (test/study-cli.test.ts)
    else loadTrainConfig(path.join(dir, f));
  }
  const sft = loadSFTConfig(path.join(dir, 'sft-imdb-gen.json'));
  assert.deepEqual([sft.sft.learning_rate, sft.sft.batch_size, sft.sft.grad_accum, sft.sft.epochs, sft.sft.max_seq_length], [1e-5, 64, 16, 10, 64]);
});

test('--set overrides nested keys with JSON-typed values', () => {
  const f = write({ task: 'jigsaw-gen', ppo: { learning_rate: 1e-5 } });
  const c = loadTrainConfig(f, ['ppo.learning_rate=2e-5', 'risk.alpha=0.2', 'ppo.max_grad_norm=1', 'risk.M=null', 'train.rollout_dropout=true', 'risk.rank_by=sum_rbar']);
  assert.equal(c.ppo.learning_rate, 2e-5);
  assert.equal(c.risk.alpha, 0.2);
  assert.equal(c.ppo.max_grad_norm, 1);
  assert.equal(c.risk.M, null);
  assert.equal(c.train.rollout_dropout, true);
  assert.equal(c.risk.rank_by, 'sum_rbar');
  assert.equal(c.task, 'jigsaw-gen');
  assert.equal(c.ppo.batch_size, 128); // default kept
  assert.deepEqual(parseSet('model.policy=runs/a=b'), { key: 'model.policy', value: 'runs/a=b' });
});

test('errors name the file (or --set) and the key', () => {
  const f = write({ ppo: { learning_rat: 1e-5 } });
  assert.throws(() => loadTrainConfig(f), (e: Error) => e.message.includes(f) && /unknown field "ppo.learning_rat"/.test(e.message));
  const g = write({ ppo: { batch_size: 12.5 } });
  assert.throws(() => loadTrainConfig(g), (e: Error) => e.message.includes(g) && /"ppo.batch_size" must be an integer/.test(e.message));
  assert.throws(() => loadTrainConfig(g, []), /12.5/);
  assert.throws(() => loadTrainConfig(undefined, ['risk.alpha=1.5']), /--set risk.alpha=1.5: field "risk.alpha" must be <= 1/);
  assert.throws(() => loadTrainConfig(undefined, ['risk.scheduler=newest']), /must be one of new, old/);
  assert.throws(() => loadTrainConfig(undefined, ['task=imdb']), /field "task" must be one of/);
  assert.throws(() => loadTrainConfig(undefined, ['ppo.mini_batch_size=100']), /must divide ppo.batch_size/);
  assert.throws(() => loadTrainConfig(undefined, ['oops']), /expected key=value/);
  const bad = write(null, '{\n  "seed": 1,\n  "task": "imdb-gen",,\n}');
  assert.throws(() => loadTrainConfig(bad), (e: Error) => e.message.startsWith(`${bad}:3:`) && /invalid JSON/.test(e.message));
  assert.throws(() => loadTrainConfig('/nonexistent/x.json'), /x.json: config file not found/);
});
