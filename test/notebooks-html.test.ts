import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeHtml, formatCell, htmlTable } from '../lib/notebook/html';

test('escapeHtml escapes markup characters', () => {
  assert.equal(escapeHtml('<a href="x">&</a>'), '&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;');
});

test('formatCell: integers as is, floats with fixed digits, long text cut', () => {
  assert.equal(formatCell(12), '12');
  assert.equal(formatCell(-2.95123), '-2.951');
  assert.equal(formatCell(0.5, 1), '0.5');
  assert.equal(formatCell(NaN), 'NaN');
  assert.equal(formatCell(null), '');
  assert.equal(formatCell('abcdef', 3, 3), 'abc …');
});

test('htmlTable: header from first row, numeric columns right-aligned, caption escaped', () => {
  const html = htmlTable([{ model: 'RA<RLHF', r: 1.6 }, { model: 'RLHF', r: 1.26 }], { caption: 'a<b', digits: 2 });
  assert.match(html, /<caption>a&lt;b<\/caption>/);
  assert.match(html, /<th>model<\/th><th>r<\/th>/);
  assert.match(html, /<td style="text-align:left">RA&lt;RLHF<\/td><td style="text-align:right">1.60<\/td>/);
  assert.equal((html.match(/<tr>/g) ?? []).length, 3);
});

test('htmlTable: explicit column order and an empty table', () => {
  const html = htmlTable([{ a: 1, b: 'x' }], { columns: ['b', 'a'] });
  assert.match(html, /<th>b<\/th><th>a<\/th>/);
  assert.match(htmlTable([]), /<thead><tr><\/tr><\/thead>/);
});
