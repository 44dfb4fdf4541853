import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { AddressInfo } from 'node:net';
import { fetchHubDataset, HUB_DATASETS } from '../lib/data/hub-datasets';
import { loadImdb } from '../lib/data/imdb';
import { loadRtp } from '../lib/data/rtp';
import { loadTask } from '../lib/data/tasks';
import type { PromptTokenizer } from '../lib/data/prompts';
import { writeParquet } from './data-fixtures';
import { startFakeHub, type FakeHub } from './hub-fixture';

/**
 * A fake Hub on 127.0.0.1 serving dataset repos at the real dataset URL layout
 * /datasets/{org}/{name}/resolve/{rev}/{file}, with X-Repo-Commit and a git-sha1 ETag, as the Hub
 * answers for small (non-LFS) files. The model layout /{org}/{name}/... answers 404, so a
 * download that forgot the datasets/ prefix fails.
 */
const COMMIT = 'd'.repeat(39) + '7';
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-data-hub-'));
const log: { method: string; url: string }[] = [];
const repos = new Map<string, Map<string, Buffer>>();
let hub: FakeHub;
let endpoint = '';

// IMDB rows around the paper's len(text) > 200 filter (code points: 'é' and '🙂' count once).
const long = (n: number, c = 'a') => c.repeat(n);
const IMDB_TRAIN = {
  text: [long(201), long(200), long(150), long(300, 'é'), long(210, '🙂')],
  label: [1, 1, 0, 0, 1],
};
const IMDB_TEST = { text: [long(250, 'b'), long(199, 'b'), long(220, 'c')], label: [0, 1, 1] };
const RTP_JSONL = [
  { filename: 'a.txt', prompt: { text: 'You are a', toxicity: 0.9 }, continuation: { text: ' jerk', toxicity: 0.8 } },
  { filename: 'b.txt', prompt: { text: 'The weather', toxicity: 0.1 }, continuation: { text: ' is nice', toxicity: 0.0 } },
  { filename: 'c.txt', prompt: { text: 'No score', toxicity: null }, continuation: { text: ' here', toxicity: null } },
].map((r) => JSON.stringify(r)).join('\n') + '\n';

before(async () => {
  repos.set('stanfordnlp/imdb', new Map([
    ['plain_text/train-00000-of-00001.parquet', writeParquet(IMDB_TRAIN)],
    ['plain_text/test-00000-of-00001.parquet', writeParquet(IMDB_TEST)],
  ]));
  repos.set('allenai/real-toxicity-prompts', new Map([['prompts.jsonl', Buffer.from(RTP_JSONL)]]));
  hub = await startFakeHub({
    commit: COMMIT, prefix: 'datasets/', onRequest: (method, url) => log.push({ method, url }),
    file: (repo, rev, file) => (rev === 'main' || rev === COMMIT ? repos.get(repo)?.get(file) : undefined),
  });
  endpoint = hub.endpoint;
});

after(() => hub.close());

/** Code-point tokenizer: enough for makePrompts, no data dir needed. */
const chars: PromptTokenizer = {
  encode: (t) => [...t].map((c) => c.codePointAt(0)!),
  decode: (ids) => String.fromCodePoint(...ids),
};

test('fetchHubDataset downloads the dataset files into the HF cache layout (datasets--org--name)', async () => {
  const cacheDir = path.join(root, 'cache1');
  log.length = 0;
  const [train, testFile] = await fetchHubDataset('imdb', undefined, { endpoint, cacheDir, offline: false, progress: false });
  const snap = path.join(cacheDir, 'datasets--stanfordnlp--imdb', 'snapshots', COMMIT);
  assert.equal(train, path.join(snap, 'plain_text', 'train-00000-of-00001.parquet'));
  assert.equal(testFile, path.join(snap, 'plain_text', 'test-00000-of-00001.parquet'));
  assert.deepEqual(fs.readFileSync(train), repos.get('stanfordnlp/imdb')!.get('plain_text/train-00000-of-00001.parquet'));
  assert.equal(fs.readFileSync(path.join(cacheDir, 'datasets--stanfordnlp--imdb', 'refs', 'main'), 'utf8'), COMMIT);
  assert.ok(log.length > 0 && log.every((r) => r.url.startsWith('/datasets/stanfordnlp/imdb/resolve/main/plain_text/')), JSON.stringify(log));
  const [only] = await fetchHubDataset('real-toxicity-prompts', 'train', { endpoint, cacheDir, offline: false, progress: false });
  assert.equal(only, path.join(cacheDir, 'datasets--allenai--real-toxicity-prompts', 'snapshots', COMMIT, 'prompts.jsonl'));
  await assert.rejects(fetchHubDataset('real-toxicity-prompts', 'test', { endpoint, cacheDir }), /allenai\/real-toxicity-prompts has no test split/);
  await assert.rejects(fetchHubDataset('jigsaw', undefined, { endpoint, cacheDir }), /unknown dataset "jigsaw".*not on the Hub in the paper's form.*--data-dir/);
  assert.equal(HUB_DATASETS.imdb.repoId, 'stanfordnlp/imdb');
});

test("loadImdb({source: 'hub'}) parses the downloaded parquet with the len > 200 filter; offline with a warm cache makes zero requests", async () => {
  const hub = { endpoint, cacheDir: path.join(root, 'cache2'), offline: false, progress: false };
  const train = await loadImdb('train', { source: 'hub', hub });
  assert.deepEqual(train.rows.map((r) => [r.text.length, r.label]), [[201, 1], [300, 0], [420, 1]]); // 🙂 is 2 UTF-16 units
  assert.equal(train.report.kept, 3);
  assert.deepEqual(train.report.dropped, { 'len<=200': 2 });
  assert.equal(train.rows[0].id, 'train-00000-of-00001.parquet#1');
  assert.equal(train.rows[0].rating, null);

  log.length = 0;
  process.env.HF_HUB_OFFLINE = '1';
  try {
    const again = await loadImdb('train', { source: 'hub', hub: { endpoint, cacheDir: hub.cacheDir } });
    assert.deepEqual(again.rows, train.rows);
    await assert.rejects(
      loadImdb('test', { source: 'hub', hub: { endpoint, cacheDir: path.join(root, 'empty') } }),
      (e: Error) => /stanfordnlp\/imdb\/plain_text\/test-00000-of-00001\.parquet \(revision main\) is not in the cache/.test(e.message) && /HF_HUB_OFFLINE/.test(e.message) && /--data-dir/.test(e.message),
    );
  } finally {
    delete process.env.HF_HUB_OFFLINE;
  }
  assert.equal(log.length, 0);
});

test("loadTask('imdb-gen', {sources: {train: 'hub', test: 'hub'}}) builds prompts and SFT texts from the Hub files", async () => {
  const data = await loadTask('imdb-gen', {
    sources: { train: 'hub', test: 'hub' },
    hub: { endpoint, cacheDir: path.join(root, 'cache3'), offline: false, progress: false },
    tokenizer: chars,
  });
  assert.equal(data.train.length, 3); // len > 200 train rows
  assert.deepEqual(data.train.map((p) => p.queryIds.length), [64, 64, 64]);
  assert.equal(data.test.length, 2); // 2 of 3 test rows pass the filter (testSize 5000 caps nothing)
  assert.deepEqual(data.test.map((p) => p.label).sort(), [0, 1]);
  assert.equal(data.sftTexts.length, 3); // every positive train review, no length filter
  await assert.rejects(loadTask('jigsaw-gen', { sources: { train: 'hub' }, tokenizer: chars }), /Jigsaw .* not on the Hub in the paper's form/);
});

test("loadRtp('hub') reads the nested prompts.jsonl; unreachable Hub falls back to the cache", async () => {
  const cacheDir = path.join(root, 'cache4');
  const rtp = await loadRtp('hub', { hub: { endpoint, cacheDir, offline: false, progress: false } });
  assert.deepEqual(rtp.rows.map((r) => [r.text, r.toxicity, r.label, r.continuation]), [
    ['You are a', 0.9, 1, ' jerk'],
    ['The weather', 0.1, 0, ' is nice'],
  ]);
  assert.deepEqual(rtp.report.dropped, { 'toxicity=null': 1 });
  const dead = http.createServer();
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', () => r()));
  const deadEndpoint = `http://127.0.0.1:${(dead.address() as AddressInfo).port}`;
  await new Promise<void>((r) => dead.close(() => r()));
  const cached = await loadRtp('hub', { hub: { endpoint: deadEndpoint, cacheDir, offline: false } });
  assert.deepEqual(cached.rows, rtp.rows);
  await assert.rejects(
    loadRtp('hub', { hub: { endpoint: deadEndpoint, cacheDir: path.join(root, 'empty2'), offline: false } }),
    /allenai\/real-toxicity-prompts\/prompts\.jsonl .*unreachable[\s\S]*--data-dir/,
  );
});
