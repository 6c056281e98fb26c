import { describe, expect, it } from 'vitest';
import { parseRecipe } from '../train/recipe.ts';
import { validateExperiment, type ExperimentSpec } from './design.ts';
import { estimatedSeconds, experimentSize, LONG_EXPERIMENT_SECONDS, longExperimentWarning } from './estimate.ts';

const spec = (steps: number): ExperimentSpec => ({
  recipe: parseRecipe({
    model: { source: 'aidreams260K' },
    tasks: ['fpb', 'tweets', 'alpaca'].map((name) => ({ name, source: { file: `${name}.csv` }, format: 'classification' })),
    batch_size: 4,
    grad_accum: 2,
    max_length: 128,
    steps,
  }),
  targets: ['fpb'],
  designs: ['single', 'pairs'],
  seeds: 3,
  budget: 'steps',
});

describe('the experiment estimate', () => {
  it('counts arms, runs and steps: single (3 arms, one run per seed) and pairs (fpb+tweets, fpb+alpaca) over 3 seeds', () => {
    expect(experimentSize(spec(100))).toEqual({ arms: 5, runs: 9, steps: 1500, together: 3 });
  });

  it('bounds the time by full batches at the measured tokens per second', () => {
    // 1500 steps × 4 × 2 examples × 128 tokens = 1,536,000 tokens; at 1000 tokens/s, 1536 s.
    expect(estimatedSeconds(spec(100), 1000)).toBe(1536);
  });

  it('warns about a very long experiment and still accepts it', () => {
    const long = spec(100_000);
    const seconds = estimatedSeconds(long, 1000);
    expect(seconds).toBeGreaterThan(LONG_EXPERIMENT_SECONDS);
    expect(longExperimentWarning(seconds)).toBe('This is a long experiment: about 427 hours at the measured speed. It can run (pause and resume it at any time); fewer seeds, arms or steps would shorten it.');
    expect(() => validateExperiment(long)).not.toThrow();
    expect(longExperimentWarning(estimatedSeconds(spec(100), 1000))).toBeUndefined();
    expect(longExperimentWarning(LONG_EXPERIMENT_SECONDS)).toBeUndefined();
    expect(longExperimentWarning(LONG_EXPERIMENT_SECONDS + 3600, true)).toMatch(/about 25 hours more at the measured speed/);
  });
});
