/**
 * How long an experiment will take, and the warning a very long one gets. A long experiment is
 * warned about, never refused: the user may mean to leave it running for days.
 *
 * Before anything runs, the time is an upper bound from the last run's measured tokens per second and
 * every step's batch filled to max_length; once arms train, the runner re-estimates from the measured
 * seconds per step.
 */
import { experimentSeeds, planArms, singleArmsTogether, type ExperimentSpec } from './design.ts';

/** An estimate above this many seconds is warned about (never refused). */
export const LONG_EXPERIMENT_SECONDS = 24 * 3600;

/**
 * Arms, training runs and optimizer steps of a spec before anything is prepared (greedy's later stages
 * are not counted); `together`: single-task arms that train in one run per seed, an adapter each.
 */
export function experimentSize(spec: ExperimentSpec): { arms: number; runs: number; steps: number; together: number } {
  const steps = spec.recipe.steps ?? 0;
  const arms = planArms(spec).map((arm) => ({ ...arm, steps }));
  const seeds = experimentSeeds(spec).length;
  const together = singleArmsTogether(spec, arms).length;
  return { arms: arms.length, runs: (arms.length - together + (together > 0 ? 1 : 0)) * seeds, steps: arms.length * seeds * steps, together };
}

/** Seconds of training at `tokensPerSecond`, every batch counted as full (max_length tokens per example). */
export function estimatedSeconds(spec: ExperimentSpec, tokensPerSecond: number): number {
  const { recipe } = spec;
  return (experimentSize(spec).steps * recipe.batch_size * recipe.grad_accum * recipe.max_length) / tokensPerSecond;
}

/** The warning for an estimate of `seconds`, or undefined when it is not long. `left`: the estimate is of the time still to run. */
export function longExperimentWarning(seconds: number, left = false): string | undefined {
  if (!(seconds > LONG_EXPERIMENT_SECONDS)) return undefined;
  return `This is a long experiment: about ${Math.round(seconds / 3600)} hours${left ? ' more' : ''} at the measured speed. It can run (pause and resume it at any time); fewer seeds, arms or steps would shorten it.`;
}
