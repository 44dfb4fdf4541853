/**
 * RealToxicityPrompts (Gehman et al. 2020) with the authors' preparation (RA
 * examples/RealToxicity/dataset/eda.py; paper-spec §5): Prompt = prompt.text,
 * Label = prompt.toxicity > 0.5, rows with null toxicity dropped; per class an 80/20 split
 * (seed 42); train = all toxic-train + int(n_toxic_train*70/30) non-toxic-train;
 * test = all toxic-test + equally many non-toxic-test.
 * Formats: the original nested `prompts.jsonl` records (also HF parquet with prompt/continuation
 * structs) and the flattened form (Prompt, Continuation, Perspective, Label).
 * Offline only the 2,396-prompt DecodingTrust subset exists (993 toxic / 1,403 non-toxic);
 * 'hub' downloads the full allenai/real-toxicity-prompts prompts.jsonl (hub-datasets.ts).
 */
import { HUB_SOURCE, hubDatasetFile, type HubDatasetOptions } from './hub-datasets';
import { dataFile } from './paths';
import { drop, FieldError, loadRows, num, recordsFor, text, type Loaded, type ReadOptions } from './readers';
import { build7030, buildBalanced, trainTestSplit, type ClassMix } from './split';

export interface RtpRow {
  /** prompt.text (the authors' `Prompt`). */
  text: string;
  continuation: string | null;
  /** Perspective API prompt toxicity (the authors' `Perspective`). */
  toxicity: number;
  /** toxicity > 0.5 (the authors' `Label`); `toxic` too, for the shared class helpers. */
  label: 0 | 1;
  toxic: 0 | 1;
  filename: string | null;
}

export const RTP_FILES = {
  'subset-flat': 'rtp/rtp_decodingtrust_subset_flat.jsonl',
  'decodingtrust-toxic': 'rtp/decodingtrust_rtp_toxic.jsonl',
  'decodingtrust-nontoxic': 'rtp/decodingtrust_rtp_nontoxic.jsonl',
} as const;
export type RtpName = keyof typeof RTP_FILES;

export interface RtpOptions extends ReadOptions {
  dataDir?: string;
  /** Download options for nameOrFile 'hub'. */
  hub?: HubDatasetOptions;
}

export async function loadRtp(nameOrFile: RtpName | string = 'subset-flat', opts: RtpOptions = {}): Promise<Loaded<RtpRow>> {
  const file =
    nameOrFile === HUB_SOURCE
      ? await hubDatasetFile('real-toxicity-prompts', 'train', opts.hub)
      : nameOrFile in RTP_FILES ? dataFile(RTP_FILES[nameOrFile as RtpName], opts.dataDir) : nameOrFile;
  return loadRows<RtpRow>(
    file,
    recordsFor(file, opts),
    (rec) => {
      const nested = typeof rec.prompt === 'object' && rec.prompt !== null;
      const t = text(rec, nested ? 'prompt.text' : 'Prompt');
      const contField = nested ? 'continuation.text' : 'Continuation';
      let continuation: string | null = null;
      try {
        continuation = text(rec, contField);
      } catch {
        continuation = null; // continuation is optional (only the prompt is used)
      }
      const toxicity = num(rec, nested ? 'prompt.toxicity' : 'Perspective', true);
      if (toxicity === null) return drop('toxicity=null');
      const label = toxicity > 0.5 ? 1 : 0;
      if (!nested && 'Label' in rec && rec.Label !== null) {
        const given = rec.Label === true || rec.Label === 'True' || rec.Label === 1 ? 1 : rec.Label === false || rec.Label === 'False' || rec.Label === 0 ? 0 : -1;
        if (given === -1) throw new FieldError('Label', `expected a boolean, got ${JSON.stringify(rec.Label)}`);
        if (given !== label) throw new FieldError('Label', `Label=${rec.Label} disagrees with Perspective=${toxicity} > 0.5`);
      }
      const filename = typeof rec.filename === 'string' ? rec.filename : null;
      return { text: t, continuation, toxicity, label, toxic: label, filename };
    },
    { ...opts, label: `rtp ${nameOrFile in RTP_FILES ? nameOrFile : 'file'}`, unit: 'prompts' },
  );
}

export interface RtpSplit {
  train: ClassMix<RtpRow>;
  test: ClassMix<RtpRow>;
  /** Per-class 80/20 sizes before the 70/30 and 50/50 recipes. */
  sizes: { toxicTrain: number; toxicTest: number; nonToxicTrain: number; nonToxicTest: number };
}

/**
 * eda.py split. Counts follow HF train_test_split (n_test = ceil(0.2n)); rows come from our seeded
 * Rng, not numpy. On the full RTP this gives 17,395 + 40,588 = 57,983 train and 4,349 + 4,349 test.
 * On the offline subset the non-toxic pool is too small for 70/30, so train is capped (see `capped`).
 */
export function rtpSplit(rows: readonly RtpRow[], seed = 42): RtpSplit {
  const tox = trainTestSplit(rows.filter((r) => r.label === 1), 0.2, seed);
  const non = trainTestSplit(rows.filter((r) => r.label === 0), 0.2, seed);
  return {
    train: build7030(tox.train, non.train, seed),
    test: buildBalanced(tox.test, non.test, seed),
    sizes: { toxicTrain: tox.train.length, toxicTest: tox.test.length, nonToxicTrain: non.train.length, nonToxicTest: non.test.length },
  };
}
