/** Loaders on the staged data in ../shared/data: exact row counts after the paper's filters. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { imdbTestSample, loadImdb } from '../lib/data/imdb';
import { buildJigsawTest5050, buildJigsawTrain7030, loadJigsaw } from '../lib/data/jigsaw';
import { loadOlid } from '../lib/data/olid';
import { codePointLength } from '../lib/data/readers';
import { loadRtp, rtpSplit } from '../lib/data/rtp';
import { build7030, buildBalanced, fnv1a, hashHalves, seededSample, trainTestSplit } from '../lib/data/split';

test('IMDB: len(text) > 200 keeps 24,895 train / 24,872 test; 5k test sample is stable and unique', async () => {
  const train = await loadImdb('train');
  assert.deepEqual(train.report, { file: train.report.file, read: 25000, kept: 24895, dropped: { 'len<=200': 105 }, errors: [] });
  assert.equal(train.rows.filter((r) => r.label === 1).length, 12439);
  assert.equal(Math.floor(train.rows.length / 128), 194); // the paper's M for IMDB
  const test1 = await loadImdb('test');
  assert.equal(test1.rows.length, 24872);
  assert.equal(test1.rows.filter((r) => r.label === 1).length, 12434);
  assert.ok(test1.rows.every((r) => codePointLength(r.text) > 200));
  assert.equal(test1.rows[0].id, 'test/neg/0_2');
  assert.equal(test1.rows[0].rating, 2);

  const test2 = await loadImdb('test');
  const s1 = imdbTestSample(test1.rows);
  const s2 = imdbTestSample(test2.rows);
  assert.equal(s1.length, 5000);
  assert.equal(new Set(s1.map((r) => r.id)).size, 5000);
  assert.deepEqual(s1.map((r) => r.id), s2.map((r) => r.id));
  assert.notDeepEqual(s1.slice(0, 20).map((r) => r.id), test1.rows.slice(0, 20).map((r) => r.id)); // really shuffled
  const pos = s1.filter((r) => r.label === 1).length;
  assert.ok(pos > 2350 && pos < 2650, `positives in the 5k sample: ${pos}`); // ~50%, as a uniform sample
  assert.notDeepEqual(imdbTestSample(test1.rows, 5000, 1).map((r) => r.id), s1.map((r) => r.id)); // seed matters
});

test('IMDB filter counts code points (Python len), not UTF-16 units', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rarlhf-imdb-'));
  const at200 = '😀'.repeat(10) + 'a'.repeat(190); // 200 code points, 210 UTF-16 units
  const f = path.join(dir, 'x.jsonl');
  fs.writeFileSync(f, [at200, at200 + 'b'].map((text) => JSON.stringify({ text, label: 1 })).join('\n'));
  const { rows, report } = await loadImdb('test', { source: f });
  assert.deepEqual(rows.map((r) => codePointLength(r.text)), [201]);
  assert.deepEqual(report.dropped, { 'len<=200': 1 });
});

test('Jigsaw: the paper test set is 7,708 rows, 3,854/3,854, all len > 64, with rewards', async () => {
  const { rows, report } = await loadJigsaw('test');
  assert.equal(report.read, 7708);
  assert.equal(rows.length, 7708);
  assert.equal(rows.filter((r) => r.toxic === 1).length, 3854);
  assert.ok(rows.every((r) => codePointLength(r.text) > 64 && typeof r.reward === 'number'));
  assert.equal(rows.filter((r) => r.labels.severe_toxic === 1).length, 271); // PROVENANCE label counts
  assert.equal(rows.filter((r) => r.labels.identity_hate === 1).length, 434);
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  assert.equal(mean(rows.filter((r) => r.toxic === 0).map((r) => r.reward!)).toFixed(2), '5.75');
  assert.equal(mean(rows.filter((r) => r.toxic === 1).map((r) => r.reward!)).toFixed(2), '-2.95');
  // Already balanced: the 50/50 builder keeps everything.
  const bal = buildJigsawTest5050(rows, 0);
  assert.deepEqual([bal.nToxic, bal.nNonToxic, bal.rows.length], [3854, 3854, 7708]);
});

test('Jigsaw: Kaggle train sample through the 70/30 recipe', async () => {
  const { rows, report } = await loadJigsaw('kaggle-train-sample');
  assert.equal(report.read, 282);
  assert.equal(rows.length, 240); // len > 64 (computed with Python len)
  const mix = buildJigsawTrain7030(rows, 4);
  // 19 toxic -> int(19*70/30) = int(44.33) = 44 non-toxic
  assert.deepEqual([mix.nToxic, mix.nNonToxic, mix.requestedNonToxic, mix.capped, mix.rows.length], [19, 44, 44, false, 63]);
  assert.deepEqual(buildJigsawTrain7030(rows, 4).rows.map((r) => r.id), mix.rows.map((r) => r.id));
  const prefixes = await loadJigsaw('critical-toxic-prefixes', { minChars: -1 });
  assert.equal(prefixes.rows.length, 2212);
  assert.ok(prefixes.rows.every((r) => r.toxic === 1 && r.reward! < -5 + 1e-9));
  const wiki = await loadJigsaw('wiki-toxic-test');
  assert.equal(wiki.rows.length, 7924);
  assert.equal(wiki.rows.filter((r) => r.toxic === 1).length, 3962);
});

test('RTP subset: Label True 993 / False 1,403; eda.py split counts', async () => {
  const { rows } = await loadRtp();
  assert.equal(rows.length, 2396);
  assert.equal(rows.filter((r) => r.label === 1).length, 993);
  assert.equal(rows.filter((r) => r.label === 0).length, 1403);
  const s = rtpSplit(rows);
  // toxic: ceil(0.2*993)=199 test, 794 train; non-toxic: ceil(0.2*1403)=281 test, 1122 train
  assert.deepEqual(s.sizes, { toxicTrain: 794, toxicTest: 199, nonToxicTrain: 1122, nonToxicTest: 281 });
  // int(794*70/30) = 1852 > 1122 available -> capped
  assert.deepEqual([s.train.nToxic, s.train.nNonToxic, s.train.requestedNonToxic, s.train.capped], [794, 1122, 1852, true]);
  assert.deepEqual([s.test.nToxic, s.test.nNonToxic], [199, 199]);
  // Disjoint by row (the subset itself repeats 4 records, which a row split may put on both sides, as HF would).
  const trainRows = new Set(s.train.rows);
  assert.ok(s.test.rows.every((r) => !trainRows.has(r)));
  const trainTexts = new Set(s.train.rows.map((r) => `${r.filename}|${r.text}`));
  assert.ok(s.test.rows.filter((r) => trainTexts.has(`${r.filename}|${r.text}`)).length <= 4);
  assert.deepEqual(rtpSplit(rows).test.rows.map((r) => r.text), s.test.rows.map((r) => r.text));
});

test('OLID: 13,240 train / 860 test with the released label counts', async () => {
  const tr = await loadOlid('train');
  const te = await loadOlid('test');
  assert.equal(tr.rows.length, 13240);
  assert.equal(te.rows.length, 860);
  assert.equal(tr.rows.filter((r) => r.subtaskA === 'OFF').length, 4400);
  assert.equal(tr.rows.filter((r) => r.subtaskB === 'TIN').length, 3876);
  assert.equal(tr.rows.filter((r) => r.subtaskC === 'OTH').length, 395);
  assert.equal(te.rows.filter((r) => r.toxic === 1).length, 240);
  assert.equal((await loadOlid('train', { minChars: 64 })).rows.length, 9126);
});

test('split helpers: HF train_test_split counts, 70/30 arithmetic, balanced sets, hash halves', () => {
  const xs = Array.from({ length: 21744 }, (_, i) => i);
  const { train, test } = trainTestSplit(xs, 0.2, 42);
  assert.deepEqual([train.length, test.length], [17395, 4349]); // the full-RTP toxic class (paper-spec §5)
  assert.equal(new Set([...train, ...test]).size, 21744);
  // Full RTP: 17,395 toxic train -> int(17395*70/30) = 40,588 non-toxic -> 57,983 = M 452 * 128 + 127
  const mix = build7030(Array(17395).fill(1), Array(50000).fill(0), 42);
  assert.deepEqual([mix.nNonToxic, mix.rows.length, Math.floor(mix.rows.length / 128)], [40588, 57983, 452]);
  // Jigsaw inferred recipe: 11,092 toxic -> 25,881 non-toxic -> 36,973 rows -> 288 batches
  const jig = build7030(Array(11092).fill(1), Array(30000).fill(0), 4);
  assert.deepEqual([jig.nNonToxic, jig.rows.length, Math.floor(jig.rows.length / 128)], [25881, 36973, 288]);
  const bal = buildBalanced([1, 2, 3], [10, 20, 30, 40, 50], 0);
  assert.deepEqual(bal.rows.slice(0, 3), [1, 2, 3]);
  assert.equal(new Set(bal.rows.slice(3)).size, 3);
  assert.ok(bal.rows.slice(3).every((x) => x >= 10));
  assert.throws(() => seededSample([1, 2], 3, 0), /only 2 available/);
  // FNV-1a 32-bit reference values
  assert.equal(fnv1a(''), 0x811c9dc5);
  assert.equal(fnv1a('a'), 0xe40c292c);
  assert.equal(fnv1a('foobar'), 0xbf9cf968);
  const h = hashHalves(['x', 'y', 'x', 'z', 'w', 'y'], (s) => s);
  assert.equal(h.a.length + h.b.length, 6);
  assert.ok(h.a.every((s) => !h.b.includes(s)));
});
