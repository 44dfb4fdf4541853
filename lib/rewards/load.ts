/**
 * One factory for every reward model: `loadRewardModel(spec)` where spec is
 *  - a kit model folder (config.json with format "rarlhf-kit-reward"),
 *  - a kit transformer folder (config.json with rarlhf.format "rarlhf-kit-transformer-reward"): loaded
 *    through its onnx/model.onnx like any ONNX classifier, truncating at its max_position_embeddings,
 *  - an ONNX classifier folder (config.json + tokenizer files + onnx/model.onnx or model.onnx),
 *  - a Hugging Face id ("unitary/toxic-bert"), resolved in the local hub cache
 *    (models--org--name/snapshots/<commit>, via lib/models/hub.ts; no download is attempted here).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { classifyModelRef, hubDownload } from '../models/hub';
import { KNOWN_HEADS, OnnxRewardModel, type OnnxHead } from './onnx';
import { KIT_FORMAT, KitRewardModel } from './trained';
import { isTransformerRewardConfig } from './transformer';
import type { RewardModel } from './types';

export type RewardSpec = string | { path: string; head?: OnnxHead; maxLength?: number; revision?: string };

function isDir(p: string): boolean {
  return fs.existsSync(p) && fs.statSync(p).isDirectory();
}

/** Snapshot folder of an HF model in the local cache (offline; throws naming the cache path). */
export async function resolveHubModel(repoId: string, revision = 'main'): Promise<string> {
  const res = await hubDownload(repoId, { revision, offline: true, files: ['config.json', 'tokenizer.json', 'tokenizer_config.json'], progress: false });
  return res.snapshotDir;
}

/** The reward models' fromPretrained (lib/models/pretrained.ts for the policy side): a folder or Hub id. */
export const AutoRewardModel = {
  fromPretrained: (idOrDir: string, o: Omit<Exclude<RewardSpec, string>, 'path'> = {}): Promise<RewardModel> => loadRewardModel({ path: idOrDir, ...o }),
};

export async function loadRewardModel(spec: RewardSpec): Promise<RewardModel> {
  const s = typeof spec === 'string' ? { path: spec } : spec;
  let dir = s.path;
  let hubId: string | undefined;
  if (!isDir(dir)) {
    if (fs.existsSync(dir)) throw new Error(`loadRewardModel: ${dir} is a file; expected a reward model folder or a Hugging Face id (org/name)`);
    const ref = classifyModelRef(dir);
    if (ref.kind === 'missing') throw new Error(`loadRewardModel: "${dir}" is neither a folder nor a Hugging Face id: ${ref.message}`);
    if (!/^[\w.-]+\/[\w.-]+$/.test(dir)) throw new Error(`loadRewardModel: "${dir}" is neither a folder nor a Hugging Face id (org/name)`);
    hubId = dir;
    dir = await resolveHubModel(dir, s.revision);
  }
  const cfgFile = path.join(dir, 'config.json');
  if (!fs.existsSync(cfgFile)) throw new Error(`loadRewardModel: ${cfgFile} not found (expected a kit or ONNX reward model folder)`);
  let cfg: { format?: string };
  try {
    cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
  } catch (e) {
    throw new Error(`loadRewardModel: ${cfgFile} is not valid JSON (${(e as Error).message})`);
  }
  if (cfg.format === KIT_FORMAT) return KitRewardModel.load(dir);
  // a kit transformer folder is an ONNX classifier folder: scored exactly as PPO would score distilbert-imdb
  if (isTransformerRewardConfig(cfg) && !fs.existsSync(path.join(dir, 'onnx', 'model.onnx'))) {
    throw new Error(`loadRewardModel: ${path.join(dir, 'onnx', 'model.onnx')} not found (a kit transformer reward folder needs its ONNX export; retrain with rarlhf reward train --arch transformer)`);
  }
  const head = s.head ?? (hubId ? KNOWN_HEADS[hubId] : undefined);
  return OnnxRewardModel.load(dir, { name: hubId ?? path.basename(path.resolve(dir)), head, maxLength: s.maxLength });
}
