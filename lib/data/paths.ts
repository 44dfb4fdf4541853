/**
 * Where the read-only data lives. Resolution order: explicit option > env RARLHF_DATA_DIR >
 * <projectRoot>/../shared/data. Data is never copied into the repo.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The directory holding package.json, searched upward from this file (works from lib/ and dist/lib/). */
export function projectRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`projectRoot: no package.json above ${__dirname}`);
    dir = up;
  }
}

/** Resolve the data directory and check that it exists. */
export function resolveDataDir(dataDir?: string): string {
  const env = process.env.RARLHF_DATA_DIR;
  const [dir, from] = dataDir
    ? [path.resolve(dataDir), 'the dataDir option / --data-dir']
    : env
      ? [path.resolve(env), 'env RARLHF_DATA_DIR']
      : [path.resolve(projectRoot(), '../shared/data'), 'the default <projectRoot>/../shared/data'];
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new Error(
      `data directory not found: ${dir} (taken from ${from}). ` +
        'Pass --data-dir <dir>, set RARLHF_DATA_DIR, or place the data at ../shared/data next to the project.',
    );
  }
  return dir;
}

/** Path of a file inside the data dir; throws naming the full path when it is missing. */
export function dataFile(rel: string, dataDir?: string): string {
  const p = path.join(resolveDataDir(dataDir), rel);
  if (!fs.existsSync(p)) throw new Error(`data file not found: ${p}`);
  return p;
}
