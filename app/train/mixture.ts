/** The recipe's mixture section as app/mix's sampler configuration. */
import { CocktailError } from '../errors.ts';
import { DEFAULT_ADAPTIVE_OPTIONS, type AdaptiveOptions } from '../mix/adaptive.ts';
import type { MixConfig, MixPlan, MixStrategy, MixTask } from '../mix/types.ts';
import type { Recipe } from './recipe.ts';
import type { PreparedTask } from './task-data.ts';

export function mixStrategy(mixture: Recipe['mixture']): MixStrategy {
  // An adaptive mixture not yet parsed (the studio's preview) has no options: its base defaults to proportional.
  const strategy = mixture.strategy === 'adaptive' ? (mixture.adaptive?.base ?? 'proportional') : mixture.strategy;
  switch (strategy) {
    case 'proportional':
      return { kind: 'proportional', ...(mixture.cap ? { cap: mixture.cap } : {}) };
    case 'uniform':
      return { kind: 'uniform' };
    case 'temperature':
      return { kind: 'temperature', temperature: mixture.temperature!, ...(mixture.cap ? { cap: mixture.cap } : {}) };
    case 'annealed':
      return { kind: 'annealed' };
    case 'reverse_annealed':
      return { kind: 'reverse-annealed' };
    case 'round_robin':
      return { kind: 'round-robin' };
    case 'manual':
      return { kind: 'manual', weights: mixture.weights ?? {} };
    case 'sequential':
      return { kind: 'sequential' };
  }
}

/** The recipe's adaptive options in app/mix's terms; undefined when the strategy is not adaptive. */
export function mixAdaptive(mixture: Recipe['mixture']): AdaptiveOptions | undefined {
  if (mixture.strategy !== 'adaptive') return undefined;
  const adaptive = mixture.adaptive;
  const defaults = DEFAULT_ADAPTIVE_OPTIONS;
  return {
    riseThreshold: adaptive?.rise_threshold ?? defaults.riseThreshold,
    factor: adaptive?.factor ?? defaults.factor,
    rule: adaptive?.rule ?? defaults.rule,
    temperature: adaptive?.rule_temperature ?? defaults.temperature,
    minShare: adaptive?.min_share ?? defaults.minShare,
    maxShare: adaptive?.max_share ?? defaults.maxShare,
  };
}

/**
 * The sampler of a run: it draws `batch_size` examples per micro-batch, grad_accum micro-batches per
 * optimizer step. Per-task adapters need every micro-batch from one task, so they sample per batch.
 */
export function mixConfig(recipe: Recipe, tasks: readonly PreparedTask[], optimizerSteps: number): MixConfig {
  return { ...mixPlan(recipe, tasks.map((task) => ({ name: task.name, examples: task.train.length, role: task.role })), optimizerSteps), seed: recipe.seed };
}

/** mixConfig without the seed, from task sizes alone: what the studio previews before any data is prepared. */
export function mixPlan(recipe: Recipe, tasks: readonly MixTask[], optimizerSteps: number): MixPlan {
  if (recipe.lora.layout === 'per_task' && recipe.mixture.per !== 'batch') {
    throw new CocktailError('RECIPE_INVALID', 'lora.layout "per_task" routes each batch to its task\'s adapter: set mixture.per to "batch"', { field: 'mixture.per' });
  }
  return {
    tasks: tasks.map((task) => ({ ...task })),
    strategy: mixStrategy(recipe.mixture),
    ...(recipe.mixture.regularizer_share !== undefined ? { regularizerShare: recipe.mixture.regularizer_share } : {}),
    ...(recipe.mixture.strategy === 'adaptive' ? { adaptive: mixAdaptive(recipe.mixture)! } : {}),
    sampleBy: recipe.mixture.per,
    batchSize: recipe.batch_size,
    totalSteps: optimizerSteps * recipe.grad_accum,
  };
}

/** Optimizer steps of a run: `steps`, or enough for `epochs` passes over every task's training rows. */
export function optimizerSteps(recipe: Recipe, tasks: readonly PreparedTask[]): number {
  return optimizerStepsFor(recipe, tasks.reduce((sum, task) => sum + task.train.length, 0));
}

/** optimizerSteps from the number of training examples of all tasks together. */
export function optimizerStepsFor(recipe: Recipe, trainingExamples: number): number {
  if (recipe.steps !== undefined) return recipe.steps;
  return Math.max(1, Math.ceil((recipe.epochs! * trainingExamples) / (recipe.batch_size * recipe.grad_accum)));
}
