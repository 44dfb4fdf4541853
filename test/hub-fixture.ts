/**
 * A fake Hub on 127.0.0.1 for small (non-LFS) files: GET/HEAD {prefix}{org}/{name}/resolve/{rev}/{file}
 * answers 200 with X-Repo-Commit and a git-sha1 ETag, as the Hub does; anything else 404.
 * (test/hub-download.test.ts has the full server with LFS redirects.)
 */
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';

export const gitSha1 = (b: Buffer) => crypto.createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

export interface FakeHub { endpoint: string; close(): void }

export async function startFakeHub(o: {
  commit: string;
  /** the bytes of `file` in `repo` at `rev`, or undefined for a 404 */
  file: (repo: string, rev: string, file: string) => Buffer | undefined;
  /** 'datasets/' for dataset repos */
  prefix?: string;
  onRequest?: (method: string, url: string) => void;
}): Promise<FakeHub> {
  const route = new RegExp(`^/${o.prefix ?? ''}([^/]+/[^/]+)/resolve/([^/]+)/(.+)$`);
  const server = http.createServer((req, res) => {
    o.onRequest?.(req.method!, req.url!);
    const m = route.exec(req.url ?? '');
    const body = m ? o.file(m[1], m[2], decodeURIComponent(m[3])) : undefined;
    if (!body) {
      res.writeHead(404, { 'X-Error-Code': 'EntryNotFound' });
      return res.end('Entry not found');
    }
    res.writeHead(200, { 'X-Repo-Commit': o.commit, ETag: `"${gitSha1(body)}"`, 'Content-Length': String(body.length) });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections(); // fetch keeps connections alive; do not wait for their timeout
      server.close();
    },
  };
}
