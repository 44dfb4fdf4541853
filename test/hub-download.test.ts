import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { AddressInfo } from 'node:net';
import { hubDownload, defaultCacheDir, repoFolderName } from '../lib/models/hub';
import { loadGPT2, saveModelCheckpoint } from '../lib/models/checkpoint';
import { GPT2LMHeadModel } from '../lib/models/gpt2';

/**
 * A fake Hub on 127.0.0.1 with the real URL layout and headers: /{repo}/resolve/{rev}/{file};
 * small files answer 200 with a git-sha1 ETag, LFS files (*.safetensors) answer 302 to a CDN path
 * with X-Linked-Etag = sha256 and X-Linked-Size; every answer carries X-Repo-Commit.
 */
const COMMIT = 'a'.repeat(39) + '1';
const repoFiles = new Map<string, Buffer>();
const log: { method: string; url: string; range?: string; auth?: string }[] = [];
let corruptLfs = false;
let server: http.Server;
let endpoint = '';
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-hub-'));
const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
const gitSha1 = (b: Buffer) => crypto.createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

function serveBytes(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, headers: Record<string, string>): void {
  const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  const start = m ? Number(m[1]) : 0;
  const part = body.subarray(start);
  res.writeHead(m ? 206 : 200, { ...headers, 'Content-Length': String(part.length), ...(m ? { 'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}) });
  res.end(req.method === 'HEAD' ? undefined : part);
}

before(async () => {
  const model = new GPT2LMHeadModel({ vocab_size: 64, n_positions: 16, n_embd: 8, n_layer: 1, n_head: 2, bos_token_id: 63, eos_token_id: 63 }, { seed: 1 });
  const src = path.join(root, 'src');
  saveModelCheckpoint(src, model);
  model.dispose();
  for (const f of fs.readdirSync(src)) repoFiles.set(f, fs.readFileSync(path.join(src, f)));
  server = http.createServer((req, res) => {
    log.push({ method: req.method!, url: req.url!, range: req.headers.range, auth: req.headers.authorization });
    const cdn = /^\/lfs-cdn\/(.+)$/.exec(req.url!);
    if (cdn) {
      const body = repoFiles.get(decodeURIComponent(cdn[1]))!;
      return serveBytes(req, res, corruptLfs ? Buffer.alloc(body.length, 7) : body, {});
    }
    const m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(req.url!);
    const file = m && m[1] === 'org/tiny-gpt2' && (m[2] === 'main' || m[2] === COMMIT) ? repoFiles.get(decodeURIComponent(m[3])) : undefined;
    if (!m || !file) {
      res.writeHead(404, { 'X-Error-Code': 'EntryNotFound' });
      return res.end('Entry not found');
    }
    if (m[3].endsWith('.safetensors')) {
      res.writeHead(302, {
        Location: `/lfs-cdn/${m[3]}`, 'X-Repo-Commit': COMMIT, 'X-Linked-Etag': `"${sha256(file)}"`,
        'X-Linked-Size': String(file.length), ETag: '"not-the-lfs-etag"', 'Content-Length': '0',
      });
      return res.end();
    }
    serveBytes(req, res, file, { 'X-Repo-Commit': COMMIT, ETag: `"${gitSha1(file)}"` });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => {
  server.closeAllConnections(); // fetch keeps connections alive; do not wait for their timeout
  server.close();
});

test('downloads into the HF cache layout and the snapshot loads as a model', async () => {
  const cacheDir = path.join(root, 'cache1');
  log.length = 0;
  const res = await hubDownload('org/tiny-gpt2', { endpoint, cacheDir, token: 'hf_secret', progress: false });
  const repoDir = path.join(cacheDir, 'models--org--tiny-gpt2');
  assert.equal(res.commit, COMMIT);
  assert.equal(res.snapshotDir, path.join(repoDir, 'snapshots', COMMIT));
  assert.equal(fs.readFileSync(path.join(repoDir, 'refs', 'main'), 'utf8'), COMMIT);
  assert.deepEqual([...res.files.keys()].sort(), ['config.json', 'model.safetensors']); // tokenizer files 404 -> optional, skipped
  const st = res.files.get('model.safetensors')!;
  assert.ok(fs.lstatSync(st).isSymbolicLink());
  assert.equal(fs.readlinkSync(st), path.join('..', '..', 'blobs', sha256(repoFiles.get('model.safetensors')!)));
  assert.ok(fs.existsSync(path.join(repoDir, 'blobs', gitSha1(repoFiles.get('config.json')!))));
  assert.deepEqual(fs.readFileSync(st), repoFiles.get('model.safetensors'));
  assert.ok(log.every((r) => r.url.startsWith('/lfs-cdn') || r.auth === 'Bearer hf_secret'));
  assert.ok(log.some((r) => r.method === 'GET' && r.url === '/lfs-cdn/model.safetensors'), 'followed the 302');
  const { model } = loadGPT2(res.snapshotDir);
  assert.equal(model.config.n_embd, 8);
  model.dispose();
  // second call: metadata only, no content downloads
  log.length = 0;
  await hubDownload('org/tiny-gpt2', { endpoint, cacheDir, progress: false });
  assert.deepEqual(log.filter((r) => r.method === 'GET'), []);
});

test('offline mode (HF_HUB_OFFLINE=1) uses the cache without any request; missing files are named', async () => {
  const cacheDir = path.join(root, 'cache2');
  await hubDownload('org/tiny-gpt2', { endpoint, cacheDir, files: ['config.json', 'model.safetensors'], progress: false });
  log.length = 0;
  process.env.HF_HUB_OFFLINE = '1';
  try {
    const res = await hubDownload('org/tiny-gpt2', { endpoint, cacheDir, files: ['config.json', 'model.safetensors'] });
    assert.equal(res.commit, COMMIT);
    assert.deepEqual(fs.readFileSync(res.files.get('config.json')!), repoFiles.get('config.json'));
    const byCommit = await hubDownload('org/tiny-gpt2', { endpoint, cacheDir, revision: COMMIT, files: ['config.json'] });
    assert.equal(byCommit.snapshotDir, res.snapshotDir);
    await assert.rejects(hubDownload('org/tiny-gpt2', { endpoint, cacheDir, files: ['vocab.json'] }), /org\/tiny-gpt2\/vocab\.json \(revision main\) is not in the cache .* HF_HUB_OFFLINE is set/);
    await assert.rejects(hubDownload('org/other', { endpoint, cacheDir }), /org\/other\/config\.json .*not in the cache/);
  } finally {
    delete process.env.HF_HUB_OFFLINE;
  }
  assert.equal(log.length, 0);
});

test('unreachable endpoint falls back to the cache, else a clear error', async () => {
  const cacheDir = path.join(root, 'cache3');
  await hubDownload('org/tiny-gpt2', { endpoint, cacheDir, files: ['config.json'], progress: false });
  const dead = http.createServer();
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', () => r()));
  const deadEndpoint = `http://127.0.0.1:${(dead.address() as AddressInfo).port}`;
  await new Promise<void>((r) => dead.close(() => r()));
  const res = await hubDownload('org/tiny-gpt2', { endpoint: deadEndpoint, cacheDir, files: ['config.json'] });
  assert.equal(res.commit, COMMIT);
  await assert.rejects(
    hubDownload('org/tiny-gpt2', { endpoint: deadEndpoint, cacheDir: path.join(root, 'empty') }),
    /org\/tiny-gpt2\/config\.json \(revision main\) is not in the cache .* is unreachable \(ECONNREFUSED\)/,
  );
});

test('404 for a requested file or repo is a clear error', async () => {
  const cacheDir = path.join(root, 'cache4');
  await assert.rejects(hubDownload('org/tiny-gpt2', { endpoint, cacheDir, files: ['pytorch_model.bin'], progress: false }), /org\/tiny-gpt2\/pytorch_model\.bin \(revision main\) not found \(HTTP 404/);
  await assert.rejects(hubDownload('org/missing', { endpoint, cacheDir, progress: false }), /org\/missing\/config\.json \(revision main\) not found \(HTTP 404/);
  await assert.rejects(hubDownload('bad id!', { endpoint, cacheDir }), /invalid repo id/);
});

test('resumes a partial .incomplete download with a Range request; corrupt LFS content is rejected', async () => {
  const cacheDir = path.join(root, 'cache5');
  const body = repoFiles.get('model.safetensors')!;
  const blobs = path.join(cacheDir, 'models--org--tiny-gpt2', 'blobs');
  fs.mkdirSync(blobs, { recursive: true });
  const half = Math.floor(body.length / 2);
  fs.writeFileSync(path.join(blobs, `${sha256(body)}.incomplete`), body.subarray(0, half));
  log.length = 0;
  const res = await hubDownload('org/tiny-gpt2', { endpoint, cacheDir, files: ['model.safetensors'], progress: false });
  assert.deepEqual(fs.readFileSync(res.files.get('model.safetensors')!), body);
  assert.ok(log.some((r) => r.method === 'GET' && r.range === `bytes=${half}-`));
  assert.equal(fs.existsSync(path.join(blobs, `${sha256(body)}.incomplete`)), false);
  corruptLfs = true;
  try {
    await assert.rejects(
      hubDownload('org/tiny-gpt2', { endpoint, cacheDir: path.join(root, 'cache6'), files: ['model.safetensors'], progress: false }),
      /model\.safetensors has sha256 [0-9a-f]{64} but the Hub ETag says/,
    );
  } finally {
    corruptLfs = false;
  }
  assert.equal(fs.readdirSync(path.join(root, 'cache6', 'models--org--tiny-gpt2', 'blobs')).length, 0);
});

test('cache location and folder names follow huggingface_hub', () => {
  assert.equal(defaultCacheDir({ HF_HUB_CACHE: '/x/hub' }), '/x/hub');
  assert.equal(defaultCacheDir({ HF_HOME: '/h' }), path.join('/h', 'hub'));
  assert.equal(defaultCacheDir({ XDG_CACHE_HOME: '/c' }), path.join('/c', 'huggingface', 'hub'));
  assert.equal(defaultCacheDir({}), path.join(os.homedir(), '.cache', 'huggingface', 'hub'));
  assert.equal(repoFolderName('openai-community/gpt2'), 'models--openai-community--gpt2');
  assert.equal(repoFolderName('gpt2'), 'models--gpt2');
  assert.equal(repoFolderName('stanfordnlp/imdb', 'dataset'), 'datasets--stanfordnlp--imdb');
});
