/**
 * Numbers per task for the mixture preview and the data page: how many examples and tokens, how many
 * of those carry loss, how long examples are, and what truncation did. meanTokensPerExample is what
 * app/mix previewMix takes to turn expected examples into expected tokens.
 */
import type { PackedSequence } from './pack.ts';
import type { TokenizedTask } from './tokenize-task.ts';
import { trainedCount } from './truncate.ts';

export interface TaskTokenStatistics {
  readonly task: string;
  readonly examples: number;
  readonly tokens: number;
  readonly trainedTokens: number;
  /** 0 for a task with no examples. */
  readonly meanTokensPerExample: number;
  readonly meanTrainedTokensPerExample: number;
  readonly minTokens: number;
  readonly maxTokens: number;
  readonly truncatedExamples: number;
  readonly droppedTokens: number;
  /** Examples dropped for having no trained token (see TokenizeReport.untrained). */
  readonly untrainedExamples: number;
}

export function taskStatistics(task: TokenizedTask): TaskTokenStatistics {
  let tokens = 0;
  let trainedTokens = 0;
  let minTokens = task.examples.length > 0 ? Number.POSITIVE_INFINITY : 0;
  let maxTokens = 0;
  for (const example of task.examples) {
    const length = example.inputIds.length;
    tokens += length;
    trainedTokens += trainedCount(example.labels);
    minTokens = Math.min(minTokens, length);
    maxTokens = Math.max(maxTokens, length);
  }
  const examples = task.examples.length;
  return {
    task: task.task,
    examples,
    tokens,
    trainedTokens,
    meanTokensPerExample: examples > 0 ? tokens / examples : 0,
    meanTrainedTokensPerExample: examples > 0 ? trainedTokens / examples : 0,
    minTokens,
    maxTokens,
    truncatedExamples: task.report.truncatedExamples,
    droppedTokens: task.report.droppedTokens,
    untrainedExamples: task.report.untrained.count,
  };
}

export interface PackingStatistics {
  readonly sequences: number;
  readonly tokens: number;
  readonly meanExamplesPerSequence: number;
  /** Tokens over sequences × maxLength: the share of a padded batch that is not padding. */
  readonly fill: number;
}

export function packingStatistics(sequences: readonly PackedSequence[], maxLength: number): PackingStatistics {
  const tokens = sequences.reduce((sum, sequence) => sum + sequence.inputIds.length, 0);
  const members = sequences.reduce((sum, sequence) => sum + sequence.members.length, 0);
  return {
    sequences: sequences.length,
    tokens,
    meanExamplesPerSequence: sequences.length > 0 ? members / sequences.length : 0,
    fill: sequences.length > 0 ? tokens / (sequences.length * maxLength) : 0,
  };
}
