/**
 * Parsed rows of a task file, cached in the "datasets" store by the file's content hash and the
 * import options, with the import's problem log: a reload (or a second run of the same recipe) reads
 * them back instead of parsing the file again. Text formats only — their values are JSON already;
 * Parquet values (64-bit integers, typed arrays) are not, and Parquet reads fast anyway.
 */
import type { TextSplitting } from '../../data/import/text.ts';
import type { FileFormat, ImportInfo, RawRow } from '../../data/import/types.ts';
import { ProblemLog, type ProblemLogState } from '../../data/validate.ts';
import { sha256Hex } from '../../data/tokenize/index.ts';
import type { Json, Storage } from '../../store/storage.ts';

export const ROW_CACHE_VERSION = 1;

/**
 * Files larger than this are parsed again rather than cached: a cached parse is one JSON text of every
 * row, which for a 50 MB file held about two more copies of it in memory at once (the text and its
 * bytes), while parsing it again takes seconds and the tokenization cache still saves the slow step.
 */
export const ROW_CACHE_MAX_BYTES = 16 * 2 ** 20;

interface CachedRowsMeta {
  [key: string]: Json;
  version: number;
  info: Json;
  problems: Json;
}

export interface ParsedFile {
  rows: RawRow[];
  info: ImportInfo;
  problems: ProblemLog;
}

export interface RowCacheOptions {
  fileName: string;
  delimiter?: string;
  header?: boolean;
  format?: FileFormat;
  splitting?: TextSplitting;
}

export async function rowCacheKey(contentHash: string, options: RowCacheOptions): Promise<string> {
  // The format and splitting join the key only when given, so rows cached before they existed (read
  // with the format detected) are still found by a task that does not give them.
  const readAs = options.format === undefined && options.splitting === undefined ? [] : [options.format ?? null, options.splitting ?? null];
  return `rows/${await sha256Hex(JSON.stringify([ROW_CACHE_VERSION, contentHash, options.fileName, options.delimiter ?? null, options.header ?? null, ...readAs]))}`;
}

/** The cached parse, or undefined (a missing, older or unreadable item is treated as a miss). */
export async function readCachedRows(storage: Storage, key: string): Promise<ParsedFile | undefined> {
  const meta = (await storage.getInfo<CachedRowsMeta>('datasets', key))?.meta;
  if (!meta || meta.version !== ROW_CACHE_VERSION) return undefined;
  const bytes = await storage.getBytes('datasets', key);
  if (!bytes) return undefined;
  try {
    const rows = JSON.parse(new TextDecoder().decode(bytes)) as RawRow[];
    return { rows, info: meta.info as unknown as ImportInfo, problems: ProblemLog.fromJSON(meta.problems as unknown as ProblemLogState) };
  } catch {
    return undefined;
  }
}

export async function writeCachedRows(storage: Storage, key: string, parsed: ParsedFile): Promise<void> {
  if (parsed.info.format === 'parquet') return;
  const meta: CachedRowsMeta = { version: ROW_CACHE_VERSION, info: parsed.info as unknown as Json, problems: parsed.problems.toJSON() as unknown as Json };
  await storage.put('datasets', key, meta, new TextEncoder().encode(JSON.stringify(parsed.rows)));
}
