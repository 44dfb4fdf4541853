/**
 * `rarlhf bench data`: loader throughput, loadTask time per task, and the exactness check of
 * prefix encoding (makePrompts) against full encode(text)[:N] on every staged text.
 * Options: --data-dir <dir>, --quick (IMDB test split only for the prefix check).
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { GPT2Tokenizer } from '../text/gpt2-tokenizer';
import { loadImdb } from '../data/imdb';
import { loadJigsaw } from '../data/jigsaw';
import { loadOlid } from '../data/olid';
import { resolveDataDir } from '../data/paths';
import { makePrompts } from '../data/prompts';
import { loadRtp } from '../data/rtp';
import { loadTask, TASKS } from '../data/tasks';

export async function bench(argv: string[]): Promise<object> {
  const { values } = parseArgs({ args: argv, options: { 'data-dir': { type: 'string' }, quick: { type: 'boolean' } } });
  const dataDir = resolveDataDir(values['data-dir']);
  const tokenizer = GPT2Tokenizer.fromDir(path.join(dataDir, 'tokenizers', 'gpt2'));
  const ms = (t0: number): number => Math.round(performance.now() - t0);

  let t0 = performance.now();
  const imdbTest = await loadImdb('test', { dataDir, minChars: -1 });
  const imdbReadMs = ms(t0);

  const loadTaskMs: Record<string, number> = {};
  for (const name of Object.keys(TASKS)) {
    t0 = performance.now();
    await loadTask(name, { dataDir, tokenizer });
    loadTaskMs[name] = ms(t0);
  }

  const texts = imdbTest.rows.map((r) => r.text);
  if (!values.quick) {
    texts.push(...(await loadImdb('train', { dataDir, minChars: -1 })).rows.map((r) => r.text));
    for (const n of ['test', 'wiki-toxic-test', 'critical-toxic-prefixes', 'kaggle-train-sample']) {
      texts.push(...(await loadJigsaw(n, { dataDir, minChars: -1 })).rows.map((r) => r.text));
    }
    texts.push(...(await loadOlid('train', { dataDir })).rows.map((r) => r.text), ...(await loadRtp('subset-flat', { dataDir })).rows.map((r) => r.text));
  }
  const prefixCheck: Record<string, { mismatches: number; prefixMs: number; fullMs: number }> = {};
  for (const n of [8, 32, 64]) {
    t0 = performance.now();
    const fast = makePrompts(texts, tokenizer, n);
    const prefixMs = ms(t0);
    t0 = performance.now();
    const full = makePrompts(texts, tokenizer, n, { prefixEncoding: false });
    const fullMs = ms(t0);
    let mismatches = 0;
    for (let i = 0; i < texts.length; i++) if (fast[i].queryIds.join() !== full[i].queryIds.join() || fast[i].query !== full[i].query) mismatches++;
    prefixCheck[`n${n}`] = { mismatches, prefixMs, fullMs };
  }
  return { imdbTestReadMs: imdbReadMs, imdbTestRows: imdbTest.rows.length, loadTaskMs, prefixCheckTexts: texts.length, prefixCheck };
}
