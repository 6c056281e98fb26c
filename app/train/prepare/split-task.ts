/**
 * A task's training and validation examples. With a validation file (or Hub split) the task's main
 * source is all training data; otherwise a seeded split holds out `validation_fraction` of it,
 * stratified by label for classification so both sides keep the label balance.
 *
 * `max_examples` then caps the training examples: the first N of a seeded shuffle, put back in file
 * order (shuffling for training is the sampler's job). The validation set is chosen before the cap
 * and does not depend on it, so runs that differ only in max_examples are scored on the same examples.
 *
 * Training examples that repeat a validation example word for word are counted, not removed: the
 * recipe has no switch for it, and silently changing the training set would surprise more than a
 * number in the report that says evaluation may be flattered.
 */
import { labelOf, splitSeeded, type Example } from '../../data/index.ts';
import { removeOverlap } from '../../data/dedupe.ts';
import { shuffleInPlace } from '../../data/split.ts';
import { Random } from '../../util/random.ts';
import type { RecipeTask } from '../recipe.ts';

export interface SplitReport {
  /** "seeded": held out of the task's source; "file": the recipe names a validation file or split. */
  readonly method: 'seeded' | 'file';
  /** Examples of the task's main source, before the split. */
  readonly examples: number;
  /** Training examples before max_examples. */
  readonly trainAvailable: number;
  readonly train: number;
  readonly validation: number;
  /** Training examples that max_examples left out. */
  readonly unusedByCap: number;
  /** Training examples equal (after whitespace normalization) to a validation example, and the first of their rows. */
  readonly overlap: { readonly count: number; readonly rows: readonly number[] };
}

export interface TaskSplit {
  readonly train: readonly Example[];
  readonly validation: readonly Example[];
  readonly report: SplitReport;
}

export function splitTask(task: Pick<RecipeTask, 'validation_fraction' | 'max_examples'>, seed: number, main: readonly Example[], validationSource?: readonly Example[]): TaskSplit {
  const split = validationSource
    ? { train: [...main], validation: [...validationSource] }
    : splitSeeded(main, { validation: task.validation_fraction, test: 0, seed, stratify: labelOf });
  const train = capExamples(split.train, task.max_examples, seed);
  const overlap = removeOverlap(train, split.validation);
  return {
    train,
    validation: split.validation,
    report: {
      method: validationSource ? 'file' : 'seeded',
      examples: main.length,
      trainAvailable: split.train.length,
      train: train.length,
      validation: split.validation.length,
      unusedByCap: split.train.length - train.length,
      overlap: { count: overlap.removed, rows: overlap.removedRows },
    },
  };
}

function capExamples(examples: readonly Example[], maxExamples: number | undefined, seed: number): Example[] {
  if (maxExamples === undefined || examples.length <= maxExamples) return [...examples];
  const chosen = shuffleInPlace([...examples], Random.fromSeed(seed)).slice(0, maxExamples);
  const order = new Map(examples.map((example, index) => [example, index]));
  return chosen.sort((a, b) => order.get(a)! - order.get(b)!);
}
