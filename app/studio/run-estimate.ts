/**
 * What a run will cost, shown before Start: examples and tokens from the recipe and the mixture
 * preview, and a time from a throughput measured on this machine. A figure nothing supports is not
 * guessed: without the tasks' token counts only the upper bound (every example max_length long) is
 * given, and without a measured rate no time.
 */
import type { MixturePreviewResult } from './mixture-preview.ts';

export interface RunEstimate {
  optimizerSteps: number;
  /** Examples the run trains on: steps × batch_size × grad_accum. */
  examples: number;
  /** Every example max_length tokens long: what the run cannot exceed. */
  maxTokens: number;
  /** Expected tokens from each task's mean example length; null until every task has been counted. */
  tokens: number | null;
  /** Seconds at the measured rate, for `tokens` (or maxTokens when tokens is unknown); null without a rate. */
  seconds: number | null;
  /** True when `seconds` is for maxTokens: an upper bound, not an expectation. */
  secondsIsUpperBound: boolean;
}

export function estimateRun(
  recipe: { batch_size: number; grad_accum: number; max_length: number },
  preview: Extract<MixturePreviewResult, { status: 'ready' }>,
  tokensPerSecond: number | undefined,
): RunEstimate {
  const examples = preview.optimizerSteps * recipe.batch_size * recipe.grad_accum;
  const maxTokens = examples * recipe.max_length;
  const perTask = preview.tasks.map((task) => task.expectedTokens);
  const tokens = perTask.every((value): value is number => value !== null) ? perTask.reduce((sum, value) => sum + value, 0) : null;
  const rate = tokensPerSecond !== undefined && Number.isFinite(tokensPerSecond) && tokensPerSecond > 0 ? tokensPerSecond : undefined;
  return {
    optimizerSteps: preview.optimizerSteps,
    examples,
    maxTokens,
    tokens,
    seconds: rate === undefined ? null : (tokens ?? maxTokens) / rate,
    secondsIsUpperBound: tokens === null,
  };
}

/** The median tokens per second of a run's steps (skipped steps and the first, which compiles pipelines, left out). */
export function measuredRate(points: readonly { step: number; tokensPerSecond: number | null; skipped: boolean }[]): number | undefined {
  const rates = points
    .filter((point) => point.step > 1 && !point.skipped && point.tokensPerSecond !== null && Number.isFinite(point.tokensPerSecond) && point.tokensPerSecond > 0)
    .map((point) => point.tokensPerSecond!)
    .sort((a, b) => a - b);
  if (rates.length === 0) return undefined;
  const middle = Math.floor(rates.length / 2);
  return rates.length % 2 === 1 ? rates[middle] : (rates[middle - 1]! + rates[middle]!) / 2;
}
