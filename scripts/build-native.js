#!/usr/bin/env node
/**
 * Builds the optional native kernels (native/: N-API + OpenBLAS) with node-gyp. Runs at
 * `npm install` and never fails it: without a compiler, Node's headers or OpenBLAS the engine
 * keeps the stock wasm kernels, and this prints how to get the fast path.
 * `npm run build:native` runs it with --strict (exit 1 on failure), e.g. after installing OpenBLAS.
 * RARLHF_NATIVE=0 at install time skips the build.
 */
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const strict = process.argv.includes('--strict');
const root = path.resolve(__dirname, '..');
const dir = path.join(root, 'native');
const HOW = 'apt-get install -y g++ make libopenblas-dev && npm run build:native';

function done(ok, msg) {
  process.stderr.write(`[rarlhf] ${msg}\n`);
  process.exit(ok || !strict ? 0 : 1);
}

if (process.env.RARLHF_NATIVE === '0' && !strict) done(true, 'RARLHF_NATIVE=0: native kernels not built');

// node-gyp: the one npm passes to scripts, else the copy bundled with npm beside this node.
function findNodeGyp() {
  const candidates = [process.env.npm_config_node_gyp];
  try {
    candidates.push(require.resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    /* not a dependency */
  }
  const npmDir = path.resolve(path.dirname(process.execPath), '../lib/node_modules/npm');
  candidates.push(path.join(npmDir, 'node_modules/node-gyp/bin/node-gyp.js'));
  return candidates.find((c) => c && fs.existsSync(c));
}

// Node's headers where the distribution installed them, so node-gyp needs no download.
function findNodeDir() {
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(prefix, 'include/node/node_api.h')) ? prefix : undefined;
}

const gyp = findNodeGyp();
if (!gyp) done(false, `native kernels not built: node-gyp not found (the engine uses the stock wasm kernels). Fast path: ${HOW}`);
const cblas = ['/usr/include/cblas.h', '/usr/include/x86_64-linux-gnu/cblas.h', '/usr/include/aarch64-linux-gnu/cblas.h', '/usr/include/openblas/cblas.h'];
if (!cblas.some((f) => fs.existsSync(f)) && !process.env.RARLHF_BLAS_INCLUDE) {
  done(false, `native kernels not built: OpenBLAS headers (cblas.h) not found; the engine uses the stock wasm kernels. Fast path: ${HOW}`);
}
const nodedir = findNodeDir();
const args = [gyp, 'rebuild', '--loglevel=warn', ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
const t0 = Date.now();
const r = spawnSync(process.execPath, args, { cwd: dir, encoding: 'utf8' });
if (r.status !== 0) {
  const tail = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-8).join('\n');
  done(false, `native kernels not built (node-gyp exit ${r.status}); the engine uses the stock wasm kernels. Fast path: ${HOW}\n${tail}`);
}
done(true, `native kernels built in ${((Date.now() - t0) / 1000).toFixed(1)} s (native/build/Release/rarlhf_native.node)`);
