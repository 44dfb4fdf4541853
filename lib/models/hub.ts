/**
 * Hugging Face Hub downloads into the standard cache layout (what huggingface_hub's
 * hf_hub_download writes, so Python and this kit share one cache):
 *   {cache}/models--{org}--{name}/blobs/{etag}                 file contents, named by ETag
 *   {cache}/models--{org}--{name}/snapshots/{commit}/{file}    relative symlink to the blob (copy if links fail)
 *   {cache}/models--{org}--{name}/refs/{revision}              the commit hash the revision resolved to
 * URL {endpoint}/{repo}/resolve/{revision}/{file}; metadata from a HEAD request without following
 * the redirect (X-Repo-Commit, X-Linked-Etag before ETag, X-Linked-Size), contents via GET following
 * redirects into blobs/{etag}.incomplete (resumed with a Range request), renamed when complete and,
 * for LFS files (64-hex ETag = sha256), verified. Offline (HF_HUB_OFFLINE=1) or when the network
 * fails, a cached snapshot is used; otherwise the error names the repo, file and reason.
 * No file locks: two processes downloading the same blob at once may both download it.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SingleBar, Presets } from 'cli-progress';

export interface HubDownloadOptions {
  revision?: string;
  /** files to fetch (all required); default: GPT-2 checkpoint files, tokenizer files optional */
  files?: string[];
  repoType?: 'model' | 'dataset';
  cacheDir?: string;
  endpoint?: string;
  token?: string;
  offline?: boolean;
  /** progress bar on stderr; default: when stderr is a terminal */
  progress?: boolean;
}

export interface HubDownloadResult {
  repoId: string;
  commit: string;
  /** snapshots/{commit}: pass it to loadCheckpoint() */
  snapshotDir: string;
  /** file name -> local path, only files that exist in the repo */
  files: Map<string, string>;
}

/** Checkpoint files hubDownload fetches by default; `true` = required. */
export const DEFAULT_MODEL_FILES: [string, boolean][] = [
  ['config.json', true], ['model.safetensors', true], ['vocab.json', false], ['merges.txt', false],
  ['tokenizer.json', false], ['tokenizer_config.json', false], ['special_tokens_map.json', false], ['generation_config.json', false],
];

const truthy = (v: string | undefined) => ['1', 'on', 'yes', 'true'].includes((v ?? '').toLowerCase());

export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  const home = env.HF_HOME ?? path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'huggingface');
  return path.join(home, 'hub');
}

/** models--org--name (datasets--...) as huggingface_hub names repo folders. */
export function repoFolderName(repoId: string, repoType: 'model' | 'dataset' = 'model'): string {
  return [`${repoType}s`, ...repoId.split('/')].join('--');
}

/**
 * Local folder or Hub id? The rule (README "Models: local folders and Hub ids"):
 *  1. a string naming an existing path is that path, never a Hub id;
 *  2. otherwise it is a Hub id only if it has the Hub's shape ("name" or "org/name", letters,
 *     digits, "_.-", not starting with ".") AND "org" is not an existing local folder; anything else
 *     (./x, /x, a/b/c, runs/typo where runs/ exists) is a mistyped local path: error, no lookup;
 *  3. a Hub id is downloaded only when asked for and not offline (HF_HUB_OFFLINE reads the cache only).
 */
export type ModelRef = { kind: 'local'; path: string } | { kind: 'hub'; id: string } | { kind: 'missing'; message: string };

export function classifyModelRef(ref: string, cwd: string = process.cwd()): ModelRef {
  if (fs.existsSync(path.resolve(cwd, ref))) return { kind: 'local', path: ref };
  const miss = (why: string): ModelRef => ({ kind: 'missing', message: `no such folder ${ref}; not looking it up on the Hub because ${why}` });
  if (/^[.~/\\]/.test(ref) || ref.includes('\\')) return miss('it is written as a path (a Hub id is "name" or "org/name")');
  if (!/^[\w.-]+(\/[\w.-]+)?$/.test(ref)) return miss('it is not a Hub id ("name" or "org/name")');
  const org = ref.includes('/') ? ref.slice(0, ref.indexOf('/')) : null;
  if (org !== null && fs.existsSync(path.resolve(cwd, org))) return miss(`./${org} is a local folder, so "${ref}" names a path inside it (check the spelling)`);
  return { kind: 'hub', id: ref };
}

/** True when HF_HUB_OFFLINE is set: Hub ids resolve from the local cache only, with no request. */
export function hubOffline(env: NodeJS.ProcessEnv = process.env): boolean {
  return truthy(env.HF_HUB_OFFLINE);
}

class FileNotOnHubError extends Error {}

/** Thrown for HTTP answers that mean "retrying from cache would hide a real problem". */
function httpError(status: number, repoId: string, file: string, revision: string, url: string): Error {
  const what = `${repoId}/${file} (revision ${revision})`;
  if (status === 404) return new FileNotOnHubError(`hubDownload: ${what} not found (HTTP 404 from ${url}); check the repo id, revision and file name`);
  if (status === 401 || status === 403) return new Error(`hubDownload: ${what} needs authorisation (HTTP ${status}); set HF_TOKEN or pass token for private/gated repos`);
  return new Error(`hubDownload: ${what} failed with HTTP ${status} from ${url}`);
}

const isNetworkError = (e: unknown) => e instanceof TypeError || (e as { retryable?: boolean })?.retryable === true;

interface Meta { commit: string; etag: string; size?: number; url: string }

async function headMeta(url: string, headers: Record<string, string>, repoId: string, file: string, revision: string): Promise<Meta> {
  let commit: string | undefined;
  let etag: string | undefined;
  let size: number | undefined;
  let current = url;
  for (let hop = 0; hop < 10; hop++) {
    const r = await fetch(current, { method: 'HEAD', headers, redirect: 'manual' });
    if (r.status >= 500) throw Object.assign(new Error(`HTTP ${r.status} from ${current}`), { retryable: true });
    if (r.status >= 400) throw httpError(r.status, repoId, file, revision, current);
    commit ??= r.headers.get('x-repo-commit') ?? undefined;
    const e = r.headers.get('x-linked-etag') ?? r.headers.get('etag');
    if (etag === undefined && e) etag = e.replace(/^W\//, '').replace(/"/g, '');
    const s = r.headers.get('x-linked-size') ?? (r.status < 300 ? r.headers.get('content-length') : null);
    if (size === undefined && s) size = Number(s);
    const loc = r.headers.get('location');
    // Follow only while metadata is incomplete (e.g. a renamed repo); an LFS redirect carries it all.
    if (r.status >= 300 && r.status < 400 && loc && (commit === undefined || etag === undefined)) {
      current = new URL(loc, current).toString();
      continue;
    }
    break;
  }
  if (!commit) throw new Error(`hubDownload: ${url} sent no X-Repo-Commit header; is ${new URL(url).origin} a Hugging Face Hub endpoint?`);
  if (!etag) throw new Error(`hubDownload: ${url} sent no ETag header`);
  return { commit, etag, size, url };
}

async function downloadToBlob(meta: Meta, blob: string, headers: Record<string, string>, label: string, progress: boolean): Promise<void> {
  const part = `${blob}.incomplete`;
  let have = fs.existsSync(part) ? fs.statSync(part).size : 0;
  const r = await fetch(meta.url, { headers: have > 0 ? { ...headers, Range: `bytes=${have}-` } : headers, redirect: 'follow' });
  if (r.status === 416 && have > 0) {
    fs.rmSync(part, { force: true }); // the partial file is not a prefix of this blob: start over
    return downloadToBlob(meta, blob, headers, label, progress);
  }
  if (r.status >= 500) throw Object.assign(new Error(`HTTP ${r.status} from ${meta.url}`), { retryable: true });
  if (!r.ok || !r.body) throw new Error(`hubDownload: GET ${meta.url} for ${label} failed with HTTP ${r.status}`);
  if (r.status !== 206) have = 0; // server ignored the Range header: start over
  const total = meta.size ?? (Number(r.headers.get('content-length')) + have || undefined);
  const bar = progress && total ? new SingleBar({ format: `${label} [{bar}] {percentage}% {value}/{total} B`, stream: process.stderr, noTTYOutput: true }, Presets.shades_classic) : null;
  bar?.start(total!, have);
  const fd = fs.openSync(part, have > 0 ? 'a' : 'w');
  try {
    for await (const chunk of r.body as unknown as AsyncIterable<Uint8Array>) {
      fs.writeSync(fd, chunk);
      have += chunk.length;
      bar?.update(have);
    }
  } finally {
    fs.closeSync(fd);
    bar?.stop();
  }
  if (meta.size !== undefined && have !== meta.size) {
    throw Object.assign(new Error(`download of ${label} stopped at ${have} of ${meta.size} bytes (kept ${part} to resume)`), { retryable: true });
  }
  if (/^[0-9a-f]{64}$/.test(meta.etag)) {
    const digest = crypto.createHash('sha256').update(fs.readFileSync(part)).digest('hex');
    if (digest !== meta.etag) {
      fs.rmSync(part, { force: true });
      throw new Error(`hubDownload: ${label} has sha256 ${digest} but the Hub ETag says ${meta.etag}; deleted the corrupt download`);
    }
  }
  fs.renameSync(part, blob);
}

function linkIntoSnapshot(blob: string, target: string): void {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.rmSync(target, { force: true });
  try {
    fs.symlinkSync(path.relative(path.dirname(target), blob), target);
  } catch {
    fs.copyFileSync(blob, target); // filesystems without symlinks
  }
}

/** The commit a revision points to in the cache (a commit hash maps to itself), or undefined. */
function cachedCommit(repoDir: string, revision: string): string | undefined {
  if (/^[0-9a-f]{40}$/.test(revision) && fs.existsSync(path.join(repoDir, 'snapshots', revision))) return revision;
  const ref = path.join(repoDir, 'refs', revision);
  return fs.existsSync(ref) ? fs.readFileSync(ref, 'utf8').trim() : undefined;
}

/** Download one repo's files into the HF cache and return the snapshot directory. */
export async function hubDownload(repoId: string, opts: HubDownloadOptions = {}): Promise<HubDownloadResult> {
  if (!/^[\w.-]+(\/[\w.-]+)?$/.test(repoId)) throw new Error(`hubDownload: invalid repo id ${JSON.stringify(repoId)} (expected "name" or "org/name")`);
  const revision = opts.revision ?? 'main';
  const repoType = opts.repoType ?? 'model';
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const endpoint = (opts.endpoint ?? process.env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, '');
  const token = opts.token ?? process.env.HF_TOKEN ?? process.env.HUGGING_FACE_HUB_TOKEN;
  const offline = opts.offline ?? truthy(process.env.HF_HUB_OFFLINE);
  const progress = opts.progress ?? Boolean(process.stderr.isTTY);
  const wanted: [string, boolean][] = opts.files ? opts.files.map((f) => [f, true]) : DEFAULT_MODEL_FILES;
  const repoDir = path.join(cacheDir, repoFolderName(repoId, repoType));
  const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
  const prefix = repoType === 'dataset' ? 'datasets/' : '';
  const files = new Map<string, string>();

  const fromCache = (reason: string): HubDownloadResult => {
    const commit = cachedCommit(repoDir, revision);
    const snapshotDir = commit ? path.join(repoDir, 'snapshots', commit) : '';
    for (const [file, required] of wanted) {
      const p = path.join(snapshotDir, file);
      if (commit && fs.existsSync(p)) files.set(file, p);
      else if (required) {
        throw new Error(`hubDownload: ${repoId}/${file} (revision ${revision}) is not in the cache ${repoDir} and ${reason}`);
      }
    }
    return { repoId, commit: commit!, snapshotDir, files };
  };
  if (offline) return fromCache('HF_HUB_OFFLINE is set (offline mode), so it cannot be downloaded');

  let commit: string | undefined;
  try {
    for (const [file, required] of wanted) {
      const url = `${endpoint}/${prefix}${repoId}/resolve/${encodeURIComponent(revision)}/${file.split('/').map(encodeURIComponent).join('/')}`;
      let meta: Meta;
      try {
        meta = await headMeta(url, headers, repoId, file, revision);
      } catch (e) {
        if (e instanceof FileNotOnHubError && !required) continue;
        throw e;
      }
      if (commit && meta.commit !== commit) throw new Error(`hubDownload: ${repoId} moved from commit ${commit} to ${meta.commit} during the download; retry`);
      commit = meta.commit;
      const blob = path.join(repoDir, 'blobs', meta.etag);
      fs.mkdirSync(path.dirname(blob), { recursive: true });
      if (!fs.existsSync(blob)) await downloadToBlob(meta, blob, headers, `${repoId}/${file}`, progress);
      const target = path.join(repoDir, 'snapshots', commit, file);
      linkIntoSnapshot(blob, target);
      files.set(file, target);
    }
  } catch (e) {
    if (!isNetworkError(e)) throw e;
    const why = (e as Error & { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
    return fromCache(`the Hub at ${endpoint} is unreachable (${why}); set HF_ENDPOINT or connect and retry`);
  }
  if (!commit) throw new Error(`hubDownload: none of ${wanted.map(([f]) => f).join(', ')} exist in ${repoId} (revision ${revision})`);
  if (revision !== commit) {
    const ref = path.join(repoDir, 'refs', revision);
    fs.mkdirSync(path.dirname(ref), { recursive: true });
    fs.writeFileSync(ref, commit);
  }
  return { repoId, commit, snapshotDir: path.join(repoDir, 'snapshots', commit), files };
}
