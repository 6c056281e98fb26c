import { describe, expect, it } from 'vitest';
import type { RecipeTask } from '../train/recipe.ts';
import { mixturePreview, type TaskSize } from './mixture-preview.ts';
import { DEFAULT_RECIPE } from './presets.ts';
import { estimateRun, measuredRate } from './run-estimate.ts';

const task = (name: string): RecipeTask => ({ name, source: { file: `${name}.csv` }, format: 'classification', role: 'task', validation_fraction: 0.1 });
const recipe = { ...DEFAULT_RECIPE, tasks: [task('a'), task('b')], mixture: { ...DEFAULT_RECIPE.mixture, strategy: 'proportional' as const }, steps: 20, batch_size: 4, grad_accum: 2, max_length: 128 };
const sizes = (meanTokens: [number | null, number | null]): TaskSize[] => [
  { name: 'a', role: 'task', examples: 300, basis: 'stats', meanTokens: meanTokens[0] },
  { name: 'b', role: 'task', examples: 100, basis: 'stats', meanTokens: meanTokens[1] },
];
const ready = (meanTokens: [number | null, number | null]) => {
  const result = mixturePreview(recipe, sizes(meanTokens));
  if (result.status !== 'ready') throw new Error('expected a preview');
  return result;
};

describe('run estimate before Start', () => {
  it('counts examples and tokens: proportional 3:1 over 20 × 4 × 2 = 160 examples, 40 and 10 tokens a mean example', () => {
    const estimate = estimateRun(recipe, ready([40, 10]), 500);
    expect(estimate).toMatchObject({ optimizerSteps: 20, examples: 160, maxTokens: 160 * 128, secondsIsUpperBound: false });
    // 160 · (0.75 · 40 + 0.25 · 10) = 5200 tokens, at 500 tokens/s.
    expect(estimate.tokens).toBeCloseTo(5200, 9);
    expect(estimate.seconds).toBeCloseTo(10.4, 9);
  });

  it('gives only the upper bound of tokens, and a time for it, while a task is not counted; no time without a rate', () => {
    const estimate = estimateRun(recipe, ready([40, null]), 1024);
    expect(estimate.tokens).toBeNull();
    expect(estimate.secondsIsUpperBound).toBe(true);
    expect(estimate.seconds).toBe(20);
    expect(estimateRun(recipe, ready([40, 10]), undefined).seconds).toBeNull();
    expect(estimateRun(recipe, ready([40, 10]), 0).seconds).toBeNull();
  });

  it('takes the median rate of a run’s steps, without the first (pipelines compile) or skipped steps', () => {
    const point = (step: number, tokensPerSecond: number | null, skipped = false) => ({ step, tokensPerSecond, skipped });
    expect(measuredRate([point(1, 5), point(2, 100), point(3, 300), point(4, 200), point(5, 9999, true), point(6, null)])).toBe(200);
    expect(measuredRate([point(2, 100), point(3, 300)])).toBe(200);
    expect(measuredRate([point(1, 100)])).toBeUndefined();
  });
});
