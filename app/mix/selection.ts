/**
 * Rules that turn probabilities or turns into a task index. A "choice" is one task pick: one per
 * example when sampling per example, one per batch when sampling per batch. Choices are numbered
 * from 0 over the whole run, so the deterministic rules need no state beyond that number.
 */
import type { SequentialPositions } from './types.ts';
import type { ResolvedMix } from './validate.ts';

/**
 * The task whose cumulative probability first exceeds u, for u uniform in [0, 1). A task with
 * probability 0 is never returned; if rounding leaves the total just under 1 and u above it, the
 * last task with a positive probability is.
 */
export function pickByProbability(probabilities: readonly number[], u: number): number {
  let cumulative = 0;
  let lastPossible = -1;
  for (let task = 0; task < probabilities.length; task++) {
    const p = probabilities[task]!;
    if (p <= 0) continue;
    cumulative += p;
    lastPossible = task;
    if (u < cumulative) return task;
  }
  return lastPossible;
}

/**
 * Whether choice c goes to a regularizer: exactly when ⌊(c + 1)·r⌋ > ⌊c·r⌋ (Bresenham's rule).
 * After C choices ⌊C·r⌋ have gone to regularizers, so the share is met to within one choice at
 * every point of the run, with the regularizer turns spread evenly.
 */
export function isRegularizerTurn(mix: ResolvedMix, choice: number): boolean {
  const share = mix.regularizerShare;
  return share > 0 && Math.floor((choice + 1) * share) > Math.floor(choice * share);
}

/** Choices among the first `choices` that went to regularizers under isRegularizerTurn. */
export function regularizerTurnsBefore(mix: ResolvedMix, choices: number): number {
  return mix.regularizerShare > 0 ? Math.floor(choices * mix.regularizerShare) : 0;
}

/** Round-robin: training tasks in turn, and on regularizer turns the regularizers in turn. */
export function roundRobinTask(mix: ResolvedMix, choice: number): number {
  const regularizerTurns = regularizerTurnsBefore(mix, choice);
  if (isRegularizerTurn(mix, choice)) return mix.regularizers[regularizerTurns % mix.regularizers.length]!;
  const trainingTurns = choice - regularizerTurns;
  return mix.trainingTasks[trainingTurns % mix.trainingTasks.length]!;
}

/** Sequential: the current task of the role whose turn it is (regularizers interleave by Bresenham's rule). */
export function sequentialTask(mix: ResolvedMix, positions: SequentialPositions, choice: number): number {
  return isRegularizerTurn(mix, choice)
    ? mix.regularizers[positions.regularizer]!
    : mix.trainingTasks[positions.task]!;
}

/** Sequential moves on to the next task of the same role once the current one has finished a pass over its rows. */
export function advanceSequential(
  mix: ResolvedMix,
  positions: SequentialPositions,
  task: number,
  finishedPass: boolean,
): SequentialPositions {
  if (!finishedPass) return positions;
  const regularizer = mix.regularizers.indexOf(task);
  if (regularizer >= 0) return { ...positions, regularizer: (regularizer + 1) % mix.regularizers.length };
  const training = mix.trainingTasks.indexOf(task);
  return { ...positions, task: (training + 1) % mix.trainingTasks.length };
}
