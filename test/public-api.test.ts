/** package.json "main" names a file that exists and exports the layers and the main verbs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

test('package.json main exports every layer and the main verbs', async () => {
  const root = path.resolve(__dirname, '..');
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { main: string };
  assert.ok(fs.existsSync(path.join(root, pkg.main)), `main ${pkg.main} does not exist`);
  const api = (await import(path.join(root, pkg.main))) as Record<string, unknown>;
  for (const ns of ['engine', 'text', 'models', 'data', 'rewards', 'rl', 'evaluation', 'config']) assert.equal(typeof api[ns], 'object', ns);
  for (const f of ['initEngine', 'GPT2Tokenizer', 'GPT2LMHeadModel', 'GPT2WithValueHead', 'generate', 'loadGPT2', 'loadTask', 'loadRewardModel', 'PPOTrainer', 'trainPPO', 'trainSFT', 'trainQuark', 'DExpertsLM', 'evaluateTable', 'loadTrainConfig']) {
    assert.equal(typeof api[f], 'function', f);
  }
});
