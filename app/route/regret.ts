/**
 * Is the routed metric within noise of the oracle's? Both are scored on the same validation prompts,
 * so the comparison is paired, prompt by prompt: a prompt the router sends to the task's own adapter
 * scores the same both ways, and only misrouted prompts can differ.
 *
 * - The exact sign test counts the prompts where the routed answer scored better and worse than the
 *   oracle's (ties dropped) and asks how likely a split at least that lopsided is when neither is
 *   better: two-sided, p = min(1, 2·P(X ≤ min(better, worse))), X ~ Binomial(better + worse, ½).
 *   For 0/1 metrics (accuracy, numeric match) this is McNemar's exact test.
 * - The regret's 95% interval is a paired percentile bootstrap over the prompts
 *   (app/experiment/statistics.ts: 2,000 seeded replicates), so it reads in the metric's units.
 * "Within noise" means the sign test does not reject "no difference" at the 5% level.
 */
import { hashLabel, orientationOf, pairedEffect } from '../experiment/statistics.ts';

export const WITHIN_NOISE_LEVEL = 0.05;

export interface SignTest {
  /** Prompts where the routed answer scored better than the oracle's, worse, and the same. */
  better: number;
  worse: number;
  ties: number;
  /** Exact two-sided sign test of better against worse (McNemar's exact test for 0/1 scores). */
  p_value: number;
  /** p_value ≥ 0.05: the routed metric is within noise of the oracle's. */
  within_noise: boolean;
}

export interface RegretTest {
  regret_test: SignTest;
  /** The regret's 95% paired bootstrap interval, oriented as the regret (positive: the router cost something). */
  regret_interval: [number, number];
}

/** Two-sided exact sign test: p = min(1, 2·P(X ≤ min(a, b))) for X ~ Binomial(a + b, ½); 1 when a + b = 0. */
export function exactSignTest(a: number, b: number): number {
  if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || a < 0 || b < 0) throw new RangeError(`the sign test counts prompts: whole numbers of at least 0, got ${a} and ${b}`);
  const n = a + b;
  const low = Math.min(a, b);
  // A split as even as n allows has P(X ≤ low) ≥ ½ (exactly ½ for odd n): p = 1, without rounding.
  if (2 * low >= n - 1) return 1;
  // log C(n, k) − n·log 2, summed from k = 0 to low with the largest term factored out (no underflow for large n).
  const logTerms: number[] = [];
  let logChoose = 0;
  for (let k = 0; k <= low; k++) {
    if (k > 0) logChoose += Math.log((n - k + 1) / k);
    logTerms.push(logChoose - n * Math.LN2);
  }
  const largest = logTerms.at(-1)!;
  const tail = Math.exp(largest) * logTerms.reduce((sum, term) => sum + Math.exp(term - largest), 0);
  return Math.min(1, 2 * tail);
}

/**
 * The paired comparison of routed and oracle scores of the same prompts (index i is one prompt in
 * both). The bootstrap's random stream is seeded by the task's name and `seed`, so the same scores
 * give the same interval.
 */
export function regretTest(routed: readonly number[], oracle: readonly number[], metric: string, options: { task: string; seed: number }): RegretTest {
  if (routed.length !== oracle.length) throw new RangeError(`routed and oracle must score the same prompts: got ${routed.length} and ${oracle.length}`);
  // No prompts, no evidence either way: like the regret itself (a mean of nothing), the interval is undefined.
  if (routed.length === 0) return { regret_test: { better: 0, worse: 0, ties: 0, p_value: 1, within_noise: true }, regret_interval: [NaN, NaN] };
  const orientation = orientationOf(metric);
  let better = 0;
  let worse = 0;
  routed.forEach((score, i) => {
    const gain = orientation * (score - oracle[i]!);
    if (gain > 0) better++;
    else if (gain < 0) worse++;
  });
  const p = exactSignTest(better, worse);
  // pairedEffect gives orientation · (arm − baseline): with the oracle as the arm that is the regret.
  const effect = pairedEffect([{ arm: [oracle], baseline: [routed], orientation }], hashLabel(`router regret ${options.task}`) ^ options.seed);
  return { regret_test: { better, worse, ties: routed.length - better - worse, p_value: p, within_noise: p >= WITHIN_NOISE_LEVEL }, regret_interval: effect.ci };
}
