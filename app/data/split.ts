/**
 * Train/validation/test splits: the file's own (sent_train.csv and sent_valid.csv, GSM8K's train and
 * test, a Hub data set's splits), or a seeded random split of one file, optionally stratified so each
 * split keeps the label balance. The same seed gives the same split on every machine (Random is
 * xoshiro128**, seeded by one integer). Within a split, examples keep the file's order; shuffling for
 * training is the sampler's job.
 */
import { DataError } from './errors.ts';
import type { Example } from './example.ts';
import { Random } from '../util/random.ts';

export type SplitName = 'train' | 'validation' | 'test';

export const SPLIT_NAMES: readonly SplitName[] = ['train', 'validation', 'test'];

export interface Splits<T> {
  train: T[];
  validation: T[];
  test: T[];
}

/** The usual names of splits ("valid", "dev", "eval", ...) as one of the three. */
export function normalizeSplitName(name: string): SplitName | undefined {
  const key = name.trim().toLowerCase();
  if (key === 'train' || key === 'training') return 'train';
  if (['validation', 'valid', 'val', 'dev', 'development', 'eval', 'evaluation'].includes(key)) return 'validation';
  if (key === 'test' || key === 'testing') return 'test';
  return undefined;
}

/** A file's own splits, named as the files or the Hub name them; every name must be recognized. */
export function fileSplits<T>(named: Readonly<Record<string, readonly T[]>>): Splits<T> {
  const splits: Splits<T> = { train: [], validation: [], test: [] };
  for (const [name, items] of Object.entries(named)) {
    const split = normalizeSplitName(name);
    if (!split) {
      throw new DataError('DATA_BAD_SPLIT', `Split "${name}" is not train, validation or test; say which one it is.`, { name });
    }
    splits[split].push(...items);
  }
  return splits;
}

export interface SeededSplitOptions<T> {
  /** Share of the rows for validation, in [0, 1). */
  validation: number;
  /** Share of the rows for test, in [0, 1). */
  test: number;
  seed: number;
  /** A key to stratify by (a classification label): each split then keeps the proportions of each key. */
  stratify?: (item: T) => string;
}

/**
 * A seeded random split. Sizes are round(n × share) for validation and test, the rest is train; with
 * stratification the per-key sizes are apportioned by largest remainder so they still add up exactly.
 */
export function splitSeeded<T>(items: readonly T[], options: SeededSplitOptions<T>): Splits<T> {
  const { validation, test } = options;
  for (const [name, share] of [['validation', validation], ['test', test]] as const) {
    if (!(share >= 0 && share < 1)) throw new DataError('DATA_BAD_SPLIT', `The ${name} share must be in [0, 1), got ${share}.`, { [name]: share });
  }
  if (validation + test >= 1) {
    throw new DataError('DATA_BAD_SPLIT', `Validation (${validation}) and test (${test}) leave nothing to train on.`, { validation, test });
  }
  const n = items.length;
  const validationTotal = Math.round(n * validation);
  const testTotal = Math.min(Math.round(n * test), n - validationTotal);
  const random = Random.fromSeed(options.seed);

  const strata = new Map<string, number[]>();
  items.forEach((item, index) => {
    const key = options.stratify ? options.stratify(item) : '';
    const bucket = strata.get(key);
    if (bucket) bucket.push(index);
    else strata.set(key, [index]);
  });
  const groups = [...strata.values()];
  const sizes = groups.map((group) => group.length);
  const validationCounts = apportion(sizes, validation, validationTotal);
  const testCounts = apportion(
    sizes.map((size, i) => size - validationCounts[i]!),
    test,
    testTotal,
    sizes,
  );

  const assignment = new Array<SplitName>(n).fill('train');
  groups.forEach((group, g) => {
    shuffleInPlace(group, random);
    const v = validationCounts[g]!;
    const t = testCounts[g]!;
    for (let k = 0; k < v; k++) assignment[group[k]!] = 'validation';
    for (let k = v; k < v + t; k++) assignment[group[k]!] = 'test';
  });
  const splits: Splits<T> = { train: [], validation: [], test: [] };
  items.forEach((item, index) => splits[assignment[index]!].push(item));
  return splits;
}

/**
 * Counts per group that add up to `total`: each group gets the floor of its exact share, and the
 * rest go to the largest remainders (ties to the earlier group), never more than a group has.
 */
function apportion(available: readonly number[], share: number, total: number, basis: readonly number[] = available): number[] {
  const exact = basis.map((size) => size * share);
  const counts = exact.map((value, i) => Math.min(Math.floor(value), available[i]!));
  let remaining = total - counts.reduce((a, b) => a + b, 0);
  const order = exact.map((value, i) => ({ i, remainder: value - Math.floor(value) })).sort((a, b) => b.remainder - a.remainder || a.i - b.i);
  while (remaining > 0) {
    let given = false;
    for (const { i } of order) {
      if (remaining === 0) break;
      if (counts[i]! < available[i]!) {
        counts[i]!++;
        remaining--;
        given = true;
      }
    }
    if (!given) break;
  }
  return counts;
}

/** Fisher–Yates with the project's seeded PRNG. */
export function shuffleInPlace<T>(items: T[], random: Random): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    const swap = items[i]!;
    items[i] = items[j]!;
    items[j] = swap;
  }
  return items;
}

/** The key to stratify examples by: a classification example's label, else one key for all. */
export function labelOf(example: Example): string {
  return example.kind === 'conversation' && example.expected?.kind === 'label' ? example.expected.label : '';
}
