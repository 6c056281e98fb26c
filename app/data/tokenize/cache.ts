/**
 * Tokenized tasks kept in the "datasets" store, so a reload neither re-imports nor re-tokenizes. The
 * key is the SHA-256 of everything the arrays depend on: the source file's content hash, how its rows
 * became examples (mapping, bad-row policy, split: the caller's JSON), the tokenizer's identity, and
 * the resolved tokenization options (template included), plus TOKENIZATION_VERSION, raised whenever
 * this folder's output changes for the same inputs. Packing is not in the key: it is cheap and
 * deterministic, so it runs on the cached examples.
 *
 * An item is JSON meta (the key's parts, the report, statistics, and the SHA-256 of the bytes) plus the
 * arrays in binary-format.ts. A hit is trusted only after the bytes match their checksum and decode
 * cleanly; a damaged item is deleted and rebuilt, and the result says why.
 */
import type { TextTokenizer } from '../../model/tokenizer.ts';
import { CocktailError } from '../../errors.ts';
import type { Json, Storage } from '../../store/storage.ts';
import type { Example } from '../example.ts';
import { decodeTokenizedExamples, encodeTokenizedExamples } from './binary-format.ts';
import { TokenizeError } from './errors.ts';
import { canonicalJson, sha256Hex } from './hash.ts';
import { resolveTokenizeOptions, type ResolvedTokenizeOptions, type TokenizeOptions } from './options.ts';
import { taskStatistics, type TaskTokenStatistics } from './statistics.ts';
import { tokenizeTask, type TokenizedTask, type TokenizeReport, type TokenizeTaskContext } from './tokenize-task.ts';

/** Raise when tokenization gives different arrays for the same inputs, so old cache items miss. */
export const TOKENIZATION_VERSION = 1;
export const TOKENIZED_KEY_PREFIX = 'tokenized/';
const STORE = 'datasets';
const META_KIND = 'tokenized-task';

export interface TokenizationCacheKey {
  /** contentHash() of the source file's bytes. */
  readonly source: string;
  /** How the file's rows became these examples (format mapping, bad-row policy, split, de-duplication), as JSON. */
  readonly preparation: Json;
  /** tokenizerIdentity() of the model's tokenizer files. */
  readonly tokenizer: string;
  readonly options: TokenizeOptions;
}

export type CacheOutcome = 'hit' | 'miss' | 'rebuilt';

export interface CachedTokenizedTask {
  readonly task: TokenizedTask;
  readonly statistics: TaskTokenStatistics;
  /** The storage key in the "datasets" store. */
  readonly key: string;
  readonly outcome: CacheOutcome;
  /** Why a stored item was refused (outcome "rebuilt"). */
  readonly refused?: string;
  /** Why the result could not be stored (storage full, ...); the result itself is good. */
  readonly notStored?: string;
}

export interface LoadOrTokenizeRequest extends TokenizeTaskContext {
  readonly storage: Storage;
  readonly key: TokenizationCacheKey;
  readonly tokenizer: TextTokenizer;
  /** Called only on a miss, so a hit skips importing and mapping the file too. */
  readonly examples: () => readonly Example[] | Promise<readonly Example[]>;
}

export async function tokenizationCacheKey(key: TokenizationCacheKey): Promise<string> {
  return TOKENIZED_KEY_PREFIX + (await sha256Hex(canonicalJson(keyJson(key, resolveTokenizeOptions(key.options)))));
}

export async function loadOrTokenizeTask(request: LoadOrTokenizeRequest): Promise<CachedTokenizedTask> {
  const { storage, key, tokenizer } = request;
  const options = resolveTokenizeOptions(key.options);
  const storageKey = await tokenizationCacheKey(key);
  let refused: string | undefined;
  try {
    const cached = await readCached(storage, storageKey, options, tokenizer.vocabSize, request.task);
    if (cached) return { task: cached, statistics: taskStatistics(cached), key: storageKey, outcome: 'hit' };
  } catch (error) {
    if (!isRefusal(error)) throw error;
    refused = error.message;
    await storage.delete(STORE, storageKey).catch(() => false);
  }

  const task = await tokenizeTask(await request.examples(), tokenizer, options, request);
  const statistics = taskStatistics(task);
  const bytes = encodeTokenizedExamples(task.examples);
  const meta: Json = {
    kind: META_KIND,
    version: TOKENIZATION_VERSION,
    task: task.task,
    ...keyJson(key, options),
    report: reportToJson(task.report),
    statistics: { ...statistics },
    sha256: await sha256Hex(bytes),
  };
  let notStored: string | undefined;
  try {
    await storage.put(STORE, storageKey, meta, bytes);
  } catch (error) {
    notStored = error instanceof Error ? error.message : String(error);
  }
  return {
    task,
    statistics,
    key: storageKey,
    outcome: refused === undefined ? 'miss' : 'rebuilt',
    ...(refused === undefined ? {} : { refused }),
    ...(notStored === undefined ? {} : { notStored }),
  };
}

async function readCached(storage: Storage, key: string, options: ResolvedTokenizeOptions, vocabSize: number, taskName: string): Promise<TokenizedTask | undefined> {
  const info = await storage.getInfo<Json>(STORE, key);
  if (!info) return undefined;
  const meta = info.meta as { kind?: unknown; version?: unknown; sha256?: unknown; report?: unknown } | null;
  if (meta?.kind !== META_KIND || meta.version !== TOKENIZATION_VERSION || typeof meta.sha256 !== 'string') refuse(`${key}: the item is not a tokenized task of version ${TOKENIZATION_VERSION}`);
  const bytes = await storage.getBytes(STORE, key);
  if (!bytes) refuse(`${key}: the item has no arrays`);
  if ((await sha256Hex(bytes)) !== meta.sha256) refuse(`${key}: the arrays do not match their checksum`);
  const examples = decodeTokenizedExamples(bytes, vocabSize);
  const report = reportFromJson(meta.report, taskName);
  if (report.examples !== examples.length) refuse(`${key}: the report counts ${report.examples} examples, the arrays hold ${examples.length}`);
  return { task: taskName, options, examples, report };
}

function keyJson(key: TokenizationCacheKey, options: ResolvedTokenizeOptions): { [name: string]: Json } {
  return {
    version: TOKENIZATION_VERSION,
    source: key.source,
    preparation: key.preparation,
    tokenizer: key.tokenizer,
    options: { ...options, template: { ...options.template } },
  };
}

function reportToJson(report: TokenizeReport): Json {
  return { ...report, untrained: { ...report.untrained, rows: [...report.untrained.rows] }, overlong: { ...report.overlong, rows: [...report.overlong.rows] }, droppedLengths: [...report.droppedLengths] };
}

/** Items stored before "droppedLengths" existed: their dropped examples' lengths are unknown. */
function droppedLengthsFromJson(value: unknown): number[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every(isCount)) refuse('the stored report is malformed');
  return value as number[];
}

/** Items stored before "overlong" existed dropped nothing for length. */
function overlongFromJson(value: unknown): TokenizeReport['overlong'] {
  if (value === undefined) return { count: 0, rows: [] };
  const overlong = value as { count?: unknown; rows?: unknown };
  if (!isCount(overlong.count) || !Array.isArray(overlong.rows) || !overlong.rows.every(isCount)) refuse('the stored report is malformed');
  return { count: overlong.count as number, rows: overlong.rows as number[] };
}

function reportFromJson(value: unknown, task: string): TokenizeReport {
  const report = value as Partial<Record<keyof TokenizeReport, unknown>> | null;
  const untrained = report?.untrained as Partial<Record<keyof TokenizeReport['untrained'], unknown>> | undefined;
  const counts = [report?.examplesIn, report?.examples, report?.truncatedExamples, report?.droppedTokens, report?.droppedTrainedTokens, untrained?.count, untrained?.byTruncation];
  if (!counts.every(isCount) || !Array.isArray(untrained?.rows) || !untrained.rows.every(isCount)) refuse('the stored report is malformed');
  const [examplesIn, examples, truncatedExamples, droppedTokens, droppedTrainedTokens, count, byTruncation] = counts as number[];
  return {
    task,
    examplesIn: examplesIn!,
    examples: examples!,
    truncatedExamples: truncatedExamples!,
    droppedTokens: droppedTokens!,
    droppedTrainedTokens: droppedTrainedTokens!,
    untrained: { count: count!, byTruncation: byTruncation!, rows: untrained.rows as number[] },
    overlong: overlongFromJson(report?.overlong),
    droppedLengths: droppedLengthsFromJson(report?.droppedLengths),
  };
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function refuse(why: string): never {
  throw new TokenizeError('TOKENIZE_CACHE_CORRUPT', `Cached tokenized task refused: ${why}`, { why });
}

/** Damage the cache recovers from by tokenizing again: our own checks, and a storage item that cannot be read back. */
function isRefusal(error: unknown): error is CocktailError {
  return error instanceof CocktailError && (error.code === 'TOKENIZE_CACHE_CORRUPT' || error.code === 'STORAGE_CORRUPT');
}
