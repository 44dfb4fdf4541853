/**
 * `rarlhf bench reward [--n 2048] [--imdb-model runs/rewards/imdb] [--toxicity-model runs/rewards/toxicity]`
 * Scoring throughput (texts/s) of the kit sentiment and toxicity models and of a TINY ONNX
 * classifier (masked-mean embedding + linear over the real BERT vocabulary, built on the fly):
 * the tiny number measures the transformers.js tokenizer + onnxruntime call overhead only, not
 * what a real 66M/110M-parameter (distil)BERT would do. Texts: IMDB test reviews cut to 450
 * characters (about the length of a 64+48-token IMDB rollout).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { projectRoot } from '../data/paths';
import { loadImdbLabelled } from '../rewards/data';
import { loadRewardModel } from '../rewards/load';
import { OnnxRewardModel } from '../rewards/onnx';
import { readVocabTxt, writeTinyClassifier } from '../rewards/tiny';
import { dataFile } from '../data/paths';
import type { RewardModel } from '../rewards/types';

/** Median of 3 timed passes after a warm-up pass. */
async function time(model: RewardModel, texts: string[], batchSize: number): Promise<{ textsPerSec: number; seconds: number }> {
  await model.score(texts, { batchSize, progress: false }); // warm-up (JIT, onnxruntime session)
  const runs: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = process.hrtime.bigint();
    await model.score(texts, { batchSize, progress: false });
    runs.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  const seconds = runs.sort((a, b) => a - b)[1];
  return { textsPerSec: Math.round(texts.length / seconds), seconds: Number(seconds.toFixed(3)) };
}

export async function bench(argv: string[]): Promise<object> {
  const { values } = parseArgs({
    args: argv,
    options: {
      n: { type: 'string', default: '2048' },
      'imdb-model': { type: 'string', default: path.join(projectRoot(), 'runs/rewards/imdb') },
      'toxicity-model': { type: 'string', default: path.join(projectRoot(), 'runs/rewards/toxicity') },
      'data-dir': { type: 'string' },
    },
  });
  const n = Number(values.n);
  if (!Number.isInteger(n) || n < 1) throw new Error(`bench reward: --n must be a positive integer, got ${values.n}`);
  const dataDir = values['data-dir'];
  const texts = (await loadImdbLabelled('test', dataDir)).filter((_, i) => i % 12 === 0).slice(0, n).map((r) => r.text.slice(0, 450));
  const results: Record<string, unknown>[] = [];
  for (const [label, dir] of [['kit-sentiment', values['imdb-model']], ['kit-toxicity', values['toxicity-model']]] as const) {
    if (!fs.existsSync(path.join(dir!, 'config.json'))) {
      results.push({ model: label, skipped: `no model at ${dir} (run: rarlhf reward train --task ${label === 'kit-sentiment' ? 'imdb' : 'toxicity'} --out ${dir})` });
      continue;
    }
    const m = await loadRewardModel(dir!);
    results.push({ model: label, batchSize: 256, ...(await time(m, texts, 256)) });
    await m.dispose?.();
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-bench-'));
  try {
    const vocab = readVocabTxt(dataFile('tokenizers/bert-base-uncased/vocab.txt', dataDir));
    writeTinyClassifier(tmp, { modelType: 'bert', labels: ['toxic', 'severe_toxic', 'obscene', 'threat', 'insult', 'identity_hate'], vocab, hidden: 4 });
    const m = await OnnxRewardModel.load(tmp, { name: 'tiny-onnx' });
    results.push({ model: 'tiny-onnx (TINY: 4-dim mean-pooled embedding, not a real BERT)', batchSize: 16, ...(await time(m, texts, 16)) });
    await m.dispose();
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return { texts: texts.length, textChars: 450, cpus: os.cpus().length, results };
}
