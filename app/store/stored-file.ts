/**
 * A large file kept in a store in chunks, so that no single item (or ArrayBuffer) has to hold it
 * whole and an interrupted download resumes after its last whole chunk (HTTP Range). Hub models
 * (app/model/hub.ts) and Hub data sets (app/data/import/hub-store.ts) are both stored this way.
 *
 * Layout: `{key}` holds the manifest ({url, size, chunkBytes, chunks, complete, etag, sha256});
 * `{key}#000012` hold the chunks. A file counts as stored only once its manifest says complete, which is
 * written after its last chunk.
 *
 * A resumed download must continue the same revision of the file: its Range request carries If-Range
 * with the ETag of the first response (RFC 9110 §13.1.5), so a server whose file changed sends the whole
 * new file (200) and the download starts over instead of splicing two revisions. Without a strong ETag
 * nothing can prove the parts match, so the download starts over too. When the Hub gives the file's
 * SHA-256 (the LFS oid, in X-Linked-Etag or as the ETag itself), the stored bytes are checked against it.
 */
import { CocktailError } from '../errors.ts';
import { Sha256 } from './sha256.ts';
import type { Storage, StoreName } from './storage.ts';

export const DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024;

export interface StoredFileManifest {
  [key: string]: string | number | boolean | null;
  /** Where it came from: a URL, "local" for a file the user gave, "absent" for an optional file upstream lacks. */
  url: string;
  size: number | null;
  chunkBytes: number;
  chunks: number;
  complete: boolean;
  /** The server's strong ETag of the revision being stored (sent as If-Range on resume); null if it gave none. */
  etag: string | null;
  /** The SHA-256 the Hub gave for the file (lowercase hex), checked once the file is complete. */
  sha256: string | null;
}

export class DownloadError extends CocktailError {}

export const chunkKey = (fileKey: string, index: number) => `${fileKey}#${String(index).padStart(6, '0')}`;

/** True for the key of a chunk (as opposed to a manifest). */
export const isChunkKey = (key: string) => /#\d{6}$/.test(key);

export async function storedManifest(storage: Storage, store: StoreName, key: string): Promise<StoredFileManifest | undefined> {
  return (await storage.getInfo<StoredFileManifest>(store, key))?.meta ?? undefined;
}

/** Size of a completely stored file; undefined when it is not (fully) stored. */
export async function storedFileSize(storage: Storage, store: StoreName, key: string): Promise<number | undefined> {
  const manifest = await storedManifest(storage, store, key);
  return manifest?.complete ? (manifest.size ?? 0) : undefined;
}

/**
 * The stored file as one Blob made of its chunks' Blobs (Storage.getBlob), so opening reads nothing:
 * a weights file may be larger than an ArrayBuffer can be, and loading a model reads its safetensors
 * header first, then one tensor at a time. `name` is how messages call the file.
 */
export async function openStoredFile(storage: Storage, store: StoreName, key: string, name: string): Promise<Blob> {
  const manifest = await storedManifest(storage, store, key);
  if (!manifest?.complete) throw new DownloadError('HUB_NOT_CACHED', `${name} is not fully downloaded`, { file: name });
  const parts: Blob[] = [];
  for (let index = 0; index < manifest.chunks; index++) {
    const chunk = await storage.getBlob(store, chunkKey(key, index));
    if (!chunk) throw new DownloadError('HUB_CACHE_CORRUPT', `chunk ${index} of ${name} is missing from storage; delete it in the Library and download it again`, { file: name });
    parts.push(chunk);
  }
  return new Blob(parts);
}

/** Stores a file the user already has, complete; the manifest goes last, as after a download. */
export async function storeBlob(
  storage: Storage,
  store: StoreName,
  key: string,
  file: Blob,
  options: { name: string; chunkBytes?: number; signal?: AbortSignal; onProgress?: (loaded: number, total: number) => void },
): Promise<void> {
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const chunks = Math.ceil(file.size / chunkBytes);
  for (let index = 0; index < chunks; index++) {
    if (options.signal?.aborted) throw new DownloadError('CANCELLED', `Storing ${options.name} was cancelled`, { file: options.name });
    const chunk = file.slice(index * chunkBytes, (index + 1) * chunkBytes);
    await storage.put(store, chunkKey(key, index), { bytes: chunk.size }, chunk);
    options.onProgress?.(Math.min(file.size, (index + 1) * chunkBytes), file.size);
  }
  await storage.put(store, key, { url: 'local', size: file.size, chunkBytes, chunks, complete: true, etag: null, sha256: null } satisfies StoredFileManifest);
}

/** Records that an optional file does not exist upstream, so later loads never ask the network for it. */
export async function storeAbsence(storage: Storage, store: StoreName, key: string): Promise<void> {
  await storage.put(store, key, { url: 'absent', size: null, chunkBytes: DEFAULT_CHUNK_BYTES, chunks: 0, complete: false, etag: null, sha256: null } satisfies StoredFileManifest);
}

/** Deletes every item whose key starts with `prefix`; returns how many went. */
export async function deleteStoredPrefix(storage: Storage, store: StoreName, prefix: string): Promise<number> {
  const items = await storage.list(store, prefix);
  for (const item of items) await storage.delete(store, item.key);
  return items.length;
}

export interface DownloadProgress {
  /** Bytes of the file on hand (stored chunks included). */
  loaded: number;
  /** Its size, when the server said. */
  total: number | null;
  /** Bytes that came over the network in this download. */
  received: number;
}

export interface DownloadOptions {
  /** How messages call the file ("model.safetensors", "owner/name default/train 0000.parquet"). */
  name: string;
  fetch?: (input: string, init?: RequestInit) => Promise<Response>;
  /** Extra request headers (an access token). */
  headers?: Record<string, string>;
  chunkBytes?: number;
  signal?: AbortSignal;
  onProgress?: (progress: DownloadProgress) => void;
  /** A 404 then records the file as absent and answers false, instead of failing. */
  optional?: boolean;
}

/**
 * Makes sure the file at `url` is completely stored under `key`, downloading what is missing: a
 * stored file answers at once; a partial one resumes after its last whole chunk. False only when an
 * optional file does not exist upstream (now, or as recorded earlier).
 */
export async function ensureStoredFile(storage: Storage, store: StoreName, key: string, url: string, options: DownloadOptions): Promise<boolean> {
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const stored = await storedManifest(storage, store, key);
  if (stored?.complete) {
    options.onProgress?.({ loaded: stored.size ?? 0, total: stored.size, received: 0 });
    return true;
  }
  if (stored?.url === 'absent') return false;
  const resume = stored && stored.chunkBytes === chunkBytes && stored.chunks > 0 && isStrongEtag(stored.etag) ? { chunks: stored.chunks, etag: stored.etag } : undefined;
  return download(storage, store, key, url, resume, { ...options, chunkBytes });
}

/** Only a strong validator may guard a Range request (RFC 9110 §13.1.5); weak ones (W/"…") may not. */
function isStrongEtag(etag: string | null | undefined): etag is string {
  return typeof etag === 'string' && etag.startsWith('"');
}

/** The file's SHA-256 when the server gives it: the Hub's X-Linked-Etag for LFS files, or an ETag that is one. */
function announcedSha256(response: Response): string | null {
  for (const header of ['x-linked-etag', 'etag']) {
    const value = response.headers.get(header)?.replace(/^W\//, '').replace(/"/g, '').toLowerCase();
    if (value && /^[0-9a-f]{64}$/.test(value)) return value;
  }
  return null;
}

async function download(storage: Storage, store: StoreName, key: string, url: string, resume: { chunks: number; etag: string } | undefined, options: DownloadOptions & { chunkBytes: number }): Promise<boolean> {
  const { name, signal, onProgress, chunkBytes } = options;
  const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
  const resumeChunks = resume?.chunks ?? 0;
  const start = resumeChunks * chunkBytes;
  let response: Response;
  try {
    response = await fetchImpl(url, { signal: signal ?? null, headers: { ...options.headers, ...(resume ? { Range: `bytes=${start}-`, 'If-Range': resume.etag } : {}) } });
  } catch (error) {
    if (signal?.aborted) throw new DownloadError('CANCELLED', `Download of ${name} was cancelled; it resumes where it stopped next time`, { file: name });
    throw new DownloadError('HUB_NETWORK', `Could not reach ${url} (${(error as Error).message}). Stored files still load offline.`, { file: name, url });
  }
  if (response.status === 404 && options.optional) {
    await storeAbsence(storage, store, key);
    return false;
  }
  if (response.status === 401 || response.status === 403) {
    const why = options.headers?.Authorization ? 'the access token given does not grant it' : 'the repository is gated or private and no access token was given';
    throw new DownloadError('HUB_FORBIDDEN', `${url} answered ${response.status}: ${why}; accept its licence on the Hub and give a token that can read it, or use local files`, { file: name, url });
  }
  if (!response.ok) throw new DownloadError('HUB_HTTP', `${url} answered ${response.status} ${response.statusText}`, { file: name, url, status: response.status });
  const etag = response.headers.get('etag');
  if (resume && response.status === 206 && etag !== resume.etag) {
    // A server that ignored If-Range sent part of another revision: never splice it; start over.
    await response.body?.cancel();
    return download(storage, store, key, url, undefined, options);
  }
  // A changed file (If-Range did not match) or a server that ignores Range sends the whole file (200): start over.
  const resumed = resume !== undefined && response.status === 206;
  let chunkIndex = resumed ? resumeChunks : 0;
  let loaded = resumed ? start : 0;
  let received = 0;
  const total = totalSize(response, resumed ? start : 0);
  const sha256 = announcedSha256(response);
  const hash = sha256 ? new Sha256() : undefined;
  if (hash && resumed) {
    for (let index = 0; index < resumeChunks; index++) {
      const chunk = await storage.getBytes(store, chunkKey(key, index));
      if (!chunk) return download(storage, store, key, url, undefined, options);
      hash.update(chunk);
    }
  }
  const writeManifest = (complete: boolean) => storage.put(store, key, { url, size: complete ? loaded : total, chunkBytes, chunks: chunkIndex, complete, etag, sha256 } satisfies StoredFileManifest);
  await writeManifest(false);

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
    // As a Blob, so the browser keeps the chunk on disk and opening the file later reads nothing.
    await storage.put(store, chunkKey(key, chunkIndex), { bytes: pendingBytes }, new Blob([chunk]));
    chunkIndex++;
    // The manifest follows each chunk, so an interruption resumes after the last whole chunk.
    await writeManifest(false);
    pending = [];
    pendingBytes = 0;
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      let part = value;
      while (part.byteLength > 0) {
        const take = Math.min(part.byteLength, chunkBytes - pendingBytes);
        pending.push(part.subarray(0, take));
        pendingBytes += take;
        part = part.subarray(take);
        if (pendingBytes === chunkBytes) await flush();
      }
      hash?.update(value);
      loaded += value.byteLength;
      received += value.byteLength;
      onProgress?.({ loaded, total, received });
    }
  } catch (error) {
    if (signal?.aborted) throw new DownloadError('CANCELLED', `Download of ${name} was cancelled at ${loaded} bytes; it resumes there next time`, { file: name });
    throw new DownloadError('HUB_INTERRUPTED', `Download of ${name} broke off at ${loaded}${total ? ` of ${total}` : ''} bytes (${(error as Error).message}); load again to resume`, { file: name, url, loaded });
  }
  if (pendingBytes > 0) await flush();
  if (total !== null && loaded !== total) {
    throw new DownloadError('HUB_INTERRUPTED', `Download of ${name} ended at ${loaded} of ${total} bytes; load again to resume`, { file: name, url, loaded });
  }
  const digest = hash?.hex();
  if (digest !== undefined && digest !== sha256) {
    // Keep nothing of it: the next load downloads the file again from the start.
    await storage.delete(store, key);
    await deleteStoredPrefix(storage, store, `${key}#`);
    throw new DownloadError('HUB_CHECKSUM', `${name} arrived with SHA-256 ${digest}, but the Hub gives ${sha256}; it was discarded: load again to download it afresh`, { file: name, url, expected: sha256, got: digest });
  }
  await writeManifest(true);
  return true;
}

function totalSize(response: Response, offset: number): number | null {
  const range = response.headers.get('content-range');
  const fromRange = range?.match(/\/(\d+)$/)?.[1];
  if (fromRange) return Number(fromRange);
  const length = response.headers.get('content-length');
  return length === null ? null : offset + Number(length);
}
