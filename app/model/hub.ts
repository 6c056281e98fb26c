/**
 * Models from the Hugging Face Hub, or anything that serves its URL layout
 * (`{endpoint}/{repo}/resolve/{revision}/{path}`, ENGINEERING.md §6), downloaded with progress into
 * the studio's storage in chunks, so that an interrupted download resumes where it stopped (HTTP
 * Range) and a second load works offline.
 *
 * Cache layout in the "models" store: each file is a stored file (app/store/stored-file.ts) under
 * `hub/{repo}@{revision}/{path}`: its manifest there, its chunks at `…/{path}#000012`.
 */
import { CocktailError } from '../errors.ts';
import type { Storage } from '../store/storage.ts';
import { deleteStoredPrefix, ensureStoredFile, openStoredFile, storeAbsence, storeBlob, storedFileSize } from '../store/stored-file.ts';
import type { ModelFiles } from './source.ts';

export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

/** Files a model needs, and ones used when present. Weights are found through the index if there is one. */
export const REQUIRED_FILES = ['config.json', 'tokenizer.json'];
export const OPTIONAL_FILES = ['tokenizer_config.json', 'generation_config.json', 'special_tokens_map.json', 'chat_template.jinja'];
export const WEIGHTS_INDEX = 'model.safetensors.index.json';

export interface HubProgress {
  file: string;
  /** Bytes of this file on hand (cached chunks included). */
  loaded: number;
  /** Its size, when the server said. */
  total: number | null;
  /** Bytes over the network in this load, all files together (for speed and ETA). */
  downloaded: number;
}

export interface HubOptions {
  storage: Storage;
  endpoint?: string;
  revision?: string;
  fetch?: typeof fetch;
  onProgress?: (progress: HubProgress) => void;
  signal?: AbortSignal;
  chunkBytes?: number;
  /** Extra files to fetch when they exist (e.g. "onnx/model.onnx" for the engine check). */
  extraFiles?: string[];
  /** A Hub access token, for gated or private repositories (sent as a Bearer token). */
  accessToken?: string;
}

export class HubError extends CocktailError {}

export function hubFileUrl(endpoint: string, repo: string, revision: string, path: string): string {
  const encodedPath = path.split('/').map(encodeURIComponent).join('/');
  return `${endpoint.replace(/\/+$/, '')}/${repo}/resolve/${encodeURIComponent(revision)}/${encodedPath}`;
}

export function cacheKey(repo: string, revision: string, path: string): string {
  return `hub/${repo}@${revision}/${path}`;
}

/** Every key of a model's cache starts with this (manifests and chunks alike). */
export function cachePrefix(repo: string, revision: string): string {
  return cacheKey(repo, revision, '');
}

/**
 * Stores a file the user already has (a model folder picked in the studio) in the cache layout,
 * complete, so filesFromHub finds it without the network. The manifest goes last, as after a download.
 */
export async function cacheLocalFile(
  storage: Storage,
  repo: string,
  revision: string,
  path: string,
  file: Blob,
  options: { chunkBytes?: number; signal?: AbortSignal; onProgress?: (loaded: number, total: number) => void } = {},
): Promise<void> {
  await storeBlob(storage, 'models', cacheKey(repo, revision, path), file, { ...options, name: path });
}

/** Records that an optional file does not exist, as a 404 does, so loads never ask the network for it. */
export async function cacheAbsentFile(storage: Storage, repo: string, revision: string, path: string): Promise<void> {
  await storeAbsence(storage, 'models', cacheKey(repo, revision, path));
}

/** Size of a completely cached file; undefined when it is not (fully) in the cache. */
export async function cachedFileSize(storage: Storage, repo: string, revision: string, path: string): Promise<number | undefined> {
  return storedFileSize(storage, 'models', cacheKey(repo, revision, path));
}

/** Deletes every file of a model from the cache; returns how many items went. */
export async function deleteCachedModel(storage: Storage, repo: string, revision: string): Promise<number> {
  return deleteStoredPrefix(storage, 'models', cachePrefix(repo, revision));
}

/** Only a Hub model's config.json (cached like any of its files): enough to plan its memory before its weights are fetched. */
export async function hubModelConfig(repo: string, options: HubOptions): Promise<unknown> {
  checkRepoId(repo);
  const downloader = new Downloader(repo, options.revision ?? 'main', options);
  await downloader.ensure('config.json', true);
  const text = await (await downloader.open('config.json')).text();
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HubError('MODEL_FILE_INVALID', `${repo}: config.json is not valid JSON (${(error as Error).message})`, { file: 'config.json' });
  }
}

function checkRepoId(repo: string): void {
  if (!/^[\w.-]+(\/[\w.-]+)?$/.test(repo)) {
    throw new HubError('HUB_BAD_ID', `"${repo}" is not a Hub repository id; expected "owner/name", e.g. HuggingFaceTB/SmolLM2-135M`, { repo });
  }
}

/** Downloads (or finds in the cache) every file of a Hub model and returns them as ModelFiles. */
export async function filesFromHub(repo: string, options: HubOptions): Promise<ModelFiles> {
  checkRepoId(repo);
  const revision = options.revision ?? 'main';
  const downloader = new Downloader(repo, revision, options);
  const present = new Set<string>();
  for (const path of REQUIRED_FILES) {
    await downloader.ensure(path, true);
    present.add(path);
  }
  for (const path of [...OPTIONAL_FILES, ...(options.extraFiles ?? [])]) if (await downloader.ensure(path, false)) present.add(path);
  if (await downloader.ensure(WEIGHTS_INDEX, false)) {
    present.add(WEIGHTS_INDEX);
    const index = JSON.parse(await (await downloader.open(WEIGHTS_INDEX)).text()) as { weight_map?: Record<string, string> };
    for (const shard of new Set(Object.values(index.weight_map ?? {}))) {
      await downloader.ensure(shard, true);
      present.add(shard);
    }
  } else {
    await downloader.ensure('model.safetensors', true);
    present.add('model.safetensors');
  }
  const label = `${repo}@${revision}`;
  return {
    label,
    has: (path) => present.has(path),
    open: async (path) => {
      if (!present.has(path)) throw new HubError('MODEL_FILE_MISSING', `${label}: ${path} is not in the repository`, { file: path });
      return downloader.open(path);
    },
    list: () => [...present].sort(),
    // The cached file is a manifest item with its chunks beside it (stored-file.ts): a message names the manifest.
    locate: (path) => `${label}/${path} (cached at ${options.storage.locate('models', cacheKey(repo, revision, path))})`,
  };
}

class Downloader {
  /** Bytes over the network in this load, all files together. */
  private downloaded = 0;

  constructor(
    private readonly repo: string,
    private readonly revision: string,
    private readonly options: HubOptions,
  ) {}

  /** Makes sure `path` is fully cached; false when it does not exist upstream and is optional. */
  async ensure(path: string, required: boolean): Promise<boolean> {
    const { storage, onProgress } = this.options;
    const url = hubFileUrl(this.options.endpoint ?? DEFAULT_HUB_ENDPOINT, this.repo, this.revision, path);
    const before = this.downloaded;
    return ensureStoredFile(storage, 'models', cacheKey(this.repo, this.revision, path), url, {
      name: path,
      optional: !required,
      ...(this.options.fetch ? { fetch: this.options.fetch } : {}),
      ...(this.options.chunkBytes ? { chunkBytes: this.options.chunkBytes } : {}),
      ...(this.options.signal ? { signal: this.options.signal } : {}),
      ...(this.options.accessToken ? { headers: { Authorization: `Bearer ${this.options.accessToken}` } } : {}),
      onProgress: ({ loaded, total, received }) => {
        this.downloaded = before + received;
        onProgress?.({ file: path, loaded, total, downloaded: this.downloaded });
      },
    });
  }

  /** The cached file as one Blob of its chunks (stored-file.ts); readers slice it lazily. */
  open(path: string): Promise<Blob> {
    return openStoredFile(this.options.storage, 'models', cacheKey(this.repo, this.revision, path), `${path} of ${this.repo}@${this.revision}`);
  }
}
