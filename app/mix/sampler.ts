/**
 * Draws the batches of a multi-task run. Each step yields batchSize draws {task, row}. Within a
 * task, rows come without replacement in a shuffled order that is reshuffled when the task's epoch
 * ends (file order, unshuffled, for the sequential strategy), so epochs are counted per task. The
 * whole position serializes to plain JSON and resumes exactly.
 */
import { CocktailError } from '../errors.ts';
import { Random } from '../util/random.ts';
import { adaptiveProbabilities } from './adaptive.ts';
import { isRandomStrategy, taskProbabilities, trainingPointAt } from './probabilities.ts';
import { shuffledRowOrder } from './row-order.ts';
import { advanceSequential, pickByProbability, roundRobinTask, sequentialTask } from './selection.ts';
import type { Draw, MixConfig, MixSamplerState, SequentialPositions, TaskCursor } from './types.ts';
import { isRecord, validateMixConfig, type ResolvedMix } from './validate.ts';

export class MixSampler {
  private readonly mix: ResolvedMix;
  private readonly seed: number;
  /** Draws task choices only; row orders come from their own (seed, task, epoch) streams. */
  private readonly random: Random;
  private readonly cursors: TaskCursor[];
  private positions: SequentialPositions;
  private nextStep: number;
  /** Adaptive mixing's multipliers (all 1 until an evaluation changes them); unused without it. */
  private multipliers: number[];
  /** Only the current epoch's order of each task is kept; older ones are never needed again. */
  private readonly rowOrders = new Map<number, { epoch: number; order: Uint32Array }>();

  private constructor(
    mix: ResolvedMix,
    seed: number,
    random: Random,
    cursors: TaskCursor[],
    positions: SequentialPositions,
    nextStep: number,
    multipliers: number[],
  ) {
    this.multipliers = multipliers;
    this.mix = mix;
    this.seed = seed;
    this.random = random;
    this.cursors = cursors;
    this.positions = positions;
    this.nextStep = nextStep;
  }

  static create(config: MixConfig): MixSampler {
    const mix = validateMixConfig(config);
    return new MixSampler(
      mix,
      config.seed,
      Random.fromSeed(config.seed),
      mix.sizes.map(() => ({ epoch: 0, cursor: 0 })),
      { task: 0, regularizer: 0 },
      0,
      mix.sizes.map(() => 1),
    );
  }

  /** Resumes from state(); throws a CocktailError (MIX_STATE_INVALID or a config code) on a state that cannot be ours. */
  static fromState(state: MixSamplerState): MixSampler {
    if (!isRecord(state) || state.version !== 1) {
      throw invalidState('version', `expected a mixture sampler state of version 1, got ${JSON.stringify(isRecord(state) ? state.version : state)}`);
    }
    const mix = validateMixConfig(state.config);
    checkStatePosition(mix, state);
    return new MixSampler(
      mix,
      state.config.seed,
      Random.fromState(state.random),
      state.tasks.map((task) => ({ epoch: task.epoch, cursor: task.cursor })),
      { task: state.sequential.task, regularizer: state.sequential.regularizer },
      state.step,
      state.multipliers ? [...state.multipliers] : mix.sizes.map(() => 1),
    );
  }

  /** Steps drawn so far: the index of the next step. */
  get step(): number {
    return this.nextStep;
  }

  /** Every task's probability at the next step (long-run shares for round-robin and sequential). */
  probabilities(): number[] {
    const base = taskProbabilities(this.mix, trainingPointAt(this.mix, this.nextStep));
    const adaptive = this.mix.plan.adaptive;
    if (!adaptive) return base;
    return adaptiveProbabilities(base, this.multipliers, this.mix.plan.tasks.map((task) => task.role ?? 'task'), adaptive);
  }

  /** Sets adaptive mixing's multipliers (AdaptiveMixer.update decides them); from the next draw on. */
  setMultipliers(multipliers: readonly number[]): void {
    if (!this.mix.plan.adaptive) throw new CocktailError('MIX_ADAPTIVE_INVALID', 'this mixture is not adaptive: its weights cannot be changed during the run', { field: 'adaptive' });
    if (multipliers.length !== this.mix.sizes.length || !multipliers.every((m) => Number.isFinite(m) && m >= 0)) {
      throw new CocktailError('MIX_ADAPTIVE_INVALID', `expected ${this.mix.sizes.length} finite multipliers >= 0, got ${JSON.stringify(multipliers)}`, { field: 'multipliers' });
    }
    this.multipliers = [...multipliers];
  }

  /** Mixture epochs drawn so far (an epoch is Σ nᵢ examples), fractional. */
  mixtureEpochsDrawn(): number {
    return (this.nextStep * this.mix.plan.batchSize) / this.mix.mixtureEpochExamples;
  }

  /** Completed passes over each task's rows. */
  taskEpochs(): number[] {
    return this.cursors.map((cursor) => cursor.epoch);
  }

  nextBatch(): Draw[] {
    const { choicesPerStep, rowsPerChoice } = this.mix;
    const probabilities = isRandomStrategy(this.mix) ? this.probabilities() : null;
    const batch: Draw[] = [];
    for (let k = 0; k < choicesPerStep; k++) {
      const choice = this.nextStep * choicesPerStep + k;
      const task = this.chooseTask(choice, probabilities);
      const epochBefore = this.cursors[task]!.epoch;
      for (let r = 0; r < rowsPerChoice; r++) batch.push({ task, row: this.takeRow(task) });
      if (this.mix.plan.strategy.kind === 'sequential') {
        this.positions = advanceSequential(this.mix, this.positions, task, this.cursors[task]!.epoch > epochBefore);
      }
    }
    this.nextStep++;
    return batch;
  }

  state(): MixSamplerState {
    return {
      version: 1,
      config: { ...(JSON.parse(JSON.stringify(this.mix.plan)) as MixConfig), seed: this.seed },
      step: this.nextStep,
      random: this.random.state(),
      tasks: this.cursors.map((cursor) => ({ ...cursor })),
      sequential: { ...this.positions },
      ...(this.mix.plan.adaptive ? { multipliers: [...this.multipliers] } : {}),
    };
  }

  private chooseTask(choice: number, probabilities: readonly number[] | null): number {
    if (probabilities) return pickByProbability(probabilities, this.random.next());
    if (this.mix.plan.strategy.kind === 'round-robin') return roundRobinTask(this.mix, choice);
    return sequentialTask(this.mix, this.positions, choice);
  }

  private takeRow(task: number): number {
    const cursor = this.cursors[task]!;
    const size = this.mix.sizes[task]!;
    const row = this.mix.plan.strategy.kind === 'sequential' ? cursor.cursor : this.rowOrder(task, cursor.epoch)[cursor.cursor]!;
    cursor.cursor++;
    if (cursor.cursor === size) {
      cursor.epoch++;
      cursor.cursor = 0;
    }
    return row;
  }

  private rowOrder(task: number, epoch: number): Uint32Array {
    const kept = this.rowOrders.get(task);
    if (kept && kept.epoch === epoch) return kept.order;
    const order = shuffledRowOrder(this.seed, task, epoch, this.mix.sizes[task]!);
    this.rowOrders.set(task, { epoch, order });
    return order;
  }
}

/** A state must describe a position this config can reach: every row drawn accounted for by the task cursors. */
function checkStatePosition(mix: ResolvedMix, state: MixSamplerState): void {
  if (!isCount(state.step)) throw invalidState('step', `step must be an integer >= 0, got ${JSON.stringify(state.step)}`);
  const random: unknown = state.random;
  if (
    !Array.isArray(random) ||
    random.length !== 4 ||
    !random.every((word) => Number.isInteger(word) && word >= 0 && word < 2 ** 32) ||
    random.every((word) => word === 0)
  ) {
    throw invalidState('random', `random must be four uint32 words, not all zero, got ${JSON.stringify(random)}`);
  }
  const tasks: unknown = state.tasks;
  if (!Array.isArray(tasks) || tasks.length !== mix.sizes.length) {
    throw invalidState('tasks', `tasks must hold one cursor per task (${mix.sizes.length}), got ${JSON.stringify(tasks)}`);
  }
  let rowsDrawn = 0;
  tasks.forEach((task: unknown, index) => {
    const size = mix.sizes[index]!;
    if (!isRecord(task) || !isCount(task.epoch) || !isCount(task.cursor) || task.cursor >= size) {
      throw invalidState(`tasks[${index}]`, `tasks[${index}] must be {epoch >= 0, cursor in [0, ${size})}, got ${JSON.stringify(task)}`);
    }
    rowsDrawn += task.epoch * size + task.cursor;
  });
  const expected = state.step * mix.plan.batchSize;
  if (rowsDrawn !== expected) {
    throw invalidState('tasks', `the task cursors account for ${rowsDrawn} rows but ${state.step} steps of ${mix.plan.batchSize} drew ${expected}`);
  }
  const positions: unknown = state.sequential;
  const within = (value: unknown, count: number): boolean => isCount(value) && value < Math.max(1, count);
  if (!isRecord(positions) || !within(positions.task, mix.trainingTasks.length) || !within(positions.regularizer, mix.regularizers.length)) {
    throw invalidState('sequential', `sequential must be {task, regularizer} positions within each role, got ${JSON.stringify(positions)}`);
  }
  const multipliers: unknown = state.multipliers;
  if (multipliers !== undefined && !(Array.isArray(multipliers) && multipliers.length === mix.sizes.length && multipliers.every((m) => Number.isFinite(m) && (m as number) >= 0))) {
    throw invalidState('multipliers', `multipliers must hold one finite number >= 0 per task, got ${JSON.stringify(multipliers)}`);
  }
}

function invalidState(field: string, message: string): CocktailError {
  return new CocktailError('MIX_STATE_INVALID', `mixture sampler state: ${message}`, { field });
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}
