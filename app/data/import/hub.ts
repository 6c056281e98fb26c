/**
 * Hugging Face Hub data sets by id, config and split, read from the Parquet files the Hub keeps for
 * every public data set on the revision refs/convert/parquet (ENGINEERING.md §6). Per the dataset
 * viewer's documentation (huggingface/dataset-viewer, docs/source/parquet.md, "List Parquet files"):
 *  - the files lie at `{config}/{split}/{shard:04}.parquet` on that revision, e.g.
 *    https://huggingface.co/datasets/ibm/duorc/resolve/refs%2Fconvert%2Fparquet/ParaphraseRC/train/0000.parquet;
 *    a split converted only in part (over 5 GB) lies in `{config}/partial-{split}/` instead;
 *  - the Hub API `GET /api/datasets/{repo}/parquet/{config}/{split}` lists them as
 *    `.../api/datasets/{repo}/parquet/{config}/{split}/{n}.parquet`, each of which redirects to the
 *    file above.
 * The endpoint is configurable (a mirror, or a local server in tests) and fetch is injectable, so the
 * same code runs against the Hub, an offline mirror, and fixtures.
 */
import { DataError, throwIfCancelled } from '../errors.ts';
import type { ProblemLog } from '../validate.ts';
import { readParquetRows } from './parquet.ts';
import type { AsyncBuffer } from 'hyparquet';
import type { ImportInfo, ImportProgress, RowGenerator } from './types.ts';

export const HUB_ENDPOINT = 'https://huggingface.co';
export const PARQUET_REVISION = 'refs/convert/parquet';

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface HubDatasetRef {
  /** Defaults to https://huggingface.co. */
  endpoint?: string;
  /** "owner/name", e.g. "zeroshot/twitter-financial-news-sentiment". */
  repo: string;
  /** The config (subset); most data sets have only "default". */
  config: string;
  split: string;
}

export interface HubAccess {
  fetch?: FetchLike;
  /** A Hub access token, for gated or private data sets. */
  accessToken?: string;
  signal?: AbortSignal;
}

/** `{endpoint}/datasets/{repo}/resolve/refs%2Fconvert%2Fparquet/{config}/{splitDirectory}/{shard:04}.parquet` */
export function hubParquetFileUrl(ref: HubDatasetRef, shard: number, splitDirectory = ref.split): string {
  if (!Number.isInteger(shard) || shard < 0) throw new RangeError(`shard must be a non-negative integer, got ${shard}`);
  const path = [ref.config, splitDirectory, `${String(shard).padStart(4, '0')}.parquet`].map(encodeURIComponent).join('/');
  return `${endpointOf(ref)}/datasets/${encodeRepo(ref.repo)}/resolve/${encodeURIComponent(PARQUET_REVISION)}/${path}`;
}

/** `{endpoint}/api/datasets/{repo}/parquet/{config}/{split}`: the Hub's list of a split's Parquet files. */
export function hubParquetListUrl(ref: HubDatasetRef): string {
  return `${endpointOf(ref)}/api/datasets/${encodeRepo(ref.repo)}/parquet/${encodeURIComponent(ref.config)}/${encodeURIComponent(ref.split)}`;
}

/**
 * The Parquet file URLs of one split, in shard order. The listing's own URLs are API redirects; they
 * are turned into direct `resolve` URLs so that range requests go straight to the file.
 */
export async function listHubParquetFiles(ref: HubDatasetRef, access: HubAccess = {}): Promise<string[]> {
  const url = hubParquetListUrl(ref);
  const response = await hubFetch(url, { method: 'GET' }, access);
  let listed: unknown;
  try {
    listed = await response.json();
  } catch (error) {
    throw new DataError('HUB_REQUEST_FAILED', `${url} did not answer with JSON: ${String(error)}`, { url });
  }
  if (!Array.isArray(listed) || !listed.every((entry): entry is string => typeof entry === 'string')) {
    throw new DataError('HUB_REQUEST_FAILED', `${url} did not answer with a list of Parquet URLs.`, { url });
  }
  if (listed.length === 0) {
    throw new DataError('HUB_REQUEST_FAILED', `${ref.repo} has no Parquet files for config "${ref.config}", split "${ref.split}".`, { url });
  }
  return listed
    .map((entry) => {
      const match = /\/parquet\/[^/]+\/([^/]+)\/(\d+)\.parquet$/.exec(entry);
      if (!match) return { shard: Number.POSITIVE_INFINITY, url: entry };
      const shard = Number(match[2]);
      return { shard, url: hubParquetFileUrl(ref, shard, decodeURIComponent(match[1]!)) };
    })
    .sort((a, b) => a.shard - b.shard)
    .map((entry) => entry.url);
}

export interface HubImportOptions extends HubAccess {
  problems: ProblemLog;
  onProgress?: (progress: ImportProgress) => void;
  /** Read only these columns. */
  columns?: readonly string[];
  /** The file URLs, when already known (skips the listing request). */
  files?: readonly string[];
}

/** Rows of one split of a Hub data set, read over HTTP by range requests, shard after shard, numbered as one sequence. */
export async function* readHubDatasetRows(ref: HubDatasetRef, options: HubImportOptions): RowGenerator {
  const files = options.files ? [...options.files] : await listHubParquetFiles(ref, options);
  const buffers: AsyncBuffer[] = [];
  for (const url of files) {
    throwIfCancelled(options.signal, hubSplitName(ref));
    buffers.push(await httpRangeBuffer(url, options));
  }
  return yield* readParquetShards(buffers, hubSplitName(ref), options);
}

/** How messages name a split: "owner/name (config/split)". */
export function hubSplitName(ref: Pick<HubDatasetRef, 'repo' | 'config' | 'split'>): string {
  return `${ref.repo} (${ref.config}/${ref.split})`;
}

/** The rows of a split's Parquet files (over HTTP, or stored ones), shard after shard, numbered as one sequence. */
export async function* readParquetShards(
  shards: readonly (Blob | AsyncBuffer)[],
  fileName: string,
  options: Pick<HubImportOptions, 'problems' | 'signal' | 'columns' | 'onProgress'>,
): RowGenerator {
  const totalBytes = shards.reduce((sum, shard) => sum + (shard instanceof Blob ? shard.size : shard.byteLength), 0);
  let bytesBefore = 0;
  let rows = 0;
  let columns: string[] = [];
  for (const source of shards) {
    const shard = readParquetRows(source, {
      fileName,
      problems: options.problems,
      signal: options.signal,
      columns: options.columns,
      rowsBefore: rows,
      onProgress: (progress) => options.onProgress?.({ bytesRead: bytesBefore + progress.bytesRead, totalBytes }),
    });
    let info: ImportInfo;
    for (;;) {
      const next = await shard.next();
      if (next.done) {
        info = next.value;
        break;
      }
      yield next.value;
    }
    rows += info.rows;
    columns = info.columns;
    bytesBefore += source instanceof Blob ? source.size : source.byteLength;
  }
  return { fileName, format: 'parquet', rows, columns, bytes: totalBytes };
}

/**
 * A file over HTTP as hyparquet's AsyncBuffer: its size from HEAD, its bytes by range requests. A
 * server that ignores Range (answers 200 with the whole file) is served from that one download.
 */
export async function httpRangeBuffer(url: string, access: HubAccess = {}): Promise<AsyncBuffer> {
  const head = await hubFetch(url, { method: 'HEAD' }, access);
  const declared = head.headers.get('content-length');
  const length = declared === null ? Number.NaN : Number(declared);
  if (!(length > 0)) {
    const bytes = await (await hubFetch(url, { method: 'GET' }, access)).arrayBuffer();
    return { byteLength: bytes.byteLength, slice: (start, end) => bytes.slice(start, end) };
  }
  let whole: Promise<ArrayBuffer> | undefined;
  return {
    byteLength: length,
    async slice(start: number, end?: number): Promise<ArrayBuffer> {
      if (whole) return (await whole).slice(start, end);
      const range = `bytes=${start}-${(end ?? length) - 1}`;
      const response = await hubFetch(url, { method: 'GET', headers: { Range: range } }, access);
      if (response.status === 206) return response.arrayBuffer();
      whole = response.arrayBuffer();
      return (await whole).slice(start, end);
    },
  };
}

async function hubFetch(url: string, init: RequestInit, access: HubAccess): Promise<Response> {
  const fetchImpl = access.fetch ?? globalThis.fetch;
  const headers = new Headers(init.headers);
  if (access.accessToken) headers.set('Authorization', `Bearer ${access.accessToken}`);
  let response: Response;
  try {
    response = await fetchImpl(url, { ...init, headers, signal: access.signal });
  } catch (error) {
    if (access.signal?.aborted) throw new DataError('DATA_CANCELLED', `Request for ${url} was cancelled.`, { url });
    throw new DataError('HUB_REQUEST_FAILED', `Could not reach ${url}: ${error instanceof Error ? error.message : String(error)}. Check the network or the endpoint setting.`, { url });
  }
  if (!response.ok) {
    const hint =
      response.status === 401 || response.status === 403
        ? ' The data set may be gated or private: accept its terms on the Hub and give an access token.'
        : response.status === 404
          ? ' Check the data set id, config and split.'
          : '';
    throw new DataError('HUB_REQUEST_FAILED', `${init.method ?? 'GET'} ${url} answered ${response.status} ${response.statusText}.${hint}`, {
      url,
      status: response.status,
    });
  }
  return response;
}

function endpointOf(ref: HubDatasetRef): string {
  return (ref.endpoint ?? HUB_ENDPOINT).replace(/\/+$/, '');
}

function encodeRepo(repo: string): string {
  const parts = repo.split('/');
  if (parts.length > 2 || parts.some((part) => part === '')) {
    throw new DataError('DATA_BAD_MAPPING', `A Hub data set id is "name" or "owner/name", got "${repo}".`, { repo });
  }
  return parts.map(encodeURIComponent).join('/');
}
