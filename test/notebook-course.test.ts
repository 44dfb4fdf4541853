import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { courseCheckpoints, courseScale, courseTail, courseTask, loadCourse, requireCourseDir } from '../lib/notebook/course';
import { demoConfig } from '../lib/demo/config';

test('courseScale: teach by default; the old quick and unknown names are refused with the choices', () => {
  assert.equal(courseScale(undefined), 'teach');
  assert.equal(courseScale(''), 'teach');
  assert.equal(courseScale('real'), 'real');
  assert.throws(() => courseScale('quick'), /teach, real, full, got "quick" \(quick was renamed real\)/);
  assert.throws(() => courseScale('huge'), /RARLHF_NB_SCALE must be one of teach, real, full, got "huge"/);
});

test('teach course: the demo corpus and the demo settings (so the notebooks reproduce the demo)', async () => {
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'course-'));
  const c = await loadCourse('teach', { runDir });
  const d = demoConfig(false);
  assert.equal(c.runDir, runDir);
  assert.deepEqual(c.hyper.ppo, d.ppo);
  assert.deepEqual(c.hyper.risk, d.risk);
  assert.equal(c.hyper.vocabSize, d.tokenizer.vocabSize);
  assert.equal(c.pretrainTexts.length, Math.round(d.corpus.nReviews * (1 - d.corpus.testFraction)));
  // SFT texts are exactly the positive training reviews
  const positives = new Set(c.rewardTrain.filter((r) => r.label === 1).map((r) => r.text));
  assert.ok(c.sftTexts.length > 0 && c.sftTexts.every((t) => positives.has(t)));
  assert.equal(c.sftTexts.length, c.rewardTrain.filter((r) => r.label === 1).length);
  // held-out texts are the test split, by class (the generator can repeat a review, so not "unseen text")
  assert.deepEqual(c.heldOut.positive, c.rewardTest.filter((r) => r.label === 1).map((r) => r.text));
  assert.deepEqual(c.heldOut.negative, c.rewardTest.filter((r) => r.label === 0).map((r) => r.text));
  assert.ok(c.heldOut.positive.length > 0 && c.heldOut.negative.length > 0);
  assert.equal(courseTask(c), 'demo');
  assert.equal(courseCheckpoints(c).ra_rlhf, path.join(runDir, 'ra_rlhf', 'checkpoints', 'final'));
});

test('courseTail: 90th percentile of hostile prompt scores at teach scale, the paper\'s -2.5 on IMDB', async () => {
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'course-'));
  const teach = await loadCourse('teach', { runDir });
  const rows = [-5, -4, -3, -2, -1].map((s) => ({ promptScore: s, hostile: true })).concat([{ promptScore: 3, hostile: false }]);
  // sorted hostile scores [-5..-1], index floor(0.9 * 4) = 3 -> -2
  assert.equal(courseTail(teach, rows), -2);
  assert.throws(() => courseTail(teach, [{ promptScore: 1, hostile: false }]), /no hostile prompts/);
  assert.equal(courseTail({ ...teach, scale: 'real' }, rows), -2.5);
});

test('requireCourseDir names the notebook to run first and the scale', async () => {
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'course-'));
  const c = await loadCourse('teach', { runDir });
  assert.throws(() => requireCourseDir(c, courseCheckpoints(c).sft, '02-policy-and-sft.ipynb'),
    /sft.checkpoints.final not found: run notebooks\/02-policy-and-sft.ipynb first with the same RARLHF_NB_SCALE \(teach\)/);
  fs.mkdirSync(courseCheckpoints(c).sft, { recursive: true });
  fs.writeFileSync(path.join(courseCheckpoints(c).sft, 'config.json'), '{}');
  assert.equal(requireCourseDir(c, courseCheckpoints(c).sft, '02-policy-and-sft.ipynb'), courseCheckpoints(c).sft);
});
