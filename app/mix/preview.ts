/**
 * What a mixture will do before any training runs: each task's probability at points over the run,
 * and the examples (and tokens) each task should receive. Pure: no PRNG, so the UI can chart it
 * as the user edits the recipe.
 */
import { CocktailError } from '../errors.ts';
import { epochStartSteps, taskProbabilities, trainingPointAt, type TrainingPoint } from './probabilities.ts';
import { advanceSequential, regularizerTurnsBefore, sequentialTask } from './selection.ts';
import type { MixPlan } from './types.ts';
import { resolveMixPlan, type ResolvedMix } from './validate.ts';

export const DEFAULT_PREVIEW_POINTS = 51;

export interface MixPreviewOptions {
  /** 0-based steps to evaluate. Default: pointCount evenly spaced steps plus both sides of every change. */
  steps?: readonly number[];
  /** Evenly spaced steps in the default evaluation set, at least 2; default 51. */
  pointCount?: number;
  /** Mean tokens per training example of each task, in task order, for expectedTokens. */
  meanTokensPerExample?: readonly number[];
}

export interface MixPreviewPoint extends TrainingPoint {
  /**
   * Each task's probability at this step. Round-robin gives its long-run shares; sequential, which is
   * fully determined, gives the fraction of this step's examples that each task actually supplies.
   */
  probabilities: number[];
}

export interface MixPreview {
  taskNames: string[];
  totalSteps: number;
  batchSize: number;
  /** E: mixture epochs (Σ nᵢ examples each) the run covers, rounded up. */
  epochs: number;
  points: MixPreviewPoint[];
  /** Σ over steps of batchSize · pᵢ(step); exact counts for round-robin and sequential, which draw no random numbers. */
  expectedExamples: number[];
  /** expectedExamples / nᵢ: how many passes over its rows each task gets. */
  expectedTaskEpochs: number[];
  /** expectedExamples · mean tokens per example, when those means were given. */
  expectedTokens: number[] | null;
}

export function previewMix(plan: MixPlan, options: MixPreviewOptions = {}): MixPreview {
  const mix = resolveMixPlan(plan);
  const steps = options.steps ? checkedSteps(mix, options.steps) : defaultEvaluationSteps(mix, options.pointCount ?? DEFAULT_PREVIEW_POINTS);
  const meanTokens = options.meanTokensPerExample && checkedMeanTokens(mix, options.meanTokensPerExample);
  const { points, expectedExamples } =
    mix.plan.strategy.kind === 'sequential'
      ? previewSequential(mix, steps)
      : { points: steps.map((step) => pointWithProbabilities(mix, step)), expectedExamples: expectedExamplesOf(mix) };
  return {
    taskNames: [...mix.names],
    totalSteps: mix.plan.totalSteps,
    batchSize: mix.plan.batchSize,
    epochs: mix.epochs,
    points,
    expectedExamples,
    expectedTaskEpochs: expectedExamples.map((examples, task) => examples / mix.sizes[task]!),
    expectedTokens: meanTokens ? expectedExamples.map((examples, task) => examples * meanTokens[task]!) : null,
  };
}

/** Evenly spaced steps from the first to the last, plus the last step before and the first step after every change. */
export function defaultEvaluationSteps(mix: ResolvedMix, pointCount: number): number[] {
  if (!(Number.isInteger(pointCount) && pointCount >= 2)) {
    throw new CocktailError('MIX_PREVIEW_POINTS_INVALID', `pointCount must be an integer >= 2, got ${pointCount}`, { field: 'pointCount' });
  }
  const last = mix.plan.totalSteps - 1;
  const steps = new Set<number>();
  for (let i = 0; i < pointCount; i++) steps.add(Math.round((i * last) / (pointCount - 1)));
  for (const change of changeSteps(mix)) {
    steps.add(change - 1);
    steps.add(change);
  }
  return [...steps].filter((step) => step >= 0 && step <= last).sort((a, b) => a - b);
}

/** Steps at which the probabilities start to differ from the step before (or, for a linear schedule, bend). */
function changeSteps(mix: ResolvedMix): number[] {
  const strategy = mix.plan.strategy;
  if (strategy.kind === 'annealed' || strategy.kind === 'reverse-annealed') return epochStartSteps(mix);
  if (strategy.kind !== 'schedule') return [];
  return strategy.points.map((point) => {
    let step = Math.max(0, Math.floor(point.at * (mix.plan.totalSteps - 1)) - 1);
    while (step < mix.plan.totalSteps - 1 && trainingPointAt(mix, step).progress < point.at) step++;
    return step;
  });
}

function pointWithProbabilities(mix: ResolvedMix, step: number): MixPreviewPoint {
  const point = trainingPointAt(mix, step);
  return { ...point, probabilities: taskProbabilities(mix, point) };
}

function expectedExamplesOf(mix: ResolvedMix): number[] {
  if (mix.plan.strategy.kind === 'round-robin') return roundRobinCounts(mix);
  const expected = new Array<number>(mix.sizes.length).fill(0);
  const dependsOnProgress = mix.plan.strategy.kind === 'schedule';
  let probabilities: number[] = [];
  let epochOfProbabilities = -1;
  for (let step = 0; step < mix.plan.totalSteps; step++) {
    const point = trainingPointAt(mix, step);
    if (dependsOnProgress || point.epoch !== epochOfProbabilities) {
      probabilities = taskProbabilities(mix, point);
      epochOfProbabilities = point.epoch;
    }
    probabilities.forEach((p, task) => {
      expected[task]! += mix.plan.batchSize * p;
    });
  }
  return expected;
}

/** Round-robin hands out choices in turn, so its counts follow from the number of choices alone. */
function roundRobinCounts(mix: ResolvedMix): number[] {
  const choices = mix.plan.totalSteps * mix.choicesPerStep;
  const regularizerTurns = regularizerTurnsBefore(mix, choices);
  const counts = new Array<number>(mix.sizes.length).fill(0);
  const share = (group: readonly number[], turns: number): void => {
    group.forEach((task, position) => {
      const turnsOfTask = Math.floor(turns / group.length) + (position < turns % group.length ? 1 : 0);
      counts[task] = turnsOfTask * mix.rowsPerChoice;
    });
  };
  share(mix.trainingTasks, choices - regularizerTurns);
  if (regularizerTurns > 0) share(mix.regularizers, regularizerTurns);
  return counts;
}

/** Sequential order depends on where each task's pass ends, so it is walked step by step, without materializing rows. */
function previewSequential(mix: ResolvedMix, steps: readonly number[]): { points: MixPreviewPoint[]; expectedExamples: number[] } {
  const wanted = new Set(steps);
  const counts = new Array<number>(mix.sizes.length).fill(0);
  const cursors = mix.sizes.map(() => ({ epoch: 0, cursor: 0 }));
  let positions = { task: 0, regularizer: 0 };
  const fractionsAt = new Map<number, number[]>();
  for (let step = 0; step < mix.plan.totalSteps; step++) {
    const stepCounts = new Array<number>(mix.sizes.length).fill(0);
    for (let k = 0; k < mix.choicesPerStep; k++) {
      const task = sequentialTask(mix, positions, step * mix.choicesPerStep + k);
      const cursor = cursors[task]!;
      const size = mix.sizes[task]!;
      const reached = cursor.cursor + mix.rowsPerChoice;
      const finishedPass = reached >= size;
      cursor.epoch += Math.floor(reached / size);
      cursor.cursor = reached % size;
      positions = advanceSequential(mix, positions, task, finishedPass);
      stepCounts[task]! += mix.rowsPerChoice;
    }
    stepCounts.forEach((count, task) => (counts[task]! += count));
    if (wanted.has(step)) fractionsAt.set(step, stepCounts.map((count) => count / mix.plan.batchSize));
  }
  const points = steps.map((step) => ({ ...trainingPointAt(mix, step), probabilities: fractionsAt.get(step)! }));
  return { points, expectedExamples: counts };
}

function checkedSteps(mix: ResolvedMix, steps: readonly number[]): number[] {
  for (const step of steps) {
    if (!(Number.isInteger(step) && step >= 0 && step < mix.plan.totalSteps)) {
      throw new CocktailError(
        'MIX_PREVIEW_STEP_INVALID',
        `steps must be integers in [0, ${mix.plan.totalSteps - 1}] (0-based steps of the planned run), got ${step}`,
        { field: 'steps', value: step },
      );
    }
  }
  return [...new Set(steps)].sort((a, b) => a - b);
}

function checkedMeanTokens(mix: ResolvedMix, meanTokens: readonly number[]): readonly number[] {
  if (meanTokens.length !== mix.sizes.length || !meanTokens.every((mean) => Number.isFinite(mean) && mean >= 0)) {
    throw new CocktailError(
      'MIX_PREVIEW_TOKENS_INVALID',
      `meanTokensPerExample must hold one finite number >= 0 per task (${mix.sizes.length}), got ${JSON.stringify(meanTokens)}`,
      { field: 'meanTokensPerExample' },
    );
  }
  return meanTokens;
}
