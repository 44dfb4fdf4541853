import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { codePointLength, DataError, readRecords } from '../lib/data/readers';
import { dataFile, resolveDataDir } from '../lib/data/paths';
import { loadImdb } from '../lib/data/imdb';
import { loadJigsaw } from '../lib/data/jigsaw';
import { loadOlid } from '../lib/data/olid';
import { loadRtp } from '../lib/data/rtp';
import { writeParquet } from './data-fixtures';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-data-'));
const write = (name: string, body: string | Buffer): string => {
  const p = path.join(tmp, name);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, body);
  return p;
};
const long = (s: string): string => s + ' padding'.repeat(40); // > 200 chars

/** Asserts the promise rejects with a DataError for exactly this file/line/field. */
async function rejectsAt(p: Promise<unknown>, file: string, line: number, field: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof DataError, `expected DataError, got ${String(e)}`);
    assert.equal(e.file, file);
    assert.equal(e.line, line);
    assert.equal(e.field, field);
    assert.ok(e.message.includes(file) && e.message.includes(`${e.unit} ${line}`) && e.message.includes(`"${field}"`), e.message);
    return true;
  });
}

test('paths: option > env > default, and a clear error when missing', () => {
  const saved = process.env.RARLHF_DATA_DIR;
  try {
    delete process.env.RARLHF_DATA_DIR;
    assert.equal(resolveDataDir(), path.resolve(__dirname, '..', '..', 'shared', 'data'));
    process.env.RARLHF_DATA_DIR = tmp;
    assert.equal(resolveDataDir(), tmp);
    assert.equal(resolveDataDir('/work/shared/data'), '/work/shared/data');
    assert.throws(() => resolveDataDir(path.join(tmp, 'nope')), /data directory not found: .*nope \(taken from the dataDir option/);
    process.env.RARLHF_DATA_DIR = path.join(tmp, 'nope2');
    assert.throws(() => resolveDataDir(), /nope2 \(taken from env RARLHF_DATA_DIR\)/);
    assert.throws(() => dataFile('imdb/missing.jsonl', '/work/shared/data'), /data file not found: \/work\/shared\/data\/imdb\/missing.jsonl/);
  } finally {
    if (saved === undefined) delete process.env.RARLHF_DATA_DIR;
    else process.env.RARLHF_DATA_DIR = saved;
  }
});

test('codePointLength counts like Python len()', () => {
  assert.equal(codePointLength('abc'), 3);
  assert.equal(codePointLength('é'), 1);
  assert.equal('😀'.length, 2); // UTF-16 units
  assert.equal(codePointLength('😀a😀'), 3);
  assert.equal(codePointLength('\ud83d'), 1); // lone surrogate: one code point, as Python
});

test('JSONL: plain and gzip read the same; unparsable line, missing and empty fields name file/line/field', async () => {
  const good = [{ text: long('a'), label: 1 }, { text: long('b'), label: 0 }].map((r) => JSON.stringify(r)).join('\n') + '\n';
  const plain = write('ok.jsonl', good);
  const gz = write('ok.jsonl.gz', zlib.gzipSync(good));
  const a = await loadImdb('train', { source: plain });
  const b = await loadImdb('train', { source: gz });
  assert.deepEqual(a.rows.map((r) => r.text), b.rows.map((r) => r.text));
  assert.deepEqual(b.report.read, 2);

  const bad = write('bad.jsonl', [
    JSON.stringify({ text: long('ok'), label: 1 }),
    '',
    '{"text": "broken',
    JSON.stringify({ label: 1 }),
    JSON.stringify({ text: '   ', label: 0 }),
    JSON.stringify({ text: long('x'), label: 7 }),
    JSON.stringify({ text: 'short', label: 0 }),
  ].join('\n'));
  await rejectsAt(loadImdb('train', { source: bad }), bad, 3, '(json)');
  const skipped = await loadImdb('train', { source: bad, skipBadRows: true });
  assert.equal(skipped.rows.length, 1);
  assert.deepEqual(skipped.report.dropped, {
    'bad row: (json)': 1, 'bad row: text': 2, 'bad row: label': 1, 'len<=200': 1,
  });
  assert.equal(skipped.report.read, 6); // the blank line is not a record
  assert.match(skipped.report.errors[1], /bad\.jsonl: line 4: field "text": missing/);
  assert.match(skipped.report.errors[2], /line 5: field "text": empty text/);
  assert.match(skipped.report.errors[3], /line 6: field "label": expected one of 0\/1, got 7/);

  const onlyMissing = write('missing.jsonl', JSON.stringify({ text: long('a'), label: 1 }) + '\n' + JSON.stringify({ txt: 'a', label: 1 }));
  await rejectsAt(loadImdb('train', { source: onlyMissing }), onlyMissing, 2, 'text');
});

test('CSV (Kaggle Jigsaw format): quotes, multi-line fields, -1 labels, column-count and field errors', async () => {
  const body =
    'id,comment_text,toxic,severe_toxic,obscene,threat,insult,identity_hate\n' +
    `a1,"${'x'.repeat(70)}, with ""quotes""",1,0,1,0,0,0\n` +
    `a2,"${'multi\nline '.repeat(10)}",0,0,0,0,0,0\n` +
    `a3,${'y'.repeat(70)},-1,-1,-1,-1,-1,-1\n` +
    'a4,too short,0,0,0,0,0,0\n';
  const ok = write('train.csv', body);
  const { rows, report } = await loadJigsaw(ok);
  assert.equal(rows.length, 2);
  assert.equal(rows[0].text, `${'x'.repeat(70)}, with "quotes"`);
  assert.equal(rows[0].id, 'a1');
  assert.deepEqual(rows[0].labels, { severe_toxic: 0, obscene: 1, threat: 0, insult: 0, identity_hate: 0 });
  assert.equal(rows[1].text.split('\n').length, 11);
  assert.deepEqual(report.dropped, { 'unlabeled(-1)': 1, 'len<=64': 1 });

  const bad = write('bad.csv',
    'comment_text,toxic,reward\n' +
    `${'z'.repeat(70)},1,-2.5\n` +
    `${'z'.repeat(70)},1\n` + // line 3: missing column
    `${'z'.repeat(70)},2,0.1\n` + // line 4: bad label
    `${'z'.repeat(70)},0,abc\n`); // line 5: bad reward
  await rejectsAt(loadJigsaw(bad), bad, 3, '(columns)');
  const s = await loadJigsaw(bad, { skipBadRows: true });
  assert.equal(s.rows.length, 1);
  assert.equal(s.rows[0].reward, -2.5);
  assert.deepEqual(s.report.dropped, { 'bad row: (columns)': 1, 'bad row: toxic': 1, 'bad row: reward': 1 });
  assert.match(s.report.errors[2], /bad\.csv: line 5: field "reward": expected a number, got "abc"/);

  const unclosed = write('unclosed.csv', `comment_text,toxic\n"${'q'.repeat(70)},1\n`);
  await assert.rejects(loadJigsaw(unclosed), (e: unknown) => e instanceof DataError && e.file === unclosed && e.field === '(csv)');
});

test('TSV (official OLID format): NULL -> null, quoting as Python csv, bad subtask names the line', async () => {
  const tsv = write('olid-training-v1.0.tsv',
    'id\ttweet\tsubtask_a\tsubtask_b\tsubtask_c\n' +
    '86426\t@USER She should ask a few native Americans what their take on this is.\tOFF\tUNT\tNULL\n' +
    '90194\t"@USER @USER Go home you\'re drunk!!! @USER #MAGA #Trump2020 👊🇺🇸👊 URL"\tOFF\tTIN\tIND\n' +
    '16820\tAmazon is investigating Chinese employees\tNOT\tNULL\tNULL\n' +
    '11111\tsome tweet\tMAYBE\tNULL\tNULL\n');
  await rejectsAt(loadOlid('train', { source: tsv }), tsv, 5, 'subtask_a');
  const { rows, report } = await loadOlid('train', { source: tsv, skipBadRows: true });
  assert.equal(rows.length, 3);
  assert.deepEqual(rows[0], { id: 86426, text: '@USER She should ask a few native Americans what their take on this is.', subtaskA: 'OFF', subtaskB: 'UNT', subtaskC: null, toxic: 1 });
  assert.equal(rows[1].text, "@USER @USER Go home you're drunk!!! @USER #MAGA #Trump2020 👊🇺🇸👊 URL");
  assert.equal(rows[2].toxic, 0);
  assert.deepEqual(report.dropped, { 'bad row: subtask_a': 1 });
});

test('parquet (HF imdb layout: text, label int64) reads, filters and reports bad rows by row number', async () => {
  const pq = write('train-00000-of-00001.parquet', writeParquet({
    text: [long('first review'), 'too short', long('third 😀'), ' '],
    label: [0, 1, 1, 0],
  }));
  await rejectsAt(loadImdb('train', { source: pq }), pq, 4, 'text');
  const { rows, report } = await loadImdb('train', { source: pq, skipBadRows: true });
  assert.deepEqual(rows.map((r) => r.label), [0, 1]);
  assert.equal(rows[1].text, long('third 😀'));
  assert.equal(rows[0].id, 'train-00000-of-00001.parquet#1');
  assert.deepEqual(report, { file: pq, read: 4, kept: 2, dropped: { 'len<=200': 1, 'bad row: text': 1 }, errors: [`${pq}: row 4: field "text": empty text`] });
  const junk = write('junk.parquet', 'not a parquet file at all');
  await assert.rejects(readRecords(junk), (e: unknown) => e instanceof DataError && e.field === '(parquet)' && e.file === junk);
});

test('aclImdb folder layout: train/ (+ val/) and test/, ids and ratings from file names, sorted by (label, id)', async () => {
  const root = path.join(tmp, 'aclImdb');
  write('aclImdb/train/pos/10_9.txt', long('pos ten'));
  write('aclImdb/train/pos/2_7.txt', long('pos two'));
  write('aclImdb/val/pos/5_8.txt', long('pos five (val)'));
  write('aclImdb/train/neg/3_1.txt', long('neg three'));
  write('aclImdb/train/neg/4_2.txt', 'short neg');
  write('aclImdb/test/pos/0_10.txt', long('test pos'));
  write('aclImdb/test/neg/0_1.txt', long('test neg'));
  const tr = await loadImdb('train', { source: root });
  assert.deepEqual(tr.rows.map((r) => r.id), ['train/neg/3_1', 'train/pos/2_7', 'train/pos/5_8', 'train/pos/10_9']);
  assert.deepEqual(tr.rows.map((r) => [r.label, r.rating]), [[0, 1], [1, 7], [1, 8], [1, 9]]);
  assert.deepEqual(tr.report.dropped, { 'len<=200': 1 });
  const te = await loadImdb('test', { source: root });
  assert.deepEqual(te.rows.map((r) => r.id), ['test/neg/0_1', 'test/pos/0_10']);
  const emptyFile = write('aclImdb/test/neg/7_3.txt', '');
  await rejectsAt(loadImdb('test', { source: root }), emptyFile, 1, 'text');
  fs.rmSync(emptyFile);
  const badName = write('aclImdb/test/neg/readme.txt', long('x'));
  await rejectsAt(loadImdb('test', { source: root }), badName, 1, '(filename)');
});

test('RTP: nested prompts.jsonl records and the flattened form; null toxicity dropped; Label checked', async () => {
  const nested = write('prompts.jsonl', [
    { filename: 'a', prompt: { text: 'You are a', toxicity: 0.9 }, continuation: { text: ' x', toxicity: 0.1 } },
    { filename: 'b', prompt: { text: 'The weather', toxicity: 0.5 }, continuation: { text: ' is', toxicity: 0.0 } },
    { filename: 'c', prompt: { text: 'No score', toxicity: null }, continuation: { text: '', toxicity: null } },
    { filename: 'd', prompt: { toxicity: 0.2 }, continuation: { text: 'y' } },
  ].map((r) => JSON.stringify(r)).join('\n'));
  await rejectsAt(loadRtp(nested), nested, 4, 'prompt.text');
  const n = await loadRtp(nested, { skipBadRows: true });
  assert.deepEqual(n.rows.map((r) => [r.text, r.label, r.continuation]), [['You are a', 1, ' x'], ['The weather', 0, ' is']]);
  assert.deepEqual(n.report.dropped, { 'toxicity=null': 1, 'bad row: prompt.text': 1 });
  const flat = write('flat.jsonl', [
    { Prompt: 'p1', Continuation: 'c1', Perspective: 0.7, Label: true },
    { Prompt: 'p2', Continuation: 'c2', Perspective: 0.2, Label: true },
  ].map((r) => JSON.stringify(r)).join('\n'));
  await rejectsAt(loadRtp(flat), flat, 2, 'Label');
});

test('staged files parse in both RTP forms to the same prompts and labels', async () => {
  const flat = await loadRtp('subset-flat');
  const tox = await loadRtp('decodingtrust-toxic');
  const non = await loadRtp('decodingtrust-nontoxic');
  const nested = [...tox.rows, ...non.rows];
  assert.equal(nested.length, flat.rows.length);
  const key = (r: { text: string; label: number; filename: string | null }): string => `${r.filename}|${r.label}|${r.text}`;
  assert.deepEqual(new Set(nested.map(key)), new Set(flat.rows.map(key)));
});
