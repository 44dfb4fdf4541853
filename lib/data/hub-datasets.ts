/**
 * The paper's datasets as published on the Hugging Face Hub, fetched into the standard HF cache
 * (lib/models/hub.ts: {cache}/datasets--{org}--{name}/snapshots/{commit}/{file}, shared with Python).
 *
 *   imdb                   stanfordnlp/imdb                plain_text/{train,test}-00000-of-00001.parquet (text, label)
 *   real-toxicity-prompts  allenai/real-toxicity-prompts   prompts.jsonl (nested prompt/continuation records; one split)
 *
 * Jigsaw is NOT here: the paper uses Kaggle's "Toxic Comment Classification Challenge" files
 * (train.csv, test.csv + test_labels.csv), which are behind Kaggle's terms and are not on the Hub in
 * that form; point --data-dir (or a local `sources` path) at your copies instead.
 *
 * Use: loadImdb('train', { source: 'hub' }), loadRtp('hub'), loadTask('imdb-gen', { sources: { train:
 * 'hub', test: 'hub' } }); `hub` options pass endpoint/cacheDir/revision/token/offline through.
 * Offline (HF_HUB_OFFLINE=1, or the Hub unreachable) the cached snapshot is used with no request;
 * without one the error names the repo and file and points to --data-dir for local copies.
 */
import { hubDownload, type HubDownloadOptions } from '../models/hub';

export interface HubDatasetEntry {
  repoId: string;
  /** split -> file path inside the dataset repo */
  files: Partial<Record<'train' | 'test', string>>;
  /** what the loaders expect in the file */
  format: string;
}

export const HUB_DATASETS = {
  imdb: {
    repoId: 'stanfordnlp/imdb',
    files: { train: 'plain_text/train-00000-of-00001.parquet', test: 'plain_text/test-00000-of-00001.parquet' },
    format: 'parquet, columns text (string) and label (0 = neg, 1 = pos)',
  },
  'real-toxicity-prompts': {
    repoId: 'allenai/real-toxicity-prompts',
    files: { train: 'prompts.jsonl' },
    format: 'JSONL, nested {filename, prompt: {text, toxicity, ...}, continuation: {...}}; one split (loadTask splits it 80/20)',
  },
} as const satisfies Record<string, HubDatasetEntry>;

export type HubDatasetName = keyof typeof HUB_DATASETS;

/** The Source value that means "download from the Hub" in loadImdb / loadRtp / loadTask. */
export const HUB_SOURCE = 'hub';

export type HubDatasetOptions = Pick<HubDownloadOptions, 'revision' | 'cacheDir' | 'endpoint' | 'token' | 'offline' | 'progress'>;

/**
 * Download (or find in the cache) the files of one paper dataset; returns local paths in the order
 * of HUB_DATASETS[name].files (one path when `split` is given).
 */
export async function fetchHubDataset(name: HubDatasetName | string, split?: 'train' | 'test', opts: HubDatasetOptions = {}): Promise<string[]> {
  if (!(name in HUB_DATASETS)) {
    const jigsaw = /jigsaw/i.test(name) ? ' Jigsaw (Kaggle Toxic Comment Classification) is not on the Hub in the paper\'s form; use --data-dir with local copies.' : '';
    throw new Error(`fetchHubDataset: unknown dataset ${JSON.stringify(name)} (known: ${Object.keys(HUB_DATASETS).join(', ')}).${jigsaw}`);
  }
  const entry: HubDatasetEntry = HUB_DATASETS[name as HubDatasetName];
  const splits = Object.keys(entry.files) as ('train' | 'test')[];
  if (split !== undefined && !entry.files[split]) {
    throw new Error(`fetchHubDataset: ${entry.repoId} has no ${split} split on the Hub (only ${splits.join(', ')})`);
  }
  const files = (split ? [split] : splits).map((s) => entry.files[s]!);
  try {
    const res = await hubDownload(entry.repoId, { ...opts, repoType: 'dataset', files });
    return files.map((f) => res.files.get(f)!);
  } catch (e) {
    throw new Error(
      `${(e as Error).message}\nDataset ${name} comes from the Hub dataset ${entry.repoId} (${files.join(', ')}); ` +
        'to use local copies instead, pass --data-dir <dir> (or RARLHF_DATA_DIR) or a local file as the source.',
      { cause: e },
    );
  }
}

/** One split's local path (the common case for the loaders). */
export async function hubDatasetFile(name: HubDatasetName, split: 'train' | 'test', opts: HubDatasetOptions = {}): Promise<string> {
  return (await fetchHubDataset(name, split, opts))[0];
}
