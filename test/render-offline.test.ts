/**
 * The PNG renderer must not touch the network: run it under strace (no LD_PRELOAD; the kernel
 * reports every socket call of Node and all Chromium processes) and fail on any connect() or
 * datagram send to a non-loopback address, or any DNS traffic. The one allowed call is Chromium's
 * IPv6 reachability check (UDP connect to 2001:4860:4860::8888 with no send: a route lookup).
 * A control run with Chromium's default flags must show the DNS queries, so the trace is known to
 * see them. Skipped with a message when Chromium or strace is missing (CI installs Chromium).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromiumPath } from '../lib/eval/render';

const exe = chromiumPath();
const strace = ['/usr/bin/strace', '/bin/strace'].find((p) => fs.existsSync(p));
const skip = !exe ? 'Chromium not installed (apt-get install chromium); CI installs it' : !strace ? 'strace not installed' : false;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-render-net-'));
const ROOT = path.resolve(__dirname, '..');

/** Render one PNG in a child process under strace; returns the trace lines. */
function tracedRender(defaultFlags: boolean): { lines: string[]; stdout: string } {
  const script = path.join(tmp, 'render.ts');
  fs.writeFileSync(script, `
    import * as render from ${JSON.stringify(path.join(ROOT, 'lib/eval/render'))};
    if (process.env.DEFAULT_FLAGS) (render.CHROMIUM_ARGS as string[]).splice(7); // the old flag set
    (async () => {
      const png = await render.figureToPng({ data: [{ x: [1, 2], y: [3, 4], type: 'scatter' }], layout: { width: 200, height: 150 } } as never);
      await new Promise((r) => setTimeout(r, 1500)); // background services start after the first page
      console.log('png', png ? png.length : 0);
      await render.closeRenderer();
    })();`);
  const out = path.join(tmp, defaultFlags ? 'default.trace' : 'rarlhf.trace');
  const r = spawnSync(strace!, ['-f', '-qq', '-e', 'trace=connect,sendto,sendmsg,sendmmsg', '-o', out, process.execPath, '--import', 'tsx', script], {
    cwd: ROOT, encoding: 'utf8', timeout: 120_000, env: { ...process.env, DEFAULT_FLAGS: defaultFlags ? '1' : '' },
  });
  assert.equal(r.status, 0, r.stderr);
  return { lines: fs.readFileSync(out, 'utf8').split('\n'), stdout: r.stdout };
}

const LOOPBACK = /inet_addr\("127\.|inet_pton\(AF_INET6, "::1"|sa_family=AF_UNIX|sa_family=AF_NETLINK/;
const IPV6_PROBE = /^connect\(.*sin6_port=htons\(443\).*"2001:4860:4860::8888"/;

/** Socket calls that name a non-loopback destination (DNS included), minus the allowed probe. */
function outside(lines: string[]): string[] {
  return lines
    .map((l) => l.replace(/^\d+\s+/, ''))
    .filter((l) => /^(connect|sendto|sendmsg|sendmmsg)\(/.test(l))
    .filter((l) => /sa_family=AF_INET6?|htons\(53\)/.test(l) && !LOOPBACK.test(l))
    .filter((l) => !IPV6_PROBE.test(l));
}

test('PNG rendering makes no DNS query and no outside connection (strace of Node + Chromium)', { skip, timeout: 300_000 }, () => {
  const control = tracedRender(true);
  assert.match(control.stdout, /png [1-9]/);
  const dns = control.lines.filter((l) => /htons\(53\)/.test(l));
  assert.ok(dns.length > 0, 'control run (old flags) shows no DNS traffic: the trace cannot see it, so this test would prove nothing');
  assert.ok(outside(control.lines).length > 0, 'the filter below must flag the control run');

  const ours = tracedRender(false);
  assert.match(ours.stdout, /png [1-9]/);
  assert.deepEqual(outside(ours.lines), [], 'outside network attempts with CHROMIUM_ARGS');
  // The probe, if present, never sends: no send* call on a socket to a non-loopback address.
  const sends = ours.lines.filter((l) => /sendto\(|sendmmsg\(/.test(l) && /sa_family=AF_INET6?/.test(l) && !LOOPBACK.test(l));
  assert.deepEqual(sends, []);
});
