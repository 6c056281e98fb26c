/**
 * Statistics shared by the mixture tests (not shipped code). Sampling tests run at a fixed seed, so
 * they are deterministic; the 0.001 level means a correct sampler would fail for about one seed in a
 * thousand, while a probability that is off by 5% of itself over 10⁵ draws already exceeds it.
 */
import { expect } from 'vitest';

/** Upper 0.001 quantiles of the chi-square distribution, indexed by degrees of freedom (1..12). */
const CHI_SQUARE_CRITICAL_0_001: readonly (number | undefined)[] = [
  undefined, 10.828, 13.816, 16.266, 18.467, 20.515, 22.458, 24.322, 26.124, 27.877, 29.588, 31.264, 32.909,
];

/** Pearson's statistic over the cells with a positive expectation. */
export function chiSquare(observed: readonly number[], expected: readonly number[]): number {
  return observed.reduce((sum, count, cell) => {
    const e = expected[cell]!;
    return e > 0 ? sum + (count - e) ** 2 / e : sum;
  }, 0);
}

/** Observed counts pass a chi-square goodness-of-fit test at level 0.001; cells expected empty must be empty. */
export function expectCountsToFit(observed: readonly number[], expected: readonly number[]): void {
  expected.forEach((e, cell) => {
    if (e === 0) expect(observed[cell], `cell ${cell} has expectation 0`).toBe(0);
  });
  const degreesOfFreedom = expected.filter((e) => e > 0).length - 1;
  if (degreesOfFreedom === 0) return;
  const critical = CHI_SQUARE_CRITICAL_0_001[degreesOfFreedom];
  if (critical === undefined) throw new Error(`no chi-square critical value for ${degreesOfFreedom} degrees of freedom`);
  const statistic = chiSquare(observed, expected);
  const shown = `chi-square ${statistic.toFixed(2)} over ${degreesOfFreedom} df; observed ${observed.join(', ')}, ` +
    `expected ${expected.map((e) => e.toFixed(1)).join(', ')}`;
  expect(statistic, shown).toBeLessThan(critical);
}

export function countBy(values: readonly number[], cells: number): number[] {
  const counts = new Array<number>(cells).fill(0);
  for (const value of values) counts[value]!++;
  return counts;
}
