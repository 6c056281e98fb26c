/**
 * What the recipe's mixture will do, for the Mixture page: each task's training size (exact once the
 * task was prepared as training prepares it, estimated from the imported file's rows before that),
 * the recipe turned into app/mix's MixPlan by the same mapping training uses (app/train/mixture.ts),
 * and previewMix's answer shaped for a chart and a table. Pure, so it is tested against the formulas.
 */
import { CocktailError } from '../errors.ts';
import { previewMix, type MixPlan, type MixPreview, type TaskRole } from '../mix/index.ts';
import { mixPlan, optimizerStepsFor } from '../train/mixture.ts';
import type { Recipe, RecipeTask } from '../train/recipe.ts';
import type { TaskStats } from '../../workers/protocol.ts';

/** Where a task's number of training examples comes from. */
export type SizeBasis =
  /** Prepared as training prepares it: skipped rows, the validation split and max_examples applied. */
  | 'stats'
  /** The imported file's rows less the validation split (and max_examples): rows the format skips are still counted. */
  | 'rows'
  /** Nothing known yet: a Hub source not downloaded, or a file not imported. */
  | 'unknown';

export interface TaskSize {
  name: string;
  role: TaskRole;
  /** Training examples; null while unknown. */
  examples: number | null;
  basis: SizeBasis;
  /** Mean tokens per training example (after truncation); null until the task has stats. */
  meanTokens: number | null;
}

/**
 * Each task's training size: its stats when it has them (keyed by task name), else an estimate from
 * the row count of its imported file (keyed by the file name the recipe gives), else unknown.
 */
export function taskSizes(
  recipe: Recipe,
  stats: Readonly<Record<string, Pick<TaskStats, 'examples' | 'meanTokens'> | undefined>>,
  fileRows: Readonly<Record<string, number | undefined>>,
): TaskSize[] {
  return recipe.tasks.map((task) => {
    const role = task.role ?? 'task';
    const known = stats[task.name];
    if (known) return { name: task.name, role, examples: known.examples, basis: 'stats', meanTokens: known.meanTokens };
    const rows = 'file' in task.source ? fileRows[task.source.file] : undefined;
    if (rows !== undefined) return { name: task.name, role, examples: estimatedTrainingExamples(task, rows), basis: 'rows', meanTokens: null };
    return { name: task.name, role, examples: null, basis: 'unknown', meanTokens: null };
  });
}

/**
 * Training examples of a file of `rows` rows, as app/data's seeded split and max_examples would
 * leave them: round(rows × validation_fraction) rows are held out unless a validation file or split
 * is given, then at most max_examples remain.
 */
export function estimatedTrainingExamples(task: Pick<RecipeTask, 'source' | 'validation_fraction' | 'max_examples'>, rows: number): number {
  const hasOwnValidation = 'file' in task.source ? task.source.validation_file !== undefined : task.source.validation_split !== undefined;
  const fraction = task.validation_fraction ?? 0.1;
  const train = hasOwnValidation ? rows : rows - Math.round(rows * fraction);
  return task.max_examples === undefined ? train : Math.min(train, task.max_examples);
}

/** One point of the chart: the optimizer step, and each task's probability under its series key. */
export type ChartPoint = { step: number } & Record<string, number>;

export interface TaskExpectation extends TaskSize {
  examples: number;
  seriesKey: string;
  /** Probability at the first and at the last step. */
  first: number;
  last: number;
  expectedExamples: number;
  /** How many passes over its training examples the task gets. */
  passes: number;
  /** expectedExamples × meanTokens; null while the task has no stats. */
  expectedTokens: number | null;
}

export type MixturePreviewResult =
  | { status: 'no-tasks' }
  /** Some tasks have no size yet: nothing is drawn rather than a guess. */
  | { status: 'needs-sizes'; missing: string[] }
  | {
      status: 'ready';
      plan: MixPlan;
      preview: MixPreview;
      /** Optimizer steps of the run (the chart's x axis). */
      optimizerSteps: number;
      series: ChartPoint[];
      tasks: TaskExpectation[];
      /** True when any size is an estimate from row counts, or any token figure is missing. */
      estimated: boolean;
      epochs: MixtureEpochs;
    };

/**
 * The run measured in mixture epochs (Σ nᵢ examples each). Annealed strategies change their
 * probabilities only when a new mixture epoch starts, so a run shorter than one never anneals.
 */
export interface MixtureEpochs {
  /** E: mixture epochs the run covers, rounded up (at least 1). */
  count: number;
  /** Optimizer steps one mixture epoch takes. */
  stepsPerEpoch: number;
  /** Optimizer steps at which epochs 2..E start: where an annealed schedule changes. */
  changeSteps: number[];
}

/** The series key of task `index` in chart points: task names may hold dots, which chart libraries read as paths. */
export function seriesKey(index: number): string {
  return `task${index}`;
}

/**
 * The mixture preview of `recipe` with these task sizes. Throws the CocktailError of app/mix (or of
 * the recipe mapping) when the mixture is invalid, e.g. a temperature of 0.
 */
export function mixturePreview(recipe: Recipe, sizes: readonly TaskSize[]): MixturePreviewResult {
  if (sizes.length === 0) return { status: 'no-tasks' };
  const missing = sizes.filter((size) => size.examples === null).map((size) => size.name);
  if (missing.length > 0) return { status: 'needs-sizes', missing };
  const known = sizes as readonly (TaskSize & { examples: number })[];
  const steps = optimizerStepsFor(recipe, known.reduce((sum, size) => sum + size.examples, 0));
  if (!(Number.isInteger(steps) && steps > 0)) {
    throw new CocktailError('RECIPE_INVALID', 'The run length is not set: give the recipe a number of steps (or epochs) on the Train page.', { field: 'steps' });
  }
  const plan = mixPlan(recipe, known.map((size) => ({ name: size.name, examples: size.examples, role: size.role })), steps);
  const preview = previewMix(plan);
  const lastPoint = preview.points[preview.points.length - 1]!;
  return {
    status: 'ready',
    plan,
    preview,
    optimizerSteps: steps,
    series: preview.points.map((point) => {
      const values: Record<string, number> = { step: optimizerStepOf(point.step, recipe.grad_accum) };
      point.probabilities.forEach((p, task) => (values[seriesKey(task)] = p));
      return values as ChartPoint;
    }),
    tasks: known.map((size, task) => {
      const expectedExamples = preview.expectedExamples[task]!;
      return {
        ...size,
        seriesKey: seriesKey(task),
        first: preview.points[0]!.probabilities[task]!,
        last: lastPoint.probabilities[task]!,
        expectedExamples,
        passes: preview.expectedTaskEpochs[task]!,
        expectedTokens: size.meanTokens === null ? null : expectedExamples * size.meanTokens,
      };
    }),
    estimated: known.some((size) => size.basis !== 'stats'),
    epochs: mixtureEpochs(known.reduce((sum, size) => sum + size.examples, 0), preview.epochs, recipe),
  };
}

/** Epoch e starts at micro-step ⌈(e − 1)·Σnᵢ / batch_size⌉ (app/mix's epochStartSteps), here in optimizer steps. */
export function mixtureEpochs(epochExamples: number, count: number, recipe: Pick<Recipe, 'batch_size' | 'grad_accum'>): MixtureEpochs {
  const startOf = (epoch: number) => optimizerStepOf(Math.ceil(((epoch - 1) * epochExamples) / recipe.batch_size), recipe.grad_accum);
  return {
    count,
    stepsPerEpoch: startOf(2) - 1,
    changeSteps: Array.from({ length: count - 1 }, (_, i) => startOf(i + 2)),
  };
}

/** The 1-based optimizer step that micro-batch `microStep` (0-based) belongs to. */
export function optimizerStepOf(microStep: number, gradAccum: number): number {
  return Math.floor(microStep / gradAccum) + 1;
}
