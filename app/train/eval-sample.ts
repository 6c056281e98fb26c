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

/** One example of the validation split before tokenization: its row, and the answer its prompt expects. */
export interface SplitCandidate {
  readonly row: number;
  /** Classification: the label word; '' elsewhere. */
  readonly expected: string;
}

/**
 * What a sample is drawn from: a prepared task, or (app/train/prepare/evaluated-rows.ts) a split's
 * examples before tokenization, each with the answer its prompt will expect.
 */
export interface SampleSource {
  readonly name: string;
  readonly metric: PreparedTask['metric'];
  readonly validation: readonly { readonly source: { readonly row: number } }[];
  readonly validationPrompts: readonly { readonly expected: string }[];
  readonly labelWords?: readonly string[];
  /** Set when the validation holds only the sample, drawn from the whole split before tokenization. */
  readonly validationSample?: PreparedTask['validationSample'];
  /** Set when tokenization dropped examples of the split: the split as it was before (prepare.ts). */
  readonly validationSplit?: PreparedTask['validationSplit'];
}

/**
 * The sample drawn from a split whose every example is known to survive tokenization or not: a
 * prepared task's validation (the survivors; the split before tokenization when it differs).
 */
export function evaluationSample(task: SampleSource, requested: number | 'all', seed: number): EvaluationSample {
  if (task.validationSample && task.validationSample.requested === requested) return presampled(task, task.validationSample);
  const { candidates, indexOf } = splitOf(task);
  const draw = drawSample(planSample(task, candidates, requested, seed), (candidate) => indexOf(candidate) !== undefined);
  if ('need' in draw) throw new Error(`every example of "${task.name}" is known to survive tokenization or not, yet the sample asked about ${draw.need.length} more`);
  const facts = splitFacts(task, candidates, requested);
  const labels = facts.splitLabels ? { labels: labelCounts(facts.splitLabels, draw.candidates.map((candidate) => candidates[candidate]!.expected)) } : {};
  return withShortfall(task, { ...facts, indices: draw.candidates.map((candidate) => indexOf(candidate)!), ...labels });
}

/**
 * The split a prepared task's sample is drawn from, and where each of its examples sits in the task's
 * validation (undefined for one tokenization dropped). Both keep the split's order, so the indices
 * of a sample stay ascending.
 */
function splitOf(task: SampleSource): { candidates: readonly SplitCandidate[]; indexOf: (candidate: number) => number | undefined } {
  if (!task.validationSplit) {
    const candidates = task.validation.map((example, index) => ({ row: example.source.row, expected: task.validationPrompts[index]?.expected ?? '' }));
    return { candidates, indexOf: (candidate) => candidate };
  }
  const candidates = task.validationSplit;
  const indexOfRow = new Map(task.validation.map((example, index) => [example.source.row, index]));
  return { candidates, indexOf: (candidate) => indexOfRow.get(candidates[candidate]!.row) };
}

/**
 * How the sample is drawn, before anything is known of tokenization: the candidates in groups (one per
 * label for classification, in labelWords' order, or one group), each group in a seeded order, and how
 * many the sample takes. Each group's order is a Fisher-Yates shuffle of its members from one stream
 * seeded by the recipe's seed and the task's name, so when tokenization drops nothing the sample is the
 * one a shuffle of the split's examples always gave.
 */
export interface SamplePlan {
  readonly groups: readonly (readonly number[])[];
  readonly requested: number;
}

export function planSample(task: Pick<SampleSource, 'name' | 'metric' | 'labelWords'>, candidates: readonly SplitCandidate[], requested: number | 'all', seed: number): SamplePlan {
  const random = Random.fromSeed(sampleSeed(seed, task.name));
  const wanted = requested === 'all' ? candidates.length : requested;
  if (!isClassification(task, candidates)) return { groups: [shuffleInPlace(range(candidates.length), random)], requested: wanted };
  const byLabel = new Map<string, number[]>(task.labelWords!.map((word) => [word, []]));
  candidates.forEach((candidate, index) => {
    const members = byLabel.get(candidate.expected) ?? [];
    members.push(index);
    byLabel.set(candidate.expected, members);
  });
  return { groups: [...byLabel.values()].map((members) => shuffleInPlace(members, random)), requested: wanted };
}

/** The candidates the sample takes (ascending), or those whose fate under tokenization it must learn first. */
export type SampleDraw = { readonly candidates: readonly number[] } | { readonly need: readonly number[] };

/**
 * Each group gives the first survivors of its seeded order up to its quota; quotas are the largest-
 * remainder shares of the groups' sizes (stratifiedQuotas). A group whose survivors run out before its
 * quota counts only its survivors from then on, and the quotas are shared out again, so the sample is
 * as large as asked whenever the split has that many survivors.
 *
 * `survives` answers true or false for a candidate whose tokenization is known, undefined otherwise;
 * the draw asks only about candidates in its groups' orders, and returns `need` (the next unknown ones,
 * as many as still missing) until every answer it used is known. It is one function of the answers it
 * reads, so a caller that tokenizes the needed candidates and draws again (prepare.ts, a run) ends with
 * the very sample a draw over the wholly tokenized split gives (evaluationSample).
 */
export function drawSample(plan: SamplePlan, survives: (candidate: number) => boolean | undefined): SampleDraw {
  const sizes = plan.groups.map((group) => group.length);
  for (;;) {
    const quotas = stratifiedQuotas(sizes, Math.min(plan.requested, sizes.reduce((a, b) => a + b, 0)));
    const need: number[] = [];
    const taken: number[][] = [];
    let regrouped = false;
    plan.groups.forEach((group, g) => {
      const kept: number[] = [];
      let unknown = false;
      for (const candidate of group) {
        if (kept.length === quotas[g]) break;
        const known = survives(candidate);
        if (known === undefined) {
          need.push(...group.filter((other) => survives(other) === undefined).slice(0, quotas[g]! - kept.length));
          unknown = true;
          break;
        }
        if (known) kept.push(candidate);
      }
      taken.push(kept);
      // Every member was read and too few survive: the group holds only its survivors.
      if (!unknown && kept.length < quotas[g]! && sizes[g] !== kept.length) {
        sizes[g] = kept.length;
        regrouped = true;
      }
    });
    if (need.length > 0) return { need };
    if (!regrouped) return { candidates: taken.flat().sort((a, b) => a - b) };
  }
}

/** What a sample says about the split it was drawn from; known before tokenization. */
export function splitFacts(task: Pick<SampleSource, 'name' | 'metric' | 'labelWords'>, candidates: readonly SplitCandidate[], requested: number | 'all'): Omit<EvaluationSample, 'indices' | 'labels'> {
  const splitSize = candidates.length;
  const notices: string[] = [];
  if (requested !== 'all' && requested > splitSize) {
    notices.push(`${requested} evaluation examples were asked for, but the validation split of "${task.name}" holds ${splitSize}: all ${splitSize} are evaluated.`);
  }
  if (!isClassification(task, candidates)) return { splitSize, requested, notices };
  const splitLabels = labelCounts(Object.fromEntries(task.labelWords!.map((word) => [word.trim(), 0])), candidates.map((candidate) => candidate.expected));
  const missing = task.labelWords!.filter((word) => splitLabels[word.trim()] === 0).map((word) => word.trim());
  if (missing.length > 0) {
    notices.push(`The validation split of "${task.name}" has no example labelled ${missing.map((word) => `"${word}"`).join(', ')}: its recall cannot be measured and the sample cannot include it.`);
  }
  return { splitSize, requested, splitLabels, notices };
}

/** Classification is sampled by label when every candidate carries its label word. */
function isClassification(task: Pick<SampleSource, 'metric' | 'labelWords'>, candidates: readonly SplitCandidate[]): boolean {
  return task.metric === 'accuracy' && task.labelWords !== undefined && candidates.every((candidate) => candidate.expected !== '');
}

/** Examples per label word (trimmed), every label of the split listed, in the split's order of labels. */
function labelCounts(splitLabels: Readonly<Record<string, number>>, words: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(Object.keys(splitLabels).map((word) => [word, 0]));
  for (const word of words) counts[word.trim()] = (counts[word.trim()] ?? 0) + 1;
  return counts;
}

/** Says so when tokenization left fewer examples of the split than the sample asked for. */
function withShortfall(task: Pick<SampleSource, 'name'>, sample: EvaluationSample): EvaluationSample {
  const asked = sample.requested === 'all' ? sample.splitSize : Math.min(sample.requested, sample.splitSize);
  const drawn = sample.indices.length;
  if (drawn >= asked) return sample;
  const notice = `${asked} evaluation examples were asked for, but tokenization kept fewer of the validation split of "${task.name}" (it drops an example longer than max_length, or left with nothing to learn): ${drawn} are evaluated.`;
  return { ...sample, notices: [...sample.notices, notice] };
}

/**
 * A validation that is already the sample (only its examples were tokenized): every example is
 * evaluated, and the split's size and label counts are those of the whole split it was drawn from.
 */
function presampled(task: SampleSource, drawn: NonNullable<SampleSource['validationSample']>): EvaluationSample {
  const indices = range(task.validation.length);
  if (!drawn.splitLabels) return withShortfall(task, { ...drawn, indices });
  return withShortfall(task, { ...drawn, indices, labels: labelCounts(drawn.splitLabels, task.validationPrompts.map((prompt) => prompt.expected)) });
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
