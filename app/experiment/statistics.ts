/**
 * The numbers an experiment reports, from per-example scores: a table `values[s][i]` holds the score
 * of validation example i under replicate seed s.
 *
 * - mean: the mean over seeds of each seed's mean over examples (every seed weighs the same);
 * - std: the sample standard deviation of the per-seed means (0 with one seed);
 * - 95% interval: a percentile bootstrap that resamples both sources of noise at once — seeds with
 *   replacement and validation examples with replacement (the same examples for every drawn seed),
 *   2,000 replicates, from a seeded generator so the same results give the same interval;
 * - an effect compares two arms on the same examples and seeds: every replicate draws one set of seeds
 *   and examples and applies it to both (a paired bootstrap), which removes the examples' own
 *   difficulty from the comparison. "Significant" = the interval excludes zero.
 *
 * Effects are oriented so that a positive delta means "better for the target": higher accuracy or
 * score, lower loss.
 */

export const BOOTSTRAP_REPLICATES = 2000;

export type Orientation = 1 | -1;

export interface Summary {
  mean: number;
  std: number;
  ci: [number, number];
  /** Validation examples per seed. */
  n: number;
}

export interface Effect {
  delta: number;
  ci: [number, number];
  significant: boolean;
}

/** mulberry32: a small, fast, seeded generator of uniform numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 32-bit FNV-1a hash of a label, so each statistic has its own reproducible random stream. */
export function hashLabel(label: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) hash = Math.imul(hash ^ label.charCodeAt(i), 0x01000193) >>> 0;
  return hash;
}

function draws(random: () => number, count: number): Int32Array {
  return Int32Array.from({ length: count }, () => Math.floor(random() * count));
}

/** Mean over the drawn seeds of the mean over the drawn examples. */
function resampledMean(values: readonly (readonly number[])[], seeds: Int32Array, examples: Int32Array): number {
  let total = 0;
  for (const s of seeds) {
    const row = values[s]!;
    let sum = 0;
    for (const i of examples) sum += row[i]!;
    total += sum / examples.length;
  }
  return total / seeds.length;
}

function identity(count: number): Int32Array {
  return Int32Array.from({ length: count }, (_, i) => i);
}

/** The p-quantile of sorted values, by linear interpolation between order statistics. */
export function quantile(sorted: readonly number[], p: number): number {
  const position = (sorted.length - 1) * p;
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (position - low);
}

function percentileInterval(replicates: number[]): [number, number] {
  replicates.sort((a, b) => a - b);
  return [quantile(replicates, 0.025), quantile(replicates, 0.975)];
}

function checkTable(values: readonly (readonly number[])[]): void {
  if (values.length === 0 || values[0]!.length === 0) throw new RangeError('a statistic needs at least one seed and one example');
  if (values.some((row) => row.length !== values[0]!.length)) throw new RangeError('every seed must score the same examples');
}

export function summarize(values: readonly (readonly number[])[], seed: number): Summary {
  checkTable(values);
  const S = values.length;
  const n = values[0]!.length;
  const seedMeans = values.map((row) => row.reduce((a, b) => a + b, 0) / n);
  const mean = seedMeans.reduce((a, b) => a + b, 0) / S;
  const std = S > 1 ? Math.sqrt(seedMeans.reduce((sum, m) => sum + (m - mean) ** 2, 0) / (S - 1)) : 0;
  const random = seededRandom(seed);
  const replicates = Array.from({ length: BOOTSTRAP_REPLICATES }, () => resampledMean(values, draws(random, S), draws(random, n)));
  return { mean, std, ci: percentileInterval(replicates), n };
}

/**
 * The oriented difference of arm and baseline, averaged over one or more targets. Each target's pair
 * of tables must share seeds and examples; each target draws its own examples in every replicate.
 */
export function pairedEffect(pairs: readonly { arm: readonly (readonly number[])[]; baseline: readonly (readonly number[])[]; orientation: Orientation }[], seed: number): Effect {
  for (const { arm, baseline } of pairs) {
    checkTable(arm);
    checkTable(baseline);
    if (arm.length !== baseline.length || arm[0]!.length !== baseline[0]!.length) throw new RangeError('an effect compares two arms on the same seeds and examples');
  }
  const S = pairs[0]!.arm.length;
  const differenceOf = (seeds: Int32Array, examples: Int32Array[]) =>
    pairs.reduce((sum, { arm, baseline, orientation }, t) => sum + orientation * (resampledMean(arm, seeds, examples[t]!) - resampledMean(baseline, seeds, examples[t]!)), 0) / pairs.length;
  const delta = differenceOf(identity(S), pairs.map(({ arm }) => identity(arm[0]!.length)));
  const random = seededRandom(seed);
  const replicates = Array.from({ length: BOOTSTRAP_REPLICATES }, () => {
    const seeds = draws(random, S);
    return differenceOf(seeds, pairs.map(({ arm }) => draws(random, arm[0]!.length)));
  });
  const ci = percentileInterval(replicates);
  return { delta, ci, significant: ci[0] > 0 || ci[1] < 0 };
}

/** Higher is better for every metric but the loss. */
export function orientationOf(metric: string): Orientation {
  return metric === 'loss' ? -1 : 1;
}
