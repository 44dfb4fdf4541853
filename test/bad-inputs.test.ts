/**
 * Table-driven bad inputs, part 1: data tables (CSV, TSV, JSONL, .gz, parquet, aclImdb) through the
 * dataset readers, and generations / metrics tables through lib/eval. Every case must fail, and
 * its message must name the file, the line (or row) and the field. Part 2 (configs, flags,
 * checkpoints, tokenizers, Hub ids) is bad-inputs-config.test.ts. Also: what filters drop is printed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { readRecords } from '../lib/data/readers';
import { setDataLog } from '../lib/data/strict';
import { loadImdb, filterByLength } from '../lib/data/imdb';
import { loadJigsaw } from '../lib/data/jigsaw';
import { loadOlid } from '../lib/data/olid';
import { loadRtp } from '../lib/data/rtp';
import { numberColumn, readGenerations, requireColumns, stringColumn } from '../lib/eval/generations';
import { readMetricsJsonl } from '../lib/eval/figures';
import { Utf8Scanner } from '../lib/data/utf8';
import { writeParquet } from './data-fixtures';

/** Capture the drop/replacement log; returns the restore function. */
function setDataLogForTest(fn: (line: string) => void): () => void {
  const prev = setDataLog(fn);
  return () => void setDataLog(prev);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-bad-'));
let n = 0;
/** A fresh file (unique name keeps every case's message distinct). */
function file(name: string, body: string | Buffer): string {
  const p = path.join(tmp, `${n++}-${name}`);
  fs.writeFileSync(p, body);
  return p;
}
const B = (...parts: (string | number[])[]): Buffer => Buffer.concat(parts.map((x) => (typeof x === 'string' ? Buffer.from(x, 'utf8') : Buffer.from(x))));
const long = (s: string) => s + ' padding'.repeat(30);
const J = (o: unknown) => JSON.stringify(o);
const jsonl = (...rows: unknown[]) => rows.map((r) => (typeof r === 'string' ? r : J(r))).join('\n') + '\n';
const CSV_HEAD = 'comment_text,toxic,reward\n';
const okCsvRow = `${'x'.repeat(70)},1,-2.5\n`;
const gz = (s: string | Buffer) => zlib.gzipSync(s);

interface Case {
  name: string;
  run: () => Promise<unknown> | unknown;
  /** strings the message must contain: the file, the line ("line 3" / ":3" / "row 2") and the field */
  expect: (string | RegExp)[];
}

const cases: Case[] = [];
/** Starts `run` now: the blocks below reuse one `f` variable, so a later call would see the last file. */
const add = (name: string, run: Case['run'], ...expect: Case['expect']) => {
  let result: Promise<unknown>;
  try {
    result = Promise.resolve(run());
  } catch (e) {
    result = Promise.reject(e);
  }
  result.catch(() => undefined); // examined in the test
  cases.push({ name, run: () => result, expect });
};

// ---- CSV (Jigsaw loader) ------------------------------------------------------------------
{
  let f: string;
  f = file('dup.csv', `comment_text,toxic,toxic\n${'x'.repeat(70)},1,0\n`);
  add('csv duplicate header', () => loadJigsaw(f), f, 'line 1', '"toxic"', /duplicate column name \(columns 2 and 3\)/);
  for (const [label, v] of [['hex', '0x10'], ['binary', '0b1'], ['octal', '0o7'], ['underscore', '1_000'], ['Infinity', 'Infinity'], ['empty', ''], ['comma decimal', '1,5']] as const) {
    const g = file(`num-${label}.csv`, CSV_HEAD + okCsvRow + `${'x'.repeat(70)},1,${v.includes(',') ? `"${v}"` : v}\n`);
    add(`csv non-decimal number (${label})`, () => loadJigsaw(g), g, 'line 3', '"reward"', 'expected a number');
  }
  const h = file('hexlabel.csv', CSV_HEAD + `${'x'.repeat(70)},0x1,1\n`);
  add('csv hex label', () => loadJigsaw(h), h, 'line 2', '"toxic"');
  for (const [label, bytes] of [['0xff byte', [0xff]], ['truncated sequence', [0xe2, 0x82]], ['overlong', [0xc0, 0xaf]], ['surrogate', [0xed, 0xa0, 0x80]], ['lone continuation', [0x80]]] as const) {
    const g = file(`utf8-${label}.csv`, B(CSV_HEAD, okCsvRow, 'y'.repeat(70), [...bytes], ',1,0.5\n'));
    add(`csv invalid UTF-8 (${label})`, () => loadJigsaw(g), g, 'line 3', '"comment_text"', 'invalid UTF-8', '--allow-replacement');
  }
  f = file('utf8-header.csv', B('comment_text,tox', [0xff], 'ic\n', okCsvRow));
  add('csv invalid UTF-8 in header', () => loadJigsaw(f), f, 'line 1', '(header)');
  f = file('unclosed.csv', `${CSV_HEAD}${okCsvRow}${okCsvRow}"${'q'.repeat(70)},1,0\n${okCsvRow}${okCsvRow}${okCsvRow}`);
  add('csv unclosed quote: the line it opens on', () => loadJigsaw(f), f, 'line 4', '"(csv)"', 'column "comment_text"');
  f = file('cols.csv', CSV_HEAD + okCsvRow + `${'x'.repeat(70)},1\n`);
  add('csv column count', () => loadJigsaw(f), f, 'line 3', '(columns)');
  f = file('openquote.csv', CSV_HEAD + `ab"c${'x'.repeat(70)},1,0\n`);
  add('csv quote inside unquoted field', () => loadJigsaw(f), f, 'line 2', '(csv)');
  f = file('closequote.csv', CSV_HEAD + `"abc"d${'x'.repeat(70)},1,0\n`);
  add('csv junk after closing quote', () => loadJigsaw(f), f, 'line 2', '(csv)');
  f = file('notext.csv', 'text2,toxic\nabc,1\n');
  add('csv missing text column', () => loadJigsaw(f), f, 'line 2', '"comment_text"', 'missing');
  f = file('emptytext.csv', CSV_HEAD + '   ,1,0\n');
  add('csv empty text', () => loadJigsaw(f), f, 'line 2', '"comment_text"', 'empty');
  f = file('label2.csv', CSV_HEAD + `${'x'.repeat(70)},2,0\n`);
  add('csv label out of range', () => loadJigsaw(f), f, 'line 2', '"toxic"');
  f = file('trunc.csv.gz', gz(CSV_HEAD + okCsvRow.repeat(2000)).subarray(0, 200));
  add('csv.gz truncated', () => loadJigsaw(f), f, 'truncated gzip');
  f = file('plain.csv.gz', CSV_HEAD + okCsvRow);
  add('csv.gz that is not gzip', () => loadJigsaw(f), f, 'not gzip');
  f = path.join(tmp, 'folder.csv');
  fs.mkdirSync(f);
  add('csv path is a folder', () => loadJigsaw(f), f, 'is a folder');
  add('csv missing file', () => loadJigsaw(path.join(tmp, 'nope.csv')), 'nope.csv', 'not found');
}

// ---- TSV (OLID loader) --------------------------------------------------------------------
{
  const head = 'id\ttweet\tsubtask_a\tsubtask_b\tsubtask_c\n';
  let f = file('olid-sub.tsv', head + '1\tok tweet\tOFF\tTIN\tIND\n2\tother\tMAYBE\tNULL\tNULL\n');
  add('tsv bad subtask', () => loadOlid('train', { source: f }), f, 'line 3', '"subtask_a"');
  f = file('olid-hex.tsv', head + '0x1F\tok tweet\tOFF\tTIN\tIND\n');
  add('tsv hex id', () => loadOlid('train', { source: f }), f, 'line 2', '"id"', 'decimal notation');
  f = file('olid-frac.tsv', head + '1.5\tok tweet\tOFF\tTIN\tIND\n');
  add('tsv fractional id', () => loadOlid('train', { source: f }), f, 'line 2', '"id"', 'integer');
  f = file('olid-dup.tsv', 'id\ttweet\ttweet\tsubtask_a\n1\ta\tb\tOFF\n');
  add('tsv duplicate header', () => loadOlid('train', { source: f }), f, 'line 1', '"tweet"', 'duplicate');
  f = file('olid-utf8.tsv', B(head, '1\tok tw', [0xfe], 'eet\tOFF\tTIN\tIND\n'));
  add('tsv invalid UTF-8', () => loadOlid('train', { source: f }), f, 'line 2', '"tweet"', 'invalid UTF-8');
  f = file('olid-a-missing.tsv', head + '1\tok tweet\tNULL\tNULL\tNULL\n');
  add('tsv required subtask NULL', () => loadOlid('train', { source: f }), f, 'line 2', '"subtask_a"');
}

// ---- JSONL (IMDB / RTP loaders, raw records) -----------------------------------------------
{
  const ok = { text: long('good review'), label: 1 };
  let f = file('bad.jsonl', jsonl(ok, '{"text": "broken'));
  add('jsonl unparsable line', () => loadImdb('train', { source: f }), f, 'line 2', '(json)');
  f = file('array.jsonl', jsonl(ok, '[1,2]'));
  add('jsonl array instead of object', () => loadImdb('train', { source: f }), f, 'line 2', '(json)', 'JSON object');
  f = file('bom2.jsonl', jsonl(ok, '\ufeff' + J(ok)));
  add('jsonl BOM on line 2 (only a leading BOM is dropped)', () => loadImdb('train', { source: f }), f, 'line 2', '(json)');
  f = file('dupkey.jsonl', jsonl(ok, `{"text": ${J(long('a'))}, "label": 1, "label": 0}`));
  add('jsonl duplicate key', () => loadImdb('train', { source: f }), f, 'line 2', '"label"', 'twice');
  f = file('dupnested.jsonl', jsonl('{"prompt": {"text": "You", "toxicity": 0.9, "toxicity": 0.1}, "continuation": {"text": "x"}}'));
  add('jsonl duplicate nested key', () => loadRtp(f), f, 'line 1', '"prompt.toxicity"');
  f = file('utf8.jsonl', B(jsonl(ok), '{"text": "', long('bad'), [0xff], '", "label": 1}\n'));
  add('jsonl invalid UTF-8 in a field', () => loadImdb('train', { source: f }), f, 'line 2', '"text"', 'invalid UTF-8');
  f = file('utf8nested.jsonl', B('{"prompt": {"text": "Yo', [0xc3], '", "toxicity": 0.9}}\n'));
  add('jsonl invalid UTF-8 in a nested field', () => loadRtp(f), f, 'line 1', '"prompt.text"');
  f = file('hexlabel.jsonl', jsonl({ text: long('x'), label: '0x1' }));
  add('jsonl hex label string', () => loadImdb('train', { source: f }), f, 'line 1', '"label"');
  f = file('label7.jsonl', jsonl({ text: long('x'), label: 7 }));
  add('jsonl label 7', () => loadImdb('train', { source: f }), f, 'line 1', '"label"');
  f = file('notext.jsonl', jsonl(ok, { label: 1 }));
  add('jsonl missing text', () => loadImdb('train', { source: f }), f, 'line 2', '"text"', 'missing');
  f = file('numtext.jsonl', jsonl({ text: 5, label: 1 }));
  add('jsonl text is a number', () => loadImdb('train', { source: f }), f, 'line 1', '"text"', 'expected a string');
  f = file('rtp-label.jsonl', jsonl({ Prompt: 'p', Continuation: 'c', Perspective: 0.2, Label: true }));
  add('jsonl RTP Label disagrees', () => loadRtp(f), f, 'line 1', '"Label"');
  f = file('rtp-tox.jsonl', jsonl({ Prompt: 'p', Continuation: 'c', Perspective: 'abc' }));
  add('jsonl RTP toxicity not a number', () => loadRtp(f), f, 'line 1', '"Perspective"');
  f = file('rating.jsonl', jsonl({ ...ok, rating: '1e' }));
  add('jsonl rating "1e"', () => loadImdb('train', { source: f }), f, 'line 1', '"rating"');
  f = file('trunc.jsonl.gz', gz(jsonl(...Array.from({ length: 500 }, () => ok))).subarray(0, 300));
  add('jsonl.gz truncated', () => loadImdb('train', { source: f }), f, 'truncated gzip');
  const good = gz(jsonl(...Array.from({ length: 50 }, () => ok)));
  const corrupt = Buffer.from(good);
  for (let i = 40; i < 60; i++) corrupt[i] ^= 0xff;
  f = file('corrupt.jsonl.gz', corrupt);
  add('jsonl.gz corrupt', () => loadImdb('train', { source: f }), f, 'gzip');
  f = file('plain.jsonl.gz', jsonl(ok));
  add('jsonl.gz that is not gzip', () => loadImdb('train', { source: f }), f, 'not gzip');
  f = path.join(tmp, 'dir.jsonl');
  fs.mkdirSync(f);
  add('jsonl path is a folder', () => readRecords(f), f, 'is a folder');
  f = file('data.txt', 'x');
  add('unknown extension', () => readRecords(f), f, 'unknown data format');
}

// ---- parquet and aclImdb ------------------------------------------------------------------
{
  let f = file('junk.parquet', 'not a parquet file');
  add('parquet junk', () => readRecords(f), f, '(parquet)');
  f = file('empty.parquet', writeParquet({ text: [long('a'), ' '], label: [0, 1] }));
  add('parquet empty text', () => loadImdb('train', { source: f }), f, 'row 2', '"text"');
  f = file('label.parquet', writeParquet({ text: [long('a'), long('b')], label: [0, 5] }));
  add('parquet label 5', () => loadImdb('train', { source: f }), f, 'row 2', '"label"');
  const pq = writeParquet({ text: [long('a'), long('ZZBADZZ')], label: [0, 1] });
  pq[pq.indexOf('ZZBADZZ') + 2] = 0xff; // same length, raw bytes: an invalid UTF-8 string value
  f = file('utf8.parquet', pq);
  add('parquet invalid UTF-8 string', () => loadImdb('train', { source: f }), f, 'row 2', '"text"', 'invalid UTF-8');
  const root = path.join(tmp, 'aclImdb');
  for (const cls of ['pos', 'neg']) fs.mkdirSync(path.join(root, 'test', cls), { recursive: true });
  fs.writeFileSync(path.join(root, 'test/pos/1_9.txt'), long('fine'));
  const bad = path.join(root, 'test/neg/2_1.txt');
  fs.writeFileSync(bad, B(long('line one'), '\nline tw', [0xff], 'o'));
  add('aclImdb review with invalid UTF-8', () => loadImdb('test', { source: root }), bad, 'line 2', '"text"');
}

// ---- generations tables and metrics.jsonl (lib/eval) ---------------------------------------
{
  const G = 'prompt,prompt_score,m_response,m_reward\n';
  let f = file('dup.csv', 'prompt,prompt_score,m_reward,m_reward\np,1,2,3\n');
  add('table duplicate header', () => readGenerations(f), `${f}:1`, "'m_reward'", 'duplicate');
  for (const [label, v] of [['hex', '0x10'], ['empty', ''], ['1e999', '1e999'], ['binary', '0b11']] as const) {
    const g = file(`num-${label}.csv`, `${G}p,1,r,2\nq,1,r,${v}\n`);
    add(`table non-decimal reward (${label})`, () => numberColumn(readGenerations(g), 'm_reward'), `${g}:3`, "'m_reward'");
  }
  f = file('unclosed.csv', `${G}p,1,r,2\np,1,"r,2\np,1,r,2\np,1,r,2\n`);
  add('table unclosed quote: the line it opens on', () => readGenerations(f), `${f}:3`, "column 'm_response'", 'unclosed quote');
  f = file('utf8.csv', B(G, 'p,1,r,2\np,1,re', [0xff], 'sp,2\n'));
  add('table invalid UTF-8', () => readGenerations(f), `${f}:3`, "column 'm_response'", '--allow-replacement');
  f = file('utf8.jsonl', B(J({ prompt: 'p' }), '\n{"prompt": "p', [0xf5], '"}\n'));
  add('table jsonl invalid UTF-8', () => readGenerations(f), `${f}:2`, "column 'prompt'");
  f = file('dup.jsonl', '{"prompt": "p", "m_reward": 1, "m_reward": 2}\n');
  add('table jsonl duplicate key', () => readGenerations(f), `${f}:1`, "'m_reward'", 'twice');
  f = file('bad.jsonl', `${J({ prompt: 'p' })}\n{oops\n`);
  add('table jsonl invalid JSON', () => readGenerations(f), `${f}:2`, 'invalid JSON');
  f = file('arr.jsonl', '[1]\n');
  add('table jsonl non-object', () => readGenerations(f), `${f}:1`, 'JSON object');
  f = file('nocol.csv', 'prompt,prompt_score\np,1\n');
  add('table missing column', () => requireColumns(readGenerations(f), ['m_reward']), `${f}:1`, "'m_reward'");
  f = file('nofield.jsonl', `${J({ prompt: 'p', m_reward: 1 })}\n${J({ prompt: 'q' })}\n`);
  add('table jsonl missing field', () => requireColumns(readGenerations(f), ['m_reward']), `${f}:2`, "'m_reward'");
  f = file('null.jsonl', `${J({ prompt: null })}\n`);
  add('table null text', () => stringColumn(readGenerations(f), 'prompt'), `${f}:1`, "'prompt'");
  f = file('trunc.csv.gz', gz(`${G}${'p,1,r,2\n'.repeat(3000)}`).subarray(0, 100));
  add('table gz truncated', () => readGenerations(f), f, 'truncated gzip');
  f = file('plain.jsonl.gz', J({ prompt: 'p' }));
  add('table .gz that is not gzip', () => readGenerations(f), f, 'not gzip');
  f = path.join(tmp, 'gens-folder.csv');
  fs.mkdirSync(f);
  add('table path is a folder (was EISDIR)', () => readGenerations(f), f, 'is a folder');
  add('table missing file', () => readGenerations(path.join(tmp, 'none.csv')), 'none.csv', 'not found');
  f = file('empty.csv', '');
  add('table empty CSV', () => readGenerations(f), f, 'no header');
  f = file('metrics.jsonl', B(`${J({ step: 1 })}\n{"step": 2, "x": "`, [0xff], '"}\n'));
  add('metrics.jsonl invalid UTF-8', () => readMetricsJsonl(f), f, 'line 2', 'invalid UTF-8');
  f = file('metrics2.jsonl', `${J({ step: 1 })}\n{"step": \n`);
  add('metrics.jsonl invalid JSON', () => readMetricsJsonl(f), `${f}:2`, 'invalid JSON');
}

test(`${cases.length} bad data inputs: each fails naming file, line and field`, async () => {
  assert.ok(cases.length >= 60, `only ${cases.length} cases`);
  const restore = setDataLogForTest(() => undefined);
  const failures: string[] = [];
  try {
    for (const c of cases) {
      let msg: string | null = null;
      try {
        await c.run();
      } catch (e) {
        msg = (e as Error).message;
      }
      if (msg === null) failures.push(`${c.name}: accepted`);
      else for (const x of c.expect) if (typeof x === 'string' ? !msg.includes(x) : !x.test(msg)) failures.push(`${c.name}: ${JSON.stringify(msg)} lacks ${x}`);
    }
  } finally {
    restore();
  }
  assert.deepEqual(failures, []);
});

test('accepted on purpose: leading BOM in JSONL and CSV; invalid UTF-8 with allowReplacement is counted and printed', async () => {
  const lines: string[] = [];
  const restore = setDataLogForTest((l) => lines.push(l));
  try {
    const ok = { text: long('good'), label: 1 };
    assert.equal((await loadImdb('train', { source: file('bom.jsonl', '\ufeff' + jsonl(ok)) })).rows.length, 1);
    assert.equal((await loadJigsaw(file('bom.csv', '\ufeff' + CSV_HEAD + okCsvRow))).rows.length, 1);
    assert.equal(readGenerations(file('bom.jsonl', '\ufeff{"prompt": "p"}\n')).rows.length, 1);
    const f = file('rep.csv', B(CSV_HEAD, 'y'.repeat(70), [0xff, 0xfe], ',1,0.5\n', 'z'.repeat(70), [0xc3], ',0,1\n'));
    const r = await loadJigsaw(f, { allowReplacement: true });
    assert.equal(r.report.replaced, 3);
    assert.equal(r.rows[0].text, `${'y'.repeat(70)}\uFFFD\uFFFD`);
    assert.ok(lines.some((l) => l.includes(f) && /read 3 invalid UTF-8 sequence/.test(l)), lines.join('\n'));
    const t = readGenerations(file('rep.csv', B('prompt,r\np', [0xff], ',1\n')), undefined, { allowReplacement: true });
    assert.equal(t.replaced, 1);
  } finally {
    restore();
  }
});

test('filters print what they dropped, with counts and reasons', async () => {
  const lines: string[] = [];
  const restore = setDataLogForTest((l) => lines.push(l));
  try {
    const f = file('mix.jsonl', jsonl({ text: long('a'), label: 1 }, { text: 'short', label: 0 }, { text: 'tiny', label: 1 }));
    const all = await loadImdb('train', { source: f, minChars: -1 });
    assert.deepEqual(lines, []); // nothing dropped, nothing printed
    filterByLength(all);
    assert.deepEqual(lines, [`[rarlhf] imdb (${f}): dropped 2 of 3 reviews: 2 with <= 200 characters`]);
    await loadImdb('train', { source: f });
    assert.equal(lines[1], `[rarlhf] imdb train (${f}): dropped 2 of 3 reviews: 2 with <= 200 characters`);
    const g = file('unl.csv', `${CSV_HEAD}${'x'.repeat(70)},-1,0\n${okCsvRow}`);
    await loadJigsaw(g);
    assert.equal(lines[2], `[rarlhf] jigsaw file (${g}): dropped 1 of 2 comments: 1 unlabeled (label -1)`);
  } finally {
    restore();
  }
});

test('UTF-8 scanner counts exactly the U+FFFD that Node decoding produces', () => {
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let k = 0; k < 300; k++) {
    const bytes = Array.from({ length: 1 + Math.floor(rnd() * 40) }, () => (rnd() < 0.5 ? Math.floor(rnd() * 128) : 128 + Math.floor(rnd() * 128)));
    const buf = Buffer.from(bytes.map((b) => (b === 0xef ? 0xee : b))); // no EF BF BD: a literal U+FFFD would be counted by Node too
    const s = new Utf8Scanner();
    for (let i = 0; i < buf.length; i += 3) s.push(buf.subarray(i, i + 3)); // chunk boundaries inside sequences
    s.end();
    const replaced = [...buf.toString('utf8')].filter((c) => c === '\uFFFD').length;
    assert.equal(s.replaced, replaced, buf.toString('hex'));
  }
});
