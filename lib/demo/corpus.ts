/**
 * A procedurally generated movie-review corpus for the offline demo.
 *
 * Why generated: the demo must run on a fresh machine with no network and finish in minutes, so
 * it needs a task a 2-layer GPT-2 learns in about a minute. Reviews are templated sentences whose
 * sentiment words come from the AFINN lexicon (the `sentiment` npm package), so every review has
 * a label (its intended polarity) and an independent lexicon score (the AFINN sum).
 *
 * Shape of a review: one opening sentence (the prompt) followed by 2-4 body sentences (the
 * continuation a policy must write). Ordinary reviews open neutrally, so their polarity is decided
 * by the continuation. A controllable fraction, the hostile tail, opens with a very negative
 * sentence; a language model continuing them naturally stays negative. These are the demo's
 * analogue of IMDB prompts with prompt_score <= -2.5: the prompts RA-RLHF is meant to help on.
 */
import { Rng } from '../engine/rng';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const AFINN = require('sentiment/languages/en/labels.json') as Record<string, number>;

export interface DemoCorpusOptions {
  /** Seed of the generator: the same seed gives the same corpus, byte for byte. */
  seed: number;
  /** Number of reviews. */
  nReviews: number;
  /** Fraction of reviews (rounded to a count) that open with a hostile sentence. They are all negative. */
  tailFraction: number;
  /** Fraction of the non-hostile reviews that are positive (default 0.5). */
  positiveFraction?: number;
  /** Probability that a body sentence takes the opposite polarity (default 0.12): makes the labels non-trivial. */
  mixProbability?: number;
}

export interface DemoReview {
  /** Full review: prompt + ' ' + continuation. */
  text: string;
  /** The opening sentence: what the policy is prompted with. */
  prompt: string;
  /** 1 = positive, 0 = negative (intended polarity of the body). */
  label: 0 | 1;
  /** True for the hostile-tail reviews (very negative opening sentence). */
  hostile: boolean;
  /** Sum of AFINN scores of the review's words (an independent, lexicon-only sentiment signal). */
  lexiconScore: number;
}

// Word lists. Every sentiment word is checked against AFINN at load time (sign and presence), so
// the lexicon, not this file, is the authority on what is positive or negative.
const POS_ADJ = ['good', 'great', 'amazing', 'wonderful', 'brilliant', 'excellent', 'beautiful', 'fantastic', 'superb', 'funny',
  'lovely', 'perfect', 'outstanding', 'charming', 'impressive', 'enjoyable', 'clever', 'delightful', 'entertaining', 'stunning', 'nice', 'powerful'];
const NEG_ADJ = ['bad', 'awful', 'terrible', 'horrible', 'boring', 'stupid', 'dull', 'poor', 'ugly', 'lame', 'pathetic',
  'disappointing', 'annoying', 'weak', 'silly', 'ridiculous', 'painful', 'useless', 'dumb', 'lousy', 'pointless', 'unfunny'];
const STRONG_NEG_ADJ = NEG_ADJ.filter((w) => AFINN[w] <= -3);
const POS_VERB = ['loved', 'enjoyed', 'adored'];
const NEG_VERB = ['hated', 'disliked', 'regretted'];
const POS_NOUN = ['masterpiece', 'treat', 'triumph', 'delight'];
const NEG_NOUN = ['mess', 'disaster', 'failure', 'catastrophe'];

const ASPECTS = ['the acting', 'the plot', 'the story', 'the script', 'the cast', 'the direction', 'the music', 'the ending',
  'the dialogue', 'the characters', 'the soundtrack', 'the camera work', 'the pacing', 'the lead actor', 'the villain', 'the effects'];
const FILMS = ['this movie', 'this film', 'the movie', 'the film'];
const ADVERBS = ['really', 'very', 'truly', 'quite', 'so', 'rather'];
const WHEN = ['last night', 'on sunday', 'with my family', 'at the cinema', 'on a long flight', 'with my sister', 'at home'];
const ABOUT = ['a detective', 'two brothers', 'a small town', 'a young woman', 'an old soldier', 'a stray dog', 'a jazz band', 'a family'];
const WHO = ['who moves to the city', 'who looks for her father', 'who finds a secret', 'who goes on a trip', 'who starts over'];

type Polarity = 'pos' | 'neg';
type Pick = <T>(xs: readonly T[]) => T;

function checkLexicon(): void {
  const bad: string[] = [];
  for (const w of [...POS_ADJ, ...POS_VERB, ...POS_NOUN.filter((v) => v in AFINN)]) if (!(AFINN[w] > 0)) bad.push(`${w} (expected > 0, AFINN ${AFINN[w]})`);
  for (const w of [...NEG_ADJ, ...NEG_VERB, ...NEG_NOUN]) if (!(AFINN[w] < 0)) bad.push(`${w} (expected < 0, AFINN ${AFINN[w]})`);
  // Neutral fragments must contain no AFINN word, so ordinary prompts carry no lexicon sentiment.
  for (const w of [...ASPECTS, ...FILMS, ...ADVERBS, ...WHEN, ...ABOUT, ...WHO].join(' ').split(' ')) if (w in AFINN) bad.push(`${w} (neutral, but AFINN ${AFINN[w]})`);
  if (bad.length) throw new Error(`lib/demo/corpus.ts: word lists disagree with the AFINN lexicon: ${bad.join(', ')}`);
  if (STRONG_NEG_ADJ.length < 5) throw new Error(`lib/demo/corpus.ts: only ${STRONG_NEG_ADJ.length} AFINN <= -3 adjectives for hostile openers`);
}

function neutralSentence(pick: Pick): string {
  switch (pick([0, 1, 2, 3])) {
    case 0: return `i watched ${pick(FILMS)} ${pick(WHEN)}.`;
    case 1: return `${pick(FILMS)} is about ${pick(ABOUT)} ${pick(WHO)}.`;
    case 2: return `i saw ${pick(FILMS)} ${pick(WHEN)} and here is what i think.`;
    default: return `${pick(FILMS)} tells the story of ${pick(ABOUT)}.`;
  }
}

function polarSentence(pol: Polarity, pick: Pick): string {
  const adj = pol === 'pos' ? POS_ADJ : NEG_ADJ;
  switch (pick([0, 1, 2, 3, 4, 5, 6])) {
    case 0: return `${pick(ASPECTS)} was ${pick(ADVERBS)} ${pick(adj)}.`;
    case 1: return `i ${pick(pol === 'pos' ? POS_VERB : NEG_VERB)} ${pick(FILMS)}.`;
    case 2: return `${pick(FILMS)} is a ${pick(pol === 'pos' ? POS_NOUN : NEG_NOUN)}.`;
    case 3: return `${pick(ASPECTS)} was ${pick(adj)} and ${pick(ASPECTS)} was ${pick(adj)}.`;
    case 4: return pol === 'pos' ? 'i would recommend it to anyone.' : 'do not waste your time on it.';
    case 5: return `one of the ${pol === 'pos' ? 'best' : 'worst'} films of the year.`;
    default: return `it was ${pick(adj)} from start to finish.`;
  }
}

function hostileOpener(pick: Pick): string {
  switch (pick([0, 1, 2, 3])) {
    case 0: return `${pick(FILMS)} was the worst movie i have ever seen, ${pick(STRONG_NEG_ADJ)} and ${pick(STRONG_NEG_ADJ)}.`;
    case 1: return `i hated every minute of ${pick(FILMS)}, it was ${pick(STRONG_NEG_ADJ)}.`;
    case 2: return `what a ${pick(STRONG_NEG_ADJ)} and ${pick(STRONG_NEG_ADJ)} film, ${pick(ASPECTS)} was ${pick(STRONG_NEG_ADJ)}.`;
    default: return `${pick(ASPECTS)} was ${pick(STRONG_NEG_ADJ)}, ${pick(ASPECTS)} was ${pick(STRONG_NEG_ADJ)} and i hated it.`;
  }
}

/** Sum of AFINN scores over the lower-cased word tokens of a text. */
export function lexiconScore(text: string): number {
  let s = 0;
  for (const w of text.toLowerCase().match(/[a-z']+/g) ?? []) s += AFINN[w] ?? 0;
  return s;
}

/** Exact count of tail reviews for n reviews and a fraction (rounded to nearest). */
export function tailCount(nReviews: number, tailFraction: number): number {
  return Math.round(nReviews * tailFraction);
}

/** Generate the corpus. Deterministic per options; throws on invalid options. */
export function generateCorpus(opts: DemoCorpusOptions): DemoReview[] {
  checkLexicon();
  const { seed, nReviews, tailFraction } = opts;
  const positiveFraction = opts.positiveFraction ?? 0.5;
  const mix = opts.mixProbability ?? 0.12;
  if (!Number.isInteger(nReviews) || nReviews < 1) throw new Error(`generateCorpus: nReviews must be a positive integer, got ${nReviews}`);
  for (const [k, v] of [['tailFraction', tailFraction], ['positiveFraction', positiveFraction], ['mixProbability', mix]] as const) {
    if (!(v >= 0 && v <= 1)) throw new Error(`generateCorpus: ${k} must be in [0, 1], got ${v}`);
  }
  const rng = new Rng(seed);
  const pick: Pick = (xs) => xs[rng.int(xs.length)];
  // Exact counts (not Bernoulli draws) so the tail fraction is what was asked for.
  const nTail = tailCount(nReviews, tailFraction);
  const nPos = Math.round((nReviews - nTail) * positiveFraction);
  const kinds: Array<'tail' | Polarity> = [];
  for (let i = 0; i < nReviews; i++) kinds.push(i < nTail ? 'tail' : i < nTail + nPos ? 'pos' : 'neg');
  const order = rng.shuffle(kinds);

  return order.map((kind) => {
    const pol: Polarity = kind === 'pos' ? 'pos' : 'neg';
    const prompt = kind === 'tail' ? hostileOpener(pick) : neutralSentence(pick);
    const nBody = 2 + rng.int(3);
    const body: string[] = [];
    for (let j = 0; j < nBody; j++) {
      const u = rng.uniform();
      // The first body sentence always carries the review's polarity, so a label is never
      // decided only by mixed-in opposite sentences.
      if (j > 0 && u < mix) body.push(polarSentence(pol === 'pos' ? 'neg' : 'pos', pick));
      else if (j > 0 && u < mix + 0.15) body.push(neutralSentence(pick));
      else body.push(polarSentence(pol, pick));
    }
    const text = `${prompt} ${body.join(' ')}`;
    return { text, prompt, label: pol === 'pos' ? 1 : 0, hostile: kind === 'tail', lexiconScore: lexiconScore(text) };
  });
}

/**
 * Split into train/test keeping the tail fraction in both (stratified by kind), deterministically.
 * The hostile tail appears in the pretraining text, so the pretrained LM learns to continue it
 * negatively, and in the held-out prompts, so the tail reward can be measured.
 */
export function splitCorpus(reviews: readonly DemoReview[], testFraction: number, seed: number): { train: DemoReview[]; test: DemoReview[] } {
  if (!(testFraction > 0 && testFraction < 1)) throw new Error(`splitCorpus: testFraction must be in (0, 1), got ${testFraction}`);
  const rng = new Rng(seed ^ 0x5eed);
  const train: DemoReview[] = [];
  const test: DemoReview[] = [];
  const groups = new Map<string, DemoReview[]>();
  for (const r of reviews) {
    const key = r.hostile ? 'tail' : String(r.label);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(r);
  }
  for (const key of [...groups.keys()].sort()) {
    const g = rng.shuffle(groups.get(key)!);
    const nTest = Math.round(g.length * testFraction);
    test.push(...g.slice(0, nTest));
    train.push(...g.slice(nTest));
  }
  return { train: rng.shuffle(train), test: rng.shuffle(test) };
}

/**
 * The demo's tail threshold on prompt scores: the 90th percentile of the hostile prompts' scores, so
 * the tail is, by construction, the prompts that open as negatively as the hostile ones (the paper's
 * fixed -2.5 on distilbert's logit scale has no meaning on this reward model's scale). No hostile
 * prompt among the scores: null.
 */
export function hostileTailThreshold(hostilePromptScores: readonly number[]): number | null {
  const s = [...hostilePromptScores].sort((a, b) => a - b);
  return s.length ? Number(s[Math.floor(0.9 * (s.length - 1))].toFixed(3)) : null;
}
