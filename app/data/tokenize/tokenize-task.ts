/**
 * A task's examples to tokenized examples, with a report of what truncation cut and which examples
 * were left with nothing to learn from. Those are dropped (a sequence without a trained token adds
 * compute and no gradient) and listed by row, so the user can raise maxLength or change the side.
 * Pre-tokenized rows that do not fit the tokenizer are reported together in one error.
 */
import type { TextTokenizer } from '../../model/tokenizer.ts';
import type { Example } from '../example.ts';
import { DataError } from '../errors.ts';
import { TokenizeError } from './errors.ts';
import { createExampleTokenizer, type ExampleTokenization } from './example-tokenizer.ts';
import type { ResolvedTokenizeOptions, TokenizeOptions } from './options.ts';
import { trainedCount } from './truncate.ts';
import type { TokenizedExample } from './types.ts';

/** At most this many rows are listed in a report; counts are always exact. */
export const MAX_LISTED_ROWS = 100;
/** At most this many bad pre-tokenized rows are spelled out in the error. */
const MAX_LISTED_PROBLEMS = 10;
/** Examples between progress reports, and between yields to the event loop (so a worker sees Cancel). */
const PROGRESS_EVERY = 256;

export interface TokenizeReport {
  readonly task: string;
  /** Examples given. */
  readonly examplesIn: number;
  /** Examples kept: those with at least one trained token. */
  readonly examples: number;
  readonly truncatedExamples: number;
  /** Tokens cut off by truncation, over all examples (dropped ones included). */
  readonly droppedTokens: number;
  readonly droppedTrainedTokens: number;
  /** Examples with no trained token, which were dropped; byTruncation of them had some before the cut. */
  readonly untrained: { readonly count: number; readonly byTruncation: number; readonly rows: readonly number[] };
  /** With overlong "drop": examples longer than maxLength, left out whole (not counted as truncated). */
  readonly overlong: { readonly count: number; readonly rows: readonly number[] };
  /**
   * The length before the cut (in tokens) of every example dropped for length (overlong, or left with no
   * trained token by the cut): kept examples carry theirs as truncatedTokens, and the audit counts both.
   */
  readonly droppedLengths: readonly number[];
}

export interface TokenizedTask {
  readonly task: string;
  readonly options: ResolvedTokenizeOptions;
  readonly examples: readonly TokenizedExample[];
  readonly report: TokenizeReport;
}

export interface TokenizeTaskContext {
  /** The task's name or file, used in every message. */
  readonly task: string;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: { done: number; total: number }) => void;
  /**
   * Examples tokenized before with the same options (a run's evaluation-sample draw tokenizes its
   * candidates, then the sample again as the validation part): their results are reused, not made
   * again, and this call's results are added.
   */
  readonly tokenizations?: Map<Example, ExampleTokenization>;
}

export async function tokenizeTask(examples: readonly Example[], tokenizer: TextTokenizer, options: TokenizeOptions, context: TokenizeTaskContext): Promise<TokenizedTask> {
  const { task, signal, onProgress } = context;
  const exampleTokenizer = createExampleTokenizer(tokenizer, options, task);
  const kept: TokenizedExample[] = [];
  const untrainedRows: number[] = [];
  const badTokens: string[] = [];
  let badTokenCount = 0;
  let truncatedExamples = 0;
  let droppedTokens = 0;
  let droppedTrainedTokens = 0;
  let untrained = 0;
  let untrainedByTruncation = 0;
  const overlongRows: number[] = [];
  let overlong = 0;
  const droppedLengths: number[] = [];

  for (const [index, example] of examples.entries()) {
    if (index % PROGRESS_EVERY === 0) {
      if (index > 0) await yieldToEventLoop();
      throwIfCancelled(signal, task);
      onProgress?.({ done: index, total: examples.length });
    }
    let result;
    try {
      result = context.tokenizations?.get(example) ?? exampleTokenizer.tokenize(example);
      context.tokenizations?.set(example, result);
    } catch (error) {
      if (!(error instanceof TokenizeError && error.code === 'TOKENIZE_BAD_TOKENS')) throw error;
      badTokenCount++;
      if (badTokens.length < MAX_LISTED_PROBLEMS) badTokens.push(error.message);
      continue;
    }
    if (result.droppedTokens > 0 && exampleTokenizer.options.overlong === 'drop') {
      overlong++;
      if (overlongRows.length < MAX_LISTED_ROWS) overlongRows.push(example.source.row);
      droppedLengths.push(result.example.inputIds.length + result.droppedTokens);
      continue;
    }
    if (result.droppedTokens > 0) truncatedExamples++;
    droppedTokens += result.droppedTokens;
    droppedTrainedTokens += result.droppedTrainedTokens;
    if (trainedCount(result.example.labels) === 0) {
      untrained++;
      if (result.droppedTrainedTokens > 0) {
        untrainedByTruncation++;
        droppedLengths.push(result.example.inputIds.length + result.droppedTokens);
      }
      if (untrainedRows.length < MAX_LISTED_ROWS) untrainedRows.push(example.source.row);
      continue;
    }
    kept.push(result.example);
  }
  if (badTokenCount > 0) {
    const more = badTokenCount > badTokens.length ? `\n(and ${badTokenCount - badTokens.length} more)` : '';
    throw new TokenizeError('TOKENIZE_BAD_TOKENS', `${task}: ${badTokenCount} pre-tokenized row(s) do not fit this tokenizer:\n${badTokens.join('\n')}${more}`, {
      task,
      rows: badTokenCount,
    });
  }
  onProgress?.({ done: examples.length, total: examples.length });
  return {
    task,
    options: exampleTokenizer.options,
    examples: kept,
    report: {
      task,
      examplesIn: examples.length,
      examples: kept.length,
      truncatedExamples,
      droppedTokens,
      droppedTrainedTokens,
      untrained: { count: untrained, byTruncation: untrainedByTruncation, rows: untrainedRows },
      overlong: { count: overlong, rows: overlongRows },
      droppedLengths,
    },
  };
}

/** The report as text for people: what was cut, and which rows were dropped for having nothing to learn. */
export function formatTokenizeReport(report: TokenizeReport): string {
  const lines = [`${report.task}: ${report.examples} of ${report.examplesIn} example(s) tokenized.`];
  if (report.truncatedExamples > 0) {
    lines.push(`${report.truncatedExamples} example(s) were truncated: ${report.droppedTokens} token(s) cut, ${report.droppedTrainedTokens} of them trained.`);
  }
  if (report.untrained.count > 0) {
    const rows = report.untrained.rows.map((row) => `row ${row}`).join(', ');
    const more = report.untrained.count > report.untrained.rows.length ? ` and ${report.untrained.count - report.untrained.rows.length} more` : '';
    lines.push(
      `${report.untrained.count} example(s) had no trained token left and were dropped (${report.untrained.byTruncation} by truncation; raise maxLength or cut from the other side): ${rows}${more}.`,
    );
  }
  if (report.overlong.count > 0) {
    const rows = report.overlong.rows.map((row) => `row ${row}`).join(', ');
    const more = report.overlong.count > report.overlong.rows.length ? ` and ${report.overlong.count - report.overlong.rows.length} more` : '';
    lines.push(`${report.overlong.count} example(s) were longer than maxLength and were dropped whole: ${rows}${more}.`);
  }
  return lines.join('\n');
}

function throwIfCancelled(signal: AbortSignal | undefined, task: string): void {
  if (signal?.aborted) throw new DataError('DATA_CANCELLED', `Tokenization of ${task} was cancelled.`, { task });
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
