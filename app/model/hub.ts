/**
 * Models from the Hugging Face Hub, or anything that serves its URL layout
 * (`{endpoint}/{repo}/resolve/{revision}/{path}`, ENGINEERING.md §6), downloaded with progress into
 * the studio's storage in chunks, so that an interrupted download resumes where it stopped (HTTP
 * Range) and a second load works offline.
 *
 * Cache layout in the "models" store: `hub/{repo}@{revision}/{path}` holds the file's manifest
 * ({size, chunkBytes, chunks, complete}); `…/{path}#000012` hold its chunks. A file counts as cached
 * only once its manifest says complete, which is written after its last chunk.
 */
import { CocktailError } from '../errors.ts';
import type { Storage } from '../store/storage.ts';
import type { ModelFiles } from './source.ts';

export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';
export const DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024;

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
}

interface Manifest {
  [key: string]: string | number | boolean | null;
  url: string;
  size: number | null;
  chunkBytes: number;
  chunks: number;
  complete: boolean;
}

export class HubError extends CocktailError {}

export function hubFileUrl(endpoint: string, repo: string, revision: string, path: string): string {
  const encodedPath = path.split('/').map(encodeURIComponent).join('/');
  return `${endpoint.replace(/\/+$/, '')}/${repo}/resolve/${encodeURIComponent(revision)}/${encodedPath}`;
}

export function cacheKey(repo: string, revision: string, path: string): string {
  return `hub/${repo}@${revision}/${path}`;
}

const chunkKey = (fileKey: string, index: number) => `${fileKey}#${String(index).padStart(6, '0')}`;

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
  const key = cacheKey(repo, revision, path);
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const chunks = Math.ceil(file.size / chunkBytes);
  for (let index = 0; index < chunks; index++) {
    if (options.signal?.aborted) throw new HubError('CANCELLED', `Storing ${path} was cancelled`, { file: path });
    const bytes = new Uint8Array(await file.slice(index * chunkBytes, (index + 1) * chunkBytes).arrayBuffer());
    await storage.put('models', chunkKey(key, index), { bytes: bytes.byteLength }, bytes);
    options.onProgress?.(Math.min(file.size, (index + 1) * chunkBytes), file.size);
  }
  await storage.put('models', key, { url: 'local', size: file.size, chunkBytes, chunks, complete: true } satisfies Manifest);
}

/** Records that an optional file does not exist, as a 404 does, so loads never ask the network for it. */
export async function cacheAbsentFile(storage: Storage, repo: string, revision: string, path: string): Promise<void> {
  await storage.put('models', cacheKey(repo, revision, path), { url: 'absent', size: null, chunkBytes: DEFAULT_CHUNK_BYTES, chunks: 0, complete: false } satisfies Manifest);
}

/** Size of a completely cached file; undefined when it is not (fully) in the cache. */
export async function cachedFileSize(storage: Storage, repo: string, revision: string, path: string): Promise<number | undefined> {
  const manifest = (await storage.getInfo<Manifest>('models', cacheKey(repo, revision, path)))?.meta;
  return manifest?.complete ? (manifest.size ?? 0) : undefined;
}

/** Deletes every file of a model from the cache; returns how many items went. */
export async function deleteCachedModel(storage: Storage, repo: string, revision: string): Promise<number> {
  const items = await storage.list('models', cachePrefix(repo, revision));
  for (const item of items) await storage.delete('models', item.key);
  return items.length;
}

/** Downloads (or finds in the cache) every file of a Hub model and returns them as ModelFiles. */
export async function filesFromHub(repo: string, options: HubOptions): Promise<ModelFiles> {
  if (!/^[\w.-]+(\/[\w.-]+)?$/.test(repo)) {
    throw new HubError('HUB_BAD_ID', `"${repo}" is not a Hub repository id; expected "owner/name", e.g. HuggingFaceTB/SmolLM2-135M`, { repo });
  }
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
  };
}

class Downloader {
  private downloaded = 0;
  private readonly fetch: typeof fetch;
  private readonly chunkBytes: number;
  private readonly endpoint: string;

  constructor(
    private readonly repo: string,
    private readonly revision: string,
    private readonly options: HubOptions,
  ) {
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    this.endpoint = options.endpoint ?? DEFAULT_HUB_ENDPOINT;
  }

  /** Makes sure `path` is fully cached; false when it does not exist upstream and is optional. */
  async ensure(path: string, required: boolean): Promise<boolean> {
    const { storage } = this.options;
    const key = cacheKey(this.repo, this.revision, path);
    const cached = (await storage.getInfo<Manifest>('models', key))?.meta;
    if (cached?.complete) {
      this.options.onProgress?.({ file: path, loaded: cached.size ?? 0, total: cached.size, downloaded: this.downloaded });
      return true;
    }
    if (cached?.size === null && cached.url === 'absent') return false;
    const resumeFrom = cached && cached.chunkBytes === this.chunkBytes ? cached.chunks : 0;
    return this.download(path, key, resumeFrom, required);
  }

  /**
   * The cached file as one Blob made of its chunks, never one contiguous buffer: a weights file may be
   * larger than an ArrayBuffer can be, and the browser may keep a large Blob's parts on disk. Readers
   * slice it lazily (safetensors reads the header, then one tensor at a time).
   */
  async open(path: string): Promise<Blob> {
    const key = cacheKey(this.repo, this.revision, path);
    const manifest = (await this.options.storage.getInfo<Manifest>('models', key))?.meta;
    if (!manifest?.complete) throw new HubError('HUB_NOT_CACHED', `${path} of ${this.repo}@${this.revision} is not fully downloaded`, { file: path });
    const parts: Uint8Array<ArrayBuffer>[] = [];
    for (let index = 0; index < manifest.chunks; index++) {
      const chunk = await this.options.storage.getBytes('models', chunkKey(key, index));
      if (!chunk) throw new HubError('HUB_CACHE_CORRUPT', `chunk ${index} of ${path} is missing from the cache; delete the model and load it again`, { file: path });
      parts.push(chunk as Uint8Array<ArrayBuffer>);
    }
    return new Blob(parts);
  }

  private async download(path: string, key: string, resumeChunks: number, required: boolean): Promise<boolean> {
    const { storage, signal, onProgress } = this.options;
    const url = hubFileUrl(this.endpoint, this.repo, this.revision, path);
    const start = resumeChunks * this.chunkBytes;
    let response: Response;
    try {
      response = await this.fetch(url, { signal: signal ?? null, headers: start > 0 ? { Range: `bytes=${start}-` } : {} });
    } catch (error) {
      if (signal?.aborted) throw new HubError('CANCELLED', `Download of ${path} was cancelled; it resumes where it stopped next time`, { file: path });
      throw new HubError('HUB_NETWORK', `Could not reach ${url} (${(error as Error).message}). Cached files still load offline.`, { file: path, url });
    }
    if (response.status === 404 && !required) {
      // Remember that an optional file is absent, so offline loads don't try the network for it.
      await storage.put('models', key, { url: 'absent', size: null, chunkBytes: this.chunkBytes, chunks: 0, complete: false } satisfies Manifest);
      return false;
    }
    if (response.status === 401 || response.status === 403) {
      throw new HubError('HUB_FORBIDDEN', `${url} answered ${response.status}: the repository is gated or private; accept its licence on the Hub and use local files`, { file: path, url });
    }
    if (!response.ok) throw new HubError('HUB_HTTP', `${url} answered ${response.status} ${response.statusText}`, { file: path, url, status: response.status });
    // A server that ignores Range sends the whole file (200): start over.
    const resumed = response.status === 206;
    let chunkIndex = resumed ? resumeChunks : 0;
    let loaded = resumed ? start : 0;
    const total = totalSize(response, resumed ? start : 0);
    await storage.put('models', key, { url, size: total, chunkBytes: this.chunkBytes, chunks: chunkIndex, complete: false } satisfies Manifest);

    const reader = response.body!.getReader();
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    const flush = async () => {
      const chunk = new Uint8Array(pendingBytes);
      let offset = 0;
      for (const part of pending) {
        chunk.set(part, offset);
        offset += part.byteLength;
      }
      await storage.put('models', chunkKey(key, chunkIndex), { bytes: pendingBytes }, chunk);
      chunkIndex++;
      // The manifest follows each chunk, so an interruption resumes after the last whole chunk.
      await storage.put('models', key, { url, size: total, chunkBytes: this.chunkBytes, chunks: chunkIndex, complete: false } satisfies Manifest);
      pending = [];
      pendingBytes = 0;
    };
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        let part = value;
        while (part.byteLength > 0) {
          const take = Math.min(part.byteLength, this.chunkBytes - pendingBytes);
          pending.push(part.subarray(0, take));
          pendingBytes += take;
          part = part.subarray(take);
          if (pendingBytes === this.chunkBytes) await flush();
        }
        loaded += value.byteLength;
        this.downloaded += value.byteLength;
        onProgress?.({ file: path, loaded, total, downloaded: this.downloaded });
      }
    } catch (error) {
      if (signal?.aborted) throw new HubError('CANCELLED', `Download of ${path} was cancelled at ${loaded} bytes; it resumes there next time`, { file: path });
      throw new HubError('HUB_INTERRUPTED', `Download of ${path} broke off at ${loaded}${total ? ` of ${total}` : ''} bytes (${(error as Error).message}); load again to resume`, { file: path, url, loaded });
    }
    if (pendingBytes > 0) await flush();
    if (total !== null && loaded !== total) {
      throw new HubError('HUB_INTERRUPTED', `Download of ${path} ended at ${loaded} of ${total} bytes; load again to resume`, { file: path, url, loaded });
    }
    await storage.put('models', key, { url, size: loaded, chunkBytes: this.chunkBytes, chunks: chunkIndex, complete: true } satisfies Manifest);
    return true;
  }
}

function totalSize(response: Response, offset: number): number | null {
  const range = response.headers.get('content-range');
  const fromRange = range?.match(/\/(\d+)$/)?.[1];
  if (fromRange) return Number(fromRange);
  const length = response.headers.get('content-length');
  return length === null ? null : offset + Number(length);
}
