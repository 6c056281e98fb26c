/**
 * Tokenizing one part (train or validation) of a task, through the tokenization cache when the caller
 * gives storage. The cache key is the source's content hash plus `preparation`: everything that decides
 * which examples this part holds (mapping, bad-row policy, split and cap, which part), so a change to
 * any of them misses. Importing and mapping still run on a hit, since the validation prompts and the
 * reports are built from the examples; the cache saves the tokenization, which is the slow step.
 */
import type { Example } from '../../data/index.ts';
import {
  loadOrTokenizeTask,
  taskStatistics,
  tokenizeTask,
  type CacheOutcome,
  type ExampleTokenization,
  type TaskTokenStatistics,
  type TokenizedTask,
  type TokenizeOptions,
} from '../../data/tokenize/index.ts';
import type { TextTokenizer } from '../../model/tokenizer.ts';
import type { Json, Storage } from '../../store/storage.ts';

export interface PartCache {
  readonly storage: Storage;
  /** tokenizerIdentity() of the model's tokenizer files. */
  readonly tokenizerIdentity: string;
  /** fingerprint() of the source the examples came from. */
  readonly source: string;
  readonly preparation: Json;
}

export interface CacheReport {
  readonly outcome: CacheOutcome;
  /** The item's key in the "datasets" store. */
  readonly key: string;
  /** Why a stored item was refused and rebuilt. */
  readonly refused?: string;
  /** Why the result could not be stored; the result itself is good. */
  readonly notStored?: string;
}

export interface TokenizedPart {
  readonly task: TokenizedTask;
  readonly statistics: TaskTokenStatistics;
  /** Present when the cache was used. */
  readonly cache?: CacheReport;
}

export interface TokenizePartContext {
  /** Names the task and file in every message: `fpb (fpb/Sentences_50Agree.txt)`. */
  readonly label: string;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: { done: number; total: number }) => void;
  /** Examples already tokenized with the same options, reused on a miss (tokenizeTask's context). */
  readonly tokenizations?: Map<Example, ExampleTokenization>;
}

export async function tokenizePart(
  examples: readonly Example[],
  tokenizer: TextTokenizer,
  options: TokenizeOptions,
  context: TokenizePartContext,
  cache?: PartCache,
): Promise<TokenizedPart> {
  const taskContext = { task: context.label, signal: context.signal, onProgress: context.onProgress, ...(context.tokenizations ? { tokenizations: context.tokenizations } : {}) };
  if (!cache) {
    const task = await tokenizeTask(examples, tokenizer, options, taskContext);
    return { task, statistics: taskStatistics(task) };
  }
  const cached = await loadOrTokenizeTask({
    ...taskContext,
    storage: cache.storage,
    tokenizer,
    key: { source: cache.source, preparation: cache.preparation, tokenizer: cache.tokenizerIdentity, options },
    examples: () => examples,
  });
  if (cached.outcome === 'hit') context.onProgress?.({ done: examples.length, total: examples.length });
  return {
    task: cached.task,
    statistics: cached.statistics,
    cache: {
      outcome: cached.outcome,
      key: cached.key,
      ...(cached.refused === undefined ? {} : { refused: cached.refused }),
      ...(cached.notStored === undefined ? {} : { notStored: cached.notStored }),
    },
  };
}
