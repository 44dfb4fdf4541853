/**
 * JSON run configs with `--set a.b.c=value` overrides and strict validation. A schema is a map
 * from dotted key to a field spec; defaults fill what the file omits; every error names the file
 * (or "--set") and the key.
 */
import * as fs from 'node:fs';
import { duplicateJsonKey, stripBom } from '../data/strict';
import { decodeUtf8Strict } from '../data/utf8';

export interface FieldSpec {
  type: 'number' | 'integer' | 'string' | 'boolean';
  nullable?: boolean;
  min?: number;
  max?: number;
  /** exclusive lower bound */
  gt?: number;
  enum?: readonly string[];
  /** number fields: these strings are accepted as well (e.g. ppo.horizon_scale "paper") */
  alsoStrings?: readonly string[];
}

export type Schema = Record<string, FieldSpec>;
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export class ConfigError extends Error {}

/** Parse JSON text, reporting line and column of a syntax error. */
export function parseJsonText(text: string, file: string): Json {
  text = stripBom(text); // editors on Windows write one; JSON.parse would reject it invisibly
  try {
    const v = JSON.parse(text) as Json;
    const dup = duplicateJsonKey(text);
    if (dup) throw new ConfigError(`${file}: ${dup}: key appears twice (JSON keeps only the last value, so one of them is silently ignored)`);
    return v;
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const msg = (e as Error).message;
    const pos = /position (\d+)/.exec(msg) ?? contextPosition(msg, text);
    if (pos) {
      const upto = text.slice(0, Number(pos[1]));
      const line = upto.split('\n').length;
      const col = Number(pos[1]) - upto.lastIndexOf('\n');
      throw new ConfigError(`${file}:${line}:${col}: invalid JSON (${msg})`);
    }
    throw new ConfigError(`${file}: invalid JSON (${msg})`);
  }
}

/**
 * Node 20 reports some syntax errors with a snippet instead of a position ("Unexpected token ',',
 * ...\"task\": ,\n}\" is not valid JSON"); V8 puts 10 characters of context before the token.
 */
function contextPosition(msg: string, text: string): [string, string] | null {
  const m = /^Unexpected token '([\s\S]+?)', (\.\.\.)?"([\s\S]*?)"(?:\.\.\.)? is not valid JSON$/.exec(msg);
  if (!m) return null;
  const at = text.indexOf(m[3]);
  if (at < 0) return null;
  return ['', String(at + (m[2] ? 10 : m[3].indexOf(m[1])))];
}

function isObject(x: unknown): x is Record<string, Json> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Flatten nested objects to dotted keys (arrays and scalars are leaves). */
export function flatten(obj: Record<string, Json>, prefix = ''): Map<string, Json> {
  const out = new Map<string, Json>();
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (isObject(v)) for (const [kk, vv] of flatten(v, key)) out.set(kk, vv);
    else out.set(key, v);
  }
  return out;
}

/**
 * flatten() that stops at the schema's leaves, so `"batch_size": {}` reaches the type check
 * instead of vanishing (an empty object flattens to no keys), and a value where the schema has a
 * section (`"ppo": 5`) names the section.
 */
function flattenForSchema(obj: Record<string, Json>, schema: Schema, where: string, prefix = ''): Map<string, Json> {
  const out = new Map<string, Json>();
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    const section = !(key in schema) && Object.keys(schema).some((s) => s.startsWith(`${key}.`));
    if (isObject(v) && !(key in schema)) for (const [kk, vv] of flattenForSchema(v, schema, where, key)) out.set(kk, vv);
    else if (section && !k.startsWith('_')) {
      const keys = Object.keys(schema).filter((s) => s.startsWith(`${key}.`)).map((s) => s.slice(key.length + 1).split('.')[0]);
      throw new ConfigError(`${where}: ${key}: expected an object (with keys ${[...new Set(keys)].join(', ')}), got ${v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v} ${JSON.stringify(v)}`);
    } else out.set(key, v);
  }
  return out;
}

function setPath(obj: Record<string, Json>, key: string, value: Json): void {
  const parts = key.split('.');
  let cur: Record<string, Json> = obj;
  for (const p of parts.slice(0, -1)) {
    if (!isObject(cur[p])) cur[p] = {};
    cur = cur[p] as Record<string, Json>;
  }
  cur[parts[parts.length - 1]] = value;
}

/** `key=value`; value parsed as JSON when it is valid JSON (numbers, true, null, "str"), else a string. */
export function parseSet(arg: string): { key: string; value: Json } {
  const eq = arg.indexOf('=');
  if (eq <= 0) throw new ConfigError(`--set ${arg}: expected key=value (e.g. --set ppo.learning_rate=2e-5)`);
  const key = arg.slice(0, eq).trim();
  const raw = arg.slice(eq + 1);
  let value: Json;
  try {
    value = JSON.parse(raw) as Json;
  } catch {
    value = raw;
  }
  return { key, value };
}

function checkField(key: string, v: Json, spec: FieldSpec, where: string): void {
  const bad = (what: string) => new ConfigError(`${where}: field "${key}" ${what}, got ${JSON.stringify(v)}`);
  if (isObject(v) || Array.isArray(v)) {
    // An object where a value belongs used to flatten away to nothing, leaving the default in place.
    const want = spec.type === 'integer' ? 'an integer' : spec.type === 'boolean' ? 'true or false' : `a ${spec.type}`;
    throw new ConfigError(`${where}: ${key}: expected ${want}${spec.nullable ? ' or null' : ''}, got ${Array.isArray(v) ? 'array' : 'object'} ${JSON.stringify(v)}`);
  }
  if (v === null) {
    if (!spec.nullable) throw bad('must not be null');
    return;
  }
  if (typeof v === 'string' && spec.alsoStrings) {
    if (spec.alsoStrings.includes(v)) return;
    throw bad(`must be a number or one of ${spec.alsoStrings.map((x) => JSON.stringify(x)).join(', ')}`);
  }
  switch (spec.type) {
    case 'number':
    case 'integer':
      if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(`must be ${spec.type === 'integer' ? 'an' : 'a'} ${spec.type}${spec.nullable ? ' or null' : ''}`);
      if (spec.type === 'integer' && !Number.isInteger(v)) throw bad('must be an integer');
      if (spec.min !== undefined && v < spec.min) throw bad(`must be >= ${spec.min}`);
      if (spec.max !== undefined && v > spec.max) throw bad(`must be <= ${spec.max}`);
      if (spec.gt !== undefined && !(v > spec.gt)) throw bad(`must be > ${spec.gt}`);
      return;
    case 'string':
      if (typeof v !== 'string') throw bad(`must be a string${spec.nullable ? ' or null' : ''}`);
      if (spec.enum && !spec.enum.includes(v)) throw bad(`must be one of ${spec.enum.join(', ')}`);
      return;
    case 'boolean':
      if (typeof v !== 'boolean') throw bad('must be true or false');
      return;
  }
}

/**
 * defaults <- file <- --set overrides, then validate every key against the schema. Unknown keys are
 * errors (a typo must not silently fall back to a default).
 */
export function resolveConfig<T>(o: { schema: Schema; defaults: Record<string, Json>; file?: string; sets?: string[]; fileObject?: Record<string, Json> }): T {
  const out = JSON.parse(JSON.stringify(o.defaults)) as Record<string, Json>;
  const file = o.file ?? '<config>';
  let fromFile = o.fileObject;
  if (!fromFile && o.file) {
    if (!fs.existsSync(o.file)) throw new ConfigError(`${o.file}: config file not found`);
    if (fs.statSync(o.file).isDirectory()) throw new ConfigError(`${o.file} is a folder; expected a JSON config file`);
    const parsed = parseJsonText(decodeUtf8Strict(fs.readFileSync(o.file), o.file).text, o.file);
    if (!isObject(parsed)) throw new ConfigError(`${o.file}: the config must be a JSON object`);
    fromFile = parsed;
  }
  const apply = (key: string, value: Json, where: string) => {
    if (key.startsWith('_') || key.includes('._')) return; // "_comment" keys are documentation
    const spec = o.schema[key];
    if (!spec) {
      const near = Object.keys(o.schema).filter((k) => k.split('.').pop() === key.split('.').pop());
      throw new ConfigError(`${where}: unknown field "${key}"${near.length ? ` (did you mean ${near.join(' or ')}?)` : ''}`);
    }
    checkField(key, value, spec, where);
    setPath(out, key, value);
  };
  if (fromFile) for (const [k, v] of flattenForSchema(fromFile, o.schema, file)) apply(k, v, file);
  for (const s of o.sets ?? []) {
    const { key, value } = parseSet(s);
    apply(key, value, `--set ${s}`);
  }
  for (const [k, spec] of Object.entries(o.schema)) {
    const v = flatten(out).get(k);
    if (v === undefined) throw new ConfigError(`${file}: field "${k}" is required`);
    checkField(k, v, spec, file);
  }
  return out as unknown as T;
}
