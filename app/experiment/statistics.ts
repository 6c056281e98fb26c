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

/** Fills `into` with indices drawn uniformly with replacement from 0..into.length−1 (buffers are reused: the bootstrap is hot). */
function draw(random: () => number, into: Int32Array): Int32Array {
  const count = into.length;
  for (let k = 0; k < count; k++) into[k] = Math.floor(random() * count);
  return into;
}

/** Mean over the drawn seeds of the mean over the drawn examples. */
function resampledMean(values: readonly (readonly number[])[], seeds: Int32Array, examples: Int32Array): number {
  let total = 0;
  for (let a = 0; a < seeds.length; a++) {
    const row = values[seeds[a]!]!;
    let sum = 0;
    for (let b = 0; b < examples.length; b++) sum += row[examples[b]!]!;
    total += sum / examples.length;
  }
  return total / seeds.length;
}

function identity(count: number): Int32Array {
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) out[i] = i;
  return out;
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
  const seeds = new Int32Array(S);
  const examples = new Int32Array(n);
  const replicates: number[] = [];
  for (let r = 0; r < BOOTSTRAP_REPLICATES; r++) {
    draw(random, seeds);
    replicates.push(resampledMean(values, seeds, draw(random, examples)));
  }
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
  const seeds = new Int32Array(S);
  const examples = pairs.map(({ arm }) => new Int32Array(arm[0]!.length));
  const replicates: number[] = [];
  for (let r = 0; r < BOOTSTRAP_REPLICATES; r++) {
    draw(random, seeds);
    for (const buffer of examples) draw(random, buffer);
    replicates.push(differenceOf(seeds, examples));
  }
  const ci = percentileInterval(replicates);
  return { delta, ci, significant: ci[0] > 0 || ci[1] < 0 };
}

/** Higher is better for every metric but the loss. */
export function orientationOf(metric: string): Orientation {
  return metric === 'loss' ? -1 : 1;
}
