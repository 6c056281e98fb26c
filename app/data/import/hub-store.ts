/**
 * Hub data set splits kept in the "datasets" store, so that a split is downloaded once and read again
 * offline, as models are. Each Parquet file of a split is a stored file (app/store/stored-file.ts:
 * chunked, resumable); beside them, the split's own item lists its files and says whether all of them
 * are stored. A stored split is read without asking the network; deleting it in the Library (every
 * key under its prefix) makes the next read download it again.
 *
 * Layout: `hub-datasets/{repo}/{config}/{split}` holds {files, complete}; each file lies under
 * `hub-datasets/{repo}/{config}/{split}/{splitDirectory}/{shard:04}.parquet` (the path it has on the
 * Hub's refs/convert/parquet revision).
 */
import type { Json, Storage } from '../../store/storage.ts';
import { ensureStoredFile, openStoredFile } from '../../store/stored-file.ts';
import { hubSplitName, listHubParquetFiles, type HubAccess, type HubDatasetRef } from './hub.ts';

export const HUB_DATASET_PREFIX = 'hub-datasets/';

interface StoredSplit {
  [key: string]: Json;
  /** The Parquet files' URLs, in shard order. */
  files: string[];
  complete: boolean;
}

/** The key of a split's item; its files' keys start with this plus "/". */
export function hubSplitKey(ref: Pick<HubDatasetRef, 'repo' | 'config' | 'split'>): string {
  return `${HUB_DATASET_PREFIX}${ref.repo}/${ref.config}/${ref.split}`;
}

/** `{splitDirectory}/{shard}.parquet`: the end of a file's resolve URL. */
function fileKey(splitKey: string, url: string): string {
  const path = new URL(url).pathname.split('/').slice(-2).map(decodeURIComponent).join('/');
  return `${splitKey}/${path}`;
}

/** How messages name one of a split's files: "owner/name (config/split) file 2 of 3". */
const fileLabel = (name: string, index: number, count: number) => `${name} file ${index + 1} of ${count}`;

export interface StoreSplitOptions extends HubAccess {
  storage: Storage;
  /** Bytes on hand over the split's files, and their total as far as known. */
  onProgress?: (loaded: number, total: number) => void;
}

/**
 * The Parquet files of a split as Blobs, in shard order: from storage when the split is stored,
 * otherwise listed on the Hub and downloaded into storage first (what an earlier, interrupted
 * download left resumes).
 */
export async function storedHubSplit(ref: HubDatasetRef, options: StoreSplitOptions): Promise<Blob[]> {
  const { storage } = options;
  const key = hubSplitKey(ref);
  const name = hubSplitName(ref);
  let stored = (await storage.getInfo<StoredSplit>('datasets', key))?.meta;
  if (!stored?.complete) {
    const files = stored?.files ?? (await listHubParquetFiles(ref, options));
    stored = { files, complete: false };
    await storage.put('datasets', key, stored);
    await downloadFiles(key, name, files, options);
    stored = { files, complete: true };
    await storage.put('datasets', key, stored);
  }
  const blobs: Blob[] = [];
  for (const [index, url] of stored.files.entries()) {
    blobs.push(await openStoredFile(storage, 'datasets', fileKey(key, url), fileLabel(name, index, stored.files.length)));
  }
  return blobs;
}

async function downloadFiles(key: string, name: string, files: readonly string[], options: StoreSplitOptions): Promise<void> {
  const loaded = new Array<number>(files.length).fill(0);
  const totals = new Array<number>(files.length).fill(0);
  for (const [index, url] of files.entries()) {
    await ensureStoredFile(options.storage, 'datasets', fileKey(key, url), url, {
      name: fileLabel(name, index, files.length),
      ...(options.fetch ? { fetch: options.fetch } : {}),
      ...(options.accessToken ? { headers: { Authorization: `Bearer ${options.accessToken}` } } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      onProgress: (progress) => {
        loaded[index] = progress.loaded;
        totals[index] = progress.total ?? progress.loaded;
        options.onProgress?.(sum(loaded), sum(totals));
      },
    });
  }
}

const sum = (values: readonly number[]) => values.reduce((total, value) => total + value, 0);
