/**
 * The PNG renderer must not touch the network: run it under strace (no LD_PRELOAD; the kernel
 * reports every socket call of Node and all Chromium processes, one file per process) and look at
 * every connect() or datagram send to a non-loopback address, and any DNS traffic.
 *
 * Strict variant, on machines where a network namespace can be made (`unshare -n` as root,
 * `unshare -rn` otherwise; CI runs as root): Chromium must run in a namespace other than the
 * test's (checked in /proc and by the traced unshare(CLONE_NEWNET) = 0), with zero DNS, zero
 * datagram sends and zero connect() to any non-loopback address that the kernel did not refuse
 * for lack of a route: no address or port is allowed, the IPv6 route probe included.
 * Without a namespace (the renderer says so on stderr) the flags-only variant runs: the one
 * allowed call is Chromium's IPv6 reachability check (UDP connect to 2001:4860:4860::8888, no send).
 * A control run with Chromium's default flags and no namespace must show DNS queries that the
 * kernel let through, so the trace is known to see them and the strict check can fail.
 * Skipped with a message when Chromium or strace is missing (CI installs both).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromiumNetIsolation, chromiumPath } from '../lib/eval/render';

const exe = chromiumPath();
const strace = ['/usr/bin/strace', '/bin/strace'].find((p) => fs.existsSync(p));
const skip = !exe ? 'Chromium not installed (apt-get install chromium); CI installs it' : !strace ? 'strace not installed (apt-get install strace); CI installs it' : false;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-render-net-'));
const ROOT = path.resolve(__dirname, '..');
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const { RARLHF_CHROMIUM_NETNS: _off, ...baseEnv } = process.env; // the traced child never gets it
/** What the renderer will use in the child (probed here the same way; the child probes again). */
const isolation = (() => {
  delete process.env.RARLHF_CHROMIUM_NETNS;
  try { return chromiumNetIsolation(); } finally { if (_off !== undefined) process.env.RARLHF_CHROMIUM_NETNS = _off; }
})();
const strict = isolation !== 'flags';

interface Traced { lines: string[]; procs: string[][]; stdout: string; stderr: string; ns: { own: string; chromium: string[] } }

/** Render one PNG in a child process under strace; returns the trace lines of all processes. */
function tracedRender(control: boolean): Traced {
  const script = path.join(tmp, 'render.ts');
  fs.writeFileSync(script, `
    import * as fs from 'node:fs';
    import * as render from ${JSON.stringify(path.join(ROOT, 'lib/eval/render'))};
    if (process.env.DEFAULT_FLAGS) (render.CHROMIUM_ARGS as string[]).splice(7); // the old flag set
    /** Network namespaces of this process's Chromium descendants (read while the browser runs). */
    function chromiumNamespaces(): string[] {
      const parent = new Map<number, number>();
      for (const d of fs.readdirSync('/proc')) {
        if (!/^\\d+$/.test(d)) continue;
        try { parent.set(+d, +fs.readFileSync('/proc/' + d + '/stat', 'utf8').replace(/^.*\\) /s, '').split(' ')[1]); } catch { /* gone */ }
      }
      const mine = (pid: number): boolean => { for (let p = parent.get(pid); p; p = parent.get(p)) if (p === process.pid) return true; return false; };
      const out = new Set<string>();
      for (const pid of parent.keys()) {
        if (!mine(pid)) continue;
        try {
          if (!/chrom/i.test(fs.readFileSync('/proc/' + pid + '/cmdline', 'utf8'))) continue;
          out.add(fs.readlinkSync('/proc/' + pid + '/ns/net'));
        } catch { /* gone */ }
      }
      return [...out];
    }
    (async () => {
      const png = await render.figureToPng({ data: [{ x: [1, 2], y: [3, 4], type: 'scatter' }], layout: { width: 200, height: 150 } } as never);
      await new Promise((r) => setTimeout(r, 1500)); // background services start after the first page
      console.log('ns', JSON.stringify({ own: fs.readlinkSync('/proc/self/ns/net'), chromium: chromiumNamespaces() }));
      console.log('png', png ? png.length : 0);
      await render.closeRenderer();
    })();`);
  const dir = fs.mkdtempSync(path.join(tmp, control ? 'control-' : 'ours-'));
  const env: NodeJS.ProcessEnv = { ...baseEnv, DEFAULT_FLAGS: control ? '1' : '' };
  if (control) env.RARLHF_CHROMIUM_NETNS = '0';
  const r = spawnSync(strace!, ['-f', '-ff', '-qq', '-e', 'trace=connect,sendto,sendmsg,sendmmsg,unshare,execve', '-o', path.join(dir, 't'),
    process.execPath, '--import', 'tsx', script], { cwd: ROOT, encoding: 'utf8', timeout: 120_000, env });
  assert.equal(r.status, 0, r.stderr);
  const procs = fs.readdirSync(dir).map((f) => fs.readFileSync(path.join(dir, f), 'utf8').split('\n'));
  const nsLine = /^ns (.*)$/m.exec(r.stdout);
  assert.ok(nsLine, r.stdout);
  return { lines: procs.flat(), procs, stdout: r.stdout, stderr: r.stderr, ns: JSON.parse(nsLine[1]) };
}

const LOOPBACK = /inet_addr\("127\.|inet_pton\(AF_INET6, "::1"|sa_family=AF_UNIX|sa_family=AF_NETLINK/;
const IPV6_PROBE = /^connect\(.*sin6_port=htons\(443\).*"2001:4860:4860::8888"/;
/** The kernel refused the call for lack of a route/address: nothing left the namespace. */
const NO_ROUTE = /= -1 (ENETUNREACH|EADDRNOTAVAIL|EHOSTUNREACH) /;

/** Socket calls that name a non-loopback destination (DNS included). */
function outside(lines: string[]): string[] {
  return lines
    .filter((l) => /^(connect|sendto|sendmsg|sendmmsg)\(/.test(l))
    .filter((l) => /sa_family=AF_INET6?|htons\(53\)/.test(l) && !LOOPBACK.test(l));
}

test(`PNG rendering makes no DNS query and no outside connection (strace of Node + Chromium; ${strict ? `strict: network namespace via unshare, ${isolation}` : 'NO network namespace here: flags only, IPv6 route probe allowed'})`, { skip, timeout: 300_000 }, () => {
  const control = tracedRender(true);
  assert.match(control.stdout, /png [1-9]/);
  const dns = control.lines.filter((l) => /htons\(53\)/.test(l));
  assert.ok(dns.length > 0, 'control run (old flags) shows no DNS traffic: the trace cannot see it, so this test would prove nothing');
  assert.ok(outside(control.lines).length > 0, 'the filter below must flag the control run');
  assert.ok(control.ns.chromium.length > 0 && control.ns.chromium.every((n) => n === control.ns.own), 'control run: Chromium should share the test\'s namespace');

  const ours = tracedRender(false);
  assert.match(ours.stdout, /png [1-9]/);
  const sends = ours.lines.filter((l) => /^(sendto|sendmsg|sendmmsg)\(/.test(l) && /sa_family=AF_INET6?/.test(l) && !LOOPBACK.test(l));
  assert.deepEqual(sends, [], 'datagram sends to a non-loopback address');
  assert.deepEqual(ours.lines.filter((l) => /htons\(53\)/.test(l)), [], 'DNS traffic');
  if (strict) {
    assert.doesNotMatch(ours.stderr, /no network namespace available/);
    // One process made the namespace and then became Chromium (the wrapper execs unshare, which execs it).
    const entered = ours.procs.filter((p) => {
      const u = p.findIndex((l) => /^unshare\(.*CLONE_NEWNET.*\)\s+= 0$/.test(l));
      return u >= 0 && p.slice(u).some((l) => l.startsWith(`execve(${JSON.stringify(exe)}`) && /\)\s+= 0$/.test(l));
    });
    assert.equal(entered.length, 1, 'no traced process did unshare(CLONE_NEWNET) = 0 and then execve Chromium');
    assert.ok(ours.ns.chromium.length > 0, `no Chromium process found under the renderer (${ours.stdout})`);
    assert.ok(ours.ns.chromium.every((n) => n !== ours.ns.own), `Chromium runs in the test's network namespace: ${JSON.stringify(ours.ns)}`);
    // No allowance by address or port: any outside connect() the kernel did not refuse fails the test.
    assert.deepEqual(outside(ours.lines).filter((l) => !NO_ROUTE.test(l)), [], 'outside connect() not refused inside the namespace');
    // ...and the same check does flag the control run (its DNS went out), so it can fail.
    assert.ok(outside(control.lines).some((l) => !NO_ROUTE.test(l)), 'control run: every outside call was refused, so the strict check proves nothing here');
  } else {
    assert.match(ours.stderr, /\[rarlhf\] figures: no network namespace available; rendering with Chromium's offline flags/);
    assert.deepEqual(outside(ours.lines).filter((l) => !IPV6_PROBE.test(l)), [], 'outside network attempts with CHROMIUM_ARGS');
  }
});
