/**
 * A task's rows: its file (and validation file), opened through the caller's `openFile`, or its Hub
 * split (and validation split), read from the Parquet files the Hub keeps for every data set. Each
 * source keeps its own ProblemLog, named after the recipe path or the Hub split, so a problem points
 * at the file it is in.
 */
import { collectRows, hubSplitName, importFile, ProblemLog, readHubDatasetRows, readParquetShards, storedHubSplit, type FetchLike, type ImportInfo, type RawRow } from '../../data/index.ts';
import { contentHash, sha256Hex } from '../../data/tokenize/index.ts';
import type { Storage } from '../../store/storage.ts';
import type { RecipeTask } from '../recipe.ts';
import { readCachedRows, ROW_CACHE_MAX_BYTES, rowCacheKey, writeCachedRows, type RowCacheOptions } from './row-cache.ts';
import { describeTask, PrepareError } from './errors.ts';

export interface ImportedSource {
  /** The recipe path, or "owner/name (config/split)" for a Hub split: how every message names it. */
  readonly name: string;
  readonly rows: readonly RawRow[];
  readonly info: ImportInfo;
  readonly problems: ProblemLog;
  /** A hash of the source's content (and of how it was read), for the tokenization cache; computed only when asked for. */
  fingerprint(): Promise<string>;
  /** True when the rows came from the parsed-rows cache rather than from parsing the file. */
  readonly fromCache: boolean;
}

export interface TaskSources {
  readonly train: ImportedSource;
  /** The task's own validation file or split, when the recipe names one. */
  readonly validation?: ImportedSource;
}

export interface SourceAccess {
  openFile(path: string): Promise<Blob>;
  fetch?: FetchLike;
  hubEndpoint?: string;
  hubAccessToken?: string;
  signal?: AbortSignal;
  /** Bytes read so far over all of the task's sources, and the total known so far. */
  onProgress?(done: number, total: number): void;
  /** Where parsed files are cached (row-cache.ts); without it every preparation parses its files. */
  storage?: Storage;
}

export async function importTaskSources(task: RecipeTask, access: SourceAccess): Promise<TaskSources> {
  return 'file' in task.source ? importFiles(task, task.source, access) : importHubSplits(task, task.source, access);
}

type FileSource = Extract<RecipeTask['source'], { file: string }>;
type ReadOptions = Omit<RowCacheOptions, 'fileName'>;

/** How the recipe says its files are read (the importer detects whatever it leaves out). */
function readOptions(source: FileSource): ReadOptions {
  return {
    ...(source.file_format === undefined ? {} : { format: source.file_format }),
    ...(source.splitting === undefined ? {} : { splitting: source.splitting }),
    ...(source.delimiter === undefined ? {} : { delimiter: source.delimiter }),
    ...(source.header === undefined ? {} : { header: source.header }),
  };
}

/**
 * What the tokenization cache knows the rows by: the same bytes read another way (another format,
 * splitting, delimiter or header) are other rows, maybe under the same column mapping. A file read
 * as detected keeps its bare content hash.
 */
function rowsSourceFingerprint(hash: string, read: ReadOptions): string {
  return Object.keys(read).length === 0 ? hash : `${hash};read=${JSON.stringify(read)}`;
}

async function importFiles(task: RecipeTask, source: FileSource, access: SourceAccess): Promise<TaskSources> {
  const paths = source.validation_file === undefined ? [source.file] : [source.file, source.validation_file];
  // Open every file before reading any, so a wrong validation path fails at once, not after a long import.
  const blobs = await Promise.all(paths.map((path, index) => openTaskFile(task, path, index === 0 ? 'file' : 'validation_file', access)));
  const total = blobs.reduce((sum, blob) => sum + blob.size, 0);
  const read = readOptions(source);
  let before = 0;
  const imported: ImportedSource[] = [];
  for (const [index, blob] of blobs.entries()) {
    const name = paths[index]!;
    const hash = access.storage ? await contentHash(blob) : undefined;
    const key = hash && blob.size <= ROW_CACHE_MAX_BYTES ? await rowCacheKey(hash, { fileName: name, ...read }) : undefined;
    const cached = access.storage && key ? await readCachedRows(access.storage, key) : undefined;
    const parsed =
      cached ??
      (await importFile(blob, {
        fileName: name,
        ...read,
        signal: access.signal,
        onProgress: ({ bytesRead }) => access.onProgress?.(before + bytesRead, total),
      }));
    if (!cached && access.storage && key) await writeCachedRows(access.storage, key, parsed);
    before += blob.size;
    access.onProgress?.(before, total);
    imported.push({ name, rows: parsed.rows, info: parsed.info, problems: parsed.problems, fingerprint: async () => rowsSourceFingerprint(hash ?? (await contentHash(blob)), read), fromCache: cached !== undefined });
  }
  return imported[1] === undefined ? { train: imported[0]! } : { train: imported[0]!, validation: imported[1] };
}

async function openTaskFile(task: RecipeTask, path: string, field: string, access: SourceAccess): Promise<Blob> {
  try {
    return await access.openFile(path);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new PrepareError('PREPARE_FILE_NOT_FOUND', `${describeTask(task.name)}: cannot open its ${field} ${JSON.stringify(path)} (${reason})`, {
      task: task.name,
      file: path,
      field: `source.${field}`,
    });
  }
}

async function importHubSplits(task: RecipeTask, source: Extract<RecipeTask['source'], { hub: string }>, access: SourceAccess): Promise<TaskSources> {
  const { config, split: mainSplit } = source;
  const splits = source.validation_split === undefined ? [mainSplit] : [mainSplit, source.validation_split];
  let before = 0;
  let knownTotal = 0;
  const imported: ImportedSource[] = [];
  for (const split of splits) {
    const ref = { repo: source.hub, config, split, ...(access.hubEndpoint === undefined ? {} : { endpoint: access.hubEndpoint }) };
    const name = hubSplitName(ref);
    const problems = new ProblemLog(name);
    let splitBytes = 0;
    const onProgress = (bytesRead: number, totalBytes: number) => {
      splitBytes = totalBytes;
      access.onProgress?.(before + bytesRead, knownTotal + splitBytes);
    };
    const hubAccess = {
      signal: access.signal,
      ...(access.fetch === undefined ? {} : { fetch: access.fetch }),
      ...(access.hubAccessToken === undefined ? {} : { accessToken: access.hubAccessToken }),
    };
    // With storage, the split is downloaded once and read from there (offline too); without, it is
    // read over HTTP by range requests.
    const rowsOfSplit = access.storage
      ? readParquetShards(await storedHubSplit(ref, { ...hubAccess, storage: access.storage, onProgress }), name, { problems, signal: access.signal })
      : readHubDatasetRows(ref, { ...hubAccess, problems, onProgress: ({ bytesRead, totalBytes }) => onProgress(bytesRead, totalBytes ?? bytesRead) });
    const { rows, info } = await collectRows(rowsOfSplit);
    before += info.bytes;
    knownTotal += info.bytes;
    imported.push({ name, rows, info, problems, fingerprint: () => rowsFingerprint(rows), fromCache: false });
  }
  return imported[1] === undefined ? { train: imported[0]! } : { train: imported[0]!, validation: imported[1] };
}

const ROWS_PER_DIGEST = 4096;

/**
 * The Hub's Parquet files are not addressed by content (refs/convert/parquet moves when the data set
 * changes), so a Hub split is fingerprinted by the rows it gave: the SHA-256 of the SHA-256s of
 * chunks of rows, so that no single string holds the whole data set.
 */
async function rowsFingerprint(rows: readonly RawRow[]): Promise<string> {
  const digests: string[] = [];
  for (let start = 0; start < rows.length; start += ROWS_PER_DIGEST) {
    const chunk = rows.slice(start, start + ROWS_PER_DIGEST).map((row) => row.values);
    digests.push(await sha256Hex(JSON.stringify(chunk, jsonSafe)));
  }
  return `rows-sha256:${await sha256Hex(digests.join(','))}`;
}

/** Parquet values JSON cannot hold as they are: 64-bit integers and typed arrays. */
function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return `${value}n`;
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return Array.from(value as unknown as ArrayLike<number | bigint>, (item) => (typeof item === 'bigint' ? `${item}n` : item));
  return value;
}
