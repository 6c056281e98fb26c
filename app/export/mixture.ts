/**
 * The recipe's mixture as fixed probabilities, for a target that mixes data sets itself
 * (LLaMA-Factory's interleave_probs, datasets.interleave_datasets in the TRL script). Exact for
 * strategies whose probabilities never change (proportional, uniform, temperature, manual); for the
 * others the run's mean share stands in, and the note says to use premixed mode for the real order.
 */
import { MixSampler } from '../mix/sampler.ts';
import { drawRun } from '../mix/run-draws.ts';
import type { MixConfig } from '../mix/types.ts';
import type { Recipe } from '../train/recipe.ts';

const FIXED_STRATEGIES: readonly Recipe['mixture']['strategy'][] = ['proportional', 'uniform', 'temperature', 'manual'];

export interface FixedMixture {
  probabilities: number[];
  /** True when the recipe's strategy is exactly these probabilities at every step. */
  exact: boolean;
  note?: string;
}

export function fixedMixture(recipe: Recipe, config: MixConfig): FixedMixture {
  const strategy = recipe.mixture.strategy;
  if (FIXED_STRATEGIES.includes(strategy)) {
    const perBatch = recipe.mixture.per === 'batch';
    return {
      probabilities: MixSampler.create(config).probabilities(),
      exact: !perBatch,
      ...(perBatch ? { note: 'mixture.per "batch" (every micro-batch from one task) has no counterpart in a target\'s own mixing, which draws per example; use --mode premixed' } : {}),
    };
  }
  const { probabilities } = drawRun(config);
  const mean = probabilities[0]!.map((_, task) => probabilities.reduce((sum, step) => sum + step[task]!, 0) / probabilities.length);
  return {
    probabilities: mean,
    exact: false,
    note: `the ${strategy} strategy changes or orders its draws over the run, which fixed probabilities cannot say; these are each task's mean share over the run; use --mode premixed for the exact order`,
  };
}
