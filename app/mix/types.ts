/**
 * The shape of a task mixture: which tasks, how often each is drawn, and how a sampler's position is
 * saved. Everything here is plain JSON so a recipe, a checkpoint and a worker message can carry it.
 */
import type { RandomState } from '../util/random.ts';
import type { AdaptiveOptions } from './adaptive.ts';

/** A "regularizer" (general instructions, say) gets a fixed share of the draws whatever the strategy. */
export type TaskRole = 'task' | 'regularizer';

export interface MixTask {
  /** Unique within the mixture; manual and scheduled weights name tasks by it. */
  name: string;
  /** nᵢ: the number of training rows of the task. */
  examples: number;
  /** Defaults to "task". */
  role?: TaskRole;
}

/** Weights by task name; any non-negative numbers, normalized within each role. */
export type TaskWeights = Readonly<Record<string, number>>;

export interface SchedulePoint {
  /** Training progress in [0, 1]: 0 is the first step, 1 the last. */
  at: number;
  weights: TaskWeights;
}

/**
 * How the next task is chosen. Sizes below are nᵢ, capped by K where a cap is given: mᵢ = min(nᵢ, K).
 * - proportional: pᵢ ∝ mᵢ
 * - uniform: pᵢ = 1 / (number of tasks)
 * - temperature: pᵢ ∝ mᵢ^(1/T)
 * - annealed (Stickland & Murray 2019): pᵢ ∝ nᵢ^α, α = 1 − 0.8·(e − 1)/(E − 1) in mixture epoch e of E
 * - reverse-annealed: the mirror image, α = 0.2 + 0.8·(e − 1)/(E − 1): near-uniform first, proportional last
 * - round-robin: tasks in turn, deterministically
 * - manual: pᵢ ∝ the given weight
 * - schedule: manual weights that change over training progress
 * - sequential: each task's rows in file order, one task after the other, no randomness at all
 */
export type MixStrategy =
  | { kind: 'proportional'; cap?: number }
  | { kind: 'uniform' }
  | { kind: 'temperature'; temperature: number; cap?: number }
  | { kind: 'annealed' }
  | { kind: 'reverse-annealed' }
  | { kind: 'round-robin' }
  | { kind: 'manual'; weights: TaskWeights }
  | {
      kind: 'schedule';
      points: readonly SchedulePoint[];
      /** "constant" (default): a point's weights hold until the next point; "linear": probabilities blend between points. */
      interpolation?: ScheduleInterpolation;
    }
  | { kind: 'sequential' };

export type StrategyKind = MixStrategy['kind'];
export type ScheduleInterpolation = 'constant' | 'linear';

/** "example": each example of a batch picks its own task; "batch": one task per batch. */
export type SampleBy = 'example' | 'batch';

/** Everything that decides the probabilities; the seed only decides the particular draws. */
export interface MixPlan {
  tasks: readonly MixTask[];
  strategy: MixStrategy;
  /** Combined share of the draws that regularizer tasks get, in [0, 1). Defaults to 0.15 when any task is a regularizer. */
  regularizerShare?: number;
  sampleBy: SampleBy;
  /** Examples per training step. */
  batchSize: number;
  /** Steps the run is planned for; sets the epoch count E of annealing and the progress of a schedule. */
  totalSteps: number;
  /**
   * Adaptive mixing (app/mix/adaptive.ts): the strategy's probabilities times per-task multipliers that
   * evaluations set, bounded to [minShare, maxShare]. Needs a strategy that draws at random.
   */
  adaptive?: AdaptiveOptions;
}

export interface MixConfig extends MixPlan {
  /** An integer in [0, 2³²). */
  seed: number;
}

/** One example of a batch: which task, and which of that task's training rows (0-based, file order). */
export interface Draw {
  task: number;
  row: number;
}

/** Where a task's rows stand: passes completed so far, and rows drawn in the current pass. */
export interface TaskCursor {
  epoch: number;
  cursor: number;
}

/** Positions of sequential sampling: which training task and which regularizer is current (index within its role). */
export interface SequentialPositions {
  task: number;
  regularizer: number;
}

/** The sampler's whole state as plain JSON; MixSampler.fromState continues exactly where it was taken. */
export interface MixSamplerState {
  version: 1;
  config: MixConfig;
  /** Batches drawn so far, which is also the index of the next step. */
  step: number;
  /** The task-choice PRNG. Row orders are not stored: each is rebuilt from (seed, task, epoch). */
  random: RandomState;
  tasks: TaskCursor[];
  sequential: SequentialPositions;
  /** Adaptive mixing's current multipliers, one per task; absent without adaptive mixing. */
  multipliers?: number[];
}
