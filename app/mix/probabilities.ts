/**
 * The probability of each task at a point of training: the strategy's formula applied within each
 * role, training tasks sharing 1 − r and regularizers sharing r, where r is the regularizer share.
 */
import {
  annealedProbabilities,
  annealingAlpha,
  normalize,
  proportionalProbabilities,
  reverseAnnealingAlpha,
  temperatureProbabilities,
  uniformProbabilities,
} from './formulas.ts';
import type { TaskWeights } from './types.ts';
import type { ResolvedMix } from './validate.ts';

/** Where a step lies in the planned run. */
export interface TrainingPoint {
  step: number;
  /** step / (totalSteps − 1), so the first step is at 0 and the last at 1 (0 for a one-step run). */
  progress: number;
  /** Mixture epoch e (1-based) of the step's first example: ⌊step · batchSize / Σ nᵢ⌋ + 1. */
  epoch: number;
  /** E, the mixture epochs planned. */
  epochs: number;
}

/** Steps past the planned end (a run extended after the fact) keep the probabilities of the last planned step. */
export function trainingPointAt(mix: ResolvedMix, step: number): TrainingPoint {
  const { totalSteps, batchSize } = mix.plan;
  const epoch = Math.floor((step * batchSize) / mix.mixtureEpochExamples) + 1;
  return {
    step,
    progress: totalSteps > 1 ? Math.min(1, step / (totalSteps - 1)) : 0,
    epoch: Math.min(mix.epochs, epoch),
    epochs: mix.epochs,
  };
}

/** The first step of each mixture epoch after the first: where annealed probabilities change. */
export function epochStartSteps(mix: ResolvedMix): number[] {
  const starts: number[] = [];
  for (let epoch = 2; epoch <= mix.epochs; epoch++) {
    starts.push(Math.ceil(((epoch - 1) * mix.mixtureEpochExamples) / mix.plan.batchSize));
  }
  return starts;
}

/**
 * pᵢ at a training point. For round-robin and sequential, which draw no random numbers, it is the
 * long-run share each task receives: equal for round-robin, proportional to nᵢ for sequential.
 */
export function taskProbabilities(mix: ResolvedMix, point: TrainingPoint): number[] {
  const strategy = mix.plan.strategy;
  const sizesOf = (group: readonly number[]): number[] => group.map((task) => mix.sizes[task]!);
  switch (strategy.kind) {
    case 'proportional':
      return splitByRole(mix, (group) => proportionalProbabilities(sizesOf(group), strategy.cap));
    case 'uniform':
    case 'round-robin':
      return splitByRole(mix, (group) => uniformProbabilities(group.length));
    case 'temperature':
      return splitByRole(mix, (group) => temperatureProbabilities(sizesOf(group), strategy.temperature, strategy.cap));
    case 'annealed': {
      const alpha = annealingAlpha(point.epoch, point.epochs);
      return splitByRole(mix, (group) => annealedProbabilities(sizesOf(group), alpha));
    }
    case 'reverse-annealed': {
      const alpha = reverseAnnealingAlpha(point.epoch, point.epochs);
      return splitByRole(mix, (group) => annealedProbabilities(sizesOf(group), alpha));
    }
    case 'manual':
      return weightedProbabilities(mix, strategy.weights);
    case 'schedule':
      return scheduledProbabilities(mix, strategy.points, point.progress);
    case 'sequential':
      return splitByRole(mix, (group) => proportionalProbabilities(sizesOf(group)));
  }
}

/** Whether the strategy draws its task choices from the PRNG (all but round-robin and sequential). */
export function isRandomStrategy(mix: ResolvedMix): boolean {
  return mix.plan.strategy.kind !== 'round-robin' && mix.plan.strategy.kind !== 'sequential';
}

function weightedProbabilities(mix: ResolvedMix, weights: TaskWeights): number[] {
  return splitByRole(mix, (group) => normalize(group.map((task) => weights[mix.names[task]!]!)));
}

/**
 * Before the first point its weights hold, after the last point the last's. In between, "constant"
 * keeps the latest point's weights; "linear" blends the two neighbouring probability vectors (not the
 * raw weights), so the chart the user sees is exactly piecewise linear.
 */
function scheduledProbabilities(
  mix: ResolvedMix,
  points: readonly { at: number; weights: TaskWeights }[],
  progress: number,
): number[] {
  const next = points.findIndex((point) => point.at > progress);
  if (next === 0) return weightedProbabilities(mix, points[0]!.weights);
  const current = points[next === -1 ? points.length - 1 : next - 1]!;
  const atCurrent = weightedProbabilities(mix, current.weights);
  if (next === -1 || mix.interpolation === 'constant') return atCurrent;
  const following = points[next]!;
  const atFollowing = weightedProbabilities(mix, following.weights);
  const t = (progress - current.at) / (following.at - current.at);
  return atCurrent.map((p, task) => (1 - t) * p + t * atFollowing[task]!);
}

/** Training tasks share 1 − r and regularizers r, each role split by the same rule. */
function splitByRole(mix: ResolvedMix, withinRole: (group: readonly number[]) => number[]): number[] {
  const probabilities = new Array<number>(mix.sizes.length).fill(0);
  const place = (group: readonly number[], share: number): void => {
    if (group.length === 0 || share === 0) return;
    const within = withinRole(group);
    group.forEach((task, k) => {
      probabilities[task] = share * within[k]!;
    });
  };
  place(mix.trainingTasks, 1 - mix.regularizerShare);
  place(mix.regularizers, mix.regularizerShare);
  return probabilities;
}
