/**
 * A studio model's files, wherever they came from: a Hub id (downloaded into the "models" store on
 * first use, offline afterwards) or `local/<name>`, a folder the user imported (model.importLocal), which
 * lives in the same cache layout under revision "local" and never touches the network.
 */
import { CocktailError } from '../app/errors.ts';
import { cachedFileSize, filesFromHub, hubModelConfig, type HubOptions, type HubProgress } from '../app/model/hub.ts';
import type { ModelFiles } from '../app/model/source.ts';
import type { Storage } from '../app/store/storage.ts';
import type { HubSettings, ModelRef } from './protocol.ts';

export const LOCAL_PREFIX = 'local/';
export const LOCAL_REVISION = 'local';
/** Fetched with a Hub model when it exists, so "verify engine" works offline later. */
export const ONNX_EXPORT = 'onnx/model.onnx';

export interface OpenModelOptions extends HubSettings {
  signal?: AbortSignal;
  onProgress?: (progress: HubProgress) => void;
  extraFiles?: string[];
  /** Refuse to download: the model must already be in storage (model.plan has no endpoint to use). */
  offline?: boolean;
}

export const isLocalModel = (source: string): boolean => source.startsWith(LOCAL_PREFIX);

export function modelLabel({ source, revision }: ModelRef): string {
  return isLocalModel(source) ? source : `${source}@${revision}`;
}

export async function openModelFiles(storage: Storage, ref: ModelRef, options: OpenModelOptions = {}): Promise<ModelFiles> {
  return filesFromHub(ref.source, await hubOptionsFor(storage, ref, options));
}

/** Only the model's config.json (from storage, or downloaded alone): what planning a run needs before its weights. */
export async function readModelConfig(storage: Storage, ref: ModelRef, options: OpenModelOptions = {}): Promise<unknown> {
  return hubModelConfig(ref.source, await hubOptionsFor(storage, ref, options));
}

async function hubOptionsFor(storage: Storage, ref: ModelRef, options: OpenModelOptions): Promise<HubOptions> {
  const local = isLocalModel(ref.source);
  if (local && (await cachedFileSize(storage, ref.source, ref.revision, 'config.json')) === undefined) {
    throw new CocktailError('MODEL_NOT_FOUND', `${ref.source} is not in this browser's storage (it may have been deleted); import its folder again on the Model page`, {
      source: ref.source,
    });
  }
  const refuse = (why: string): typeof fetch =>
    (input) => Promise.reject(new Error(`${String(input)} was not fetched: ${why}`));
  return {
    storage,
    revision: ref.revision,
    ...(local
      ? { fetch: refuse(`${ref.source} was imported from local files and is incomplete in storage; import its folder again`) }
      : options.offline
        ? { fetch: refuse(`${modelLabel(ref)} is not fully downloaded; load it on the Model page first`) }
        : {}),
    ...(options.hubEndpoint ? { endpoint: options.hubEndpoint } : {}),
    ...(options.hubToken ? { accessToken: options.hubToken } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.extraFiles ? { extraFiles: options.extraFiles } : {}),
  };
}
