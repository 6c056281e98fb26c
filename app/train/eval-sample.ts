/**
 * Which validation examples an evaluation scores. Validation splits keep file order, and files are
 * often sorted by label: the first N of a sorted tweet file are all "bearish", so scoring a prefix
 * measures one class. The sample is instead seeded from the recipe's seed and the task's name —
 * stratified by label for classification (each label's share of the sample follows its share of the
 * split, by largest remainders), uniform otherwise — so every evaluation of a run, and every run of
 * the same recipe and seed, scores the same examples.
 */
import { Random } from '../util/random.ts';
import { shuffleInPlace } from '../data/split.ts';
import type { PreparedTask } from './task-data.ts';

export interface EvaluationSample {
  /** Indices into the task's validation (and validationPrompts), ascending. */
  readonly indices: readonly number[];
  /** Validation examples the split holds. */
  readonly splitSize: number;
  /** What the recipe asked for: a number, or the whole split. */
  readonly requested: number | 'all';
  /** Classification: examples per label in the sample and in the whole split, in labelWords' order. */
  readonly labels?: Readonly<Record<string, number>>;
  readonly splitLabels?: Readonly<Record<string, number>>;
  /** What a reader must know about the sample: a size larger than the split, a label the split lacks. */
  readonly notices: readonly string[];
}

/**
 * What a sample is drawn from: a prepared task, or (app/train/prepare/evaluated-rows.ts) a split's
 * examples before tokenization, each with the answer its prompt will expect.
 */
export interface SampleSource {
  readonly name: string;
  readonly metric: PreparedTask['metric'];
  readonly validation: { readonly length: number };
  readonly validationPrompts: readonly { readonly expected: string }[];
  readonly labelWords?: readonly string[];
  /** Set when the validation holds only the sample, drawn from the whole split before tokenization. */
  readonly validationSample?: PreparedTask['validationSample'];
}

export function evaluationSample(task: SampleSource, requested: number | 'all', seed: number): EvaluationSample {
  if (task.validationSample && task.validationSample.requested === requested) return presampled(task, task.validationSample);
  const splitSize = task.validation.length;
  const notices: string[] = [];
  if (requested !== 'all' && requested > splitSize) {
    notices.push(`${requested} evaluation examples were asked for, but the validation split of "${task.name}" holds ${splitSize}: all ${splitSize} are evaluated.`);
  }
  const size = requested === 'all' ? splitSize : Math.min(requested, splitSize);
  const random = Random.fromSeed(sampleSeed(seed, task.name));
  const classification = task.metric === 'accuracy' && task.labelWords !== undefined && task.validationPrompts.length === splitSize;
  if (!classification) {
    const indices = size === splitSize ? range(splitSize) : shuffleInPlace(range(splitSize), random).slice(0, size).sort((a, b) => a - b);
    return { indices, splitSize, requested, notices };
  }

  const byLabel = new Map<string, number[]>(task.labelWords!.map((word) => [word, []]));
  task.validationPrompts.forEach((prompt, index) => {
    const members = byLabel.get(prompt.expected) ?? [];
    members.push(index);
    byLabel.set(prompt.expected, members);
  });
  const missing = [...byLabel].filter(([, members]) => members.length === 0).map(([word]) => word.trim());
  if (missing.length > 0) {
    notices.push(`The validation split of "${task.name}" has no example labelled ${missing.map((word) => `"${word}"`).join(', ')}: its recall cannot be measured and the sample cannot include it.`);
  }
  const quotas = stratifiedQuotas([...byLabel.values()].map((members) => members.length), size);
  const indices: number[] = [];
  [...byLabel.values()].forEach((members, i) => indices.push(...shuffleInPlace([...members], random).slice(0, quotas[i])));
  indices.sort((a, b) => a - b);
  const countOf = (chosen: readonly number[]) => {
    const counts = Object.fromEntries([...byLabel.keys()].map((word) => [word.trim(), 0]));
    for (const index of chosen) counts[task.validationPrompts[index]!.expected.trim()]! += 1;
    return counts;
  };
  return { indices, splitSize, requested, labels: countOf(indices), splitLabels: countOf(range(splitSize)), notices };
}

/**
 * A validation that is already the sample (only its examples were tokenized): every example is
 * evaluated, and the split's size and label counts are those of the whole split it was drawn from.
 * Labels are counted again, since tokenization may have dropped an example of the sample.
 */
function presampled(task: SampleSource, drawn: NonNullable<SampleSource['validationSample']>): EvaluationSample {
  const indices = range(task.validation.length);
  if (!drawn.splitLabels) return { ...drawn, indices };
  const labels = Object.fromEntries(Object.keys(drawn.splitLabels).map((word) => [word, 0]));
  for (const prompt of task.validationPrompts) labels[prompt.expected.trim()] = (labels[prompt.expected.trim()] ?? 0) + 1;
  return { ...drawn, indices, labels };
}

/**
 * How many of each group a sample of `size` takes: size · share, rounded down, with the examples
 * left over going to the largest remainders (ties to the earlier group), never more than a group has.
 */
export function stratifiedQuotas(groupSizes: readonly number[], size: number): number[] {
  const total = groupSizes.reduce((a, b) => a + b, 0);
  if (total === 0) return groupSizes.map(() => 0);
  const exact = groupSizes.map((n) => (n * size) / total);
  const quotas = exact.map(Math.floor);
  let left = size - quotas.reduce((a, b) => a + b, 0);
  const order = exact.map((value, i) => ({ i, remainder: value - quotas[i]! })).sort((a, b) => b.remainder - a.remainder || a.i - b.i);
  for (const { i } of order) {
    if (left === 0) break;
    if (quotas[i]! < groupSizes[i]!) {
      quotas[i]!++;
      left--;
    }
  }
  return quotas;
}

/** The task's own seed: tasks of one recipe draw independent samples, each stable across runs. */
function sampleSeed(seed: number, taskName: string): number {
  let hash = 2166136261;
  for (const char of taskName) hash = Math.imul(hash ^ char.codePointAt(0)!, 16777619) >>> 0;
  return (hash ^ seed) >>> 0;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
