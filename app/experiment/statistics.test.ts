import { describe, expect, it } from 'vitest';
import { BOOTSTRAP_REPLICATES, orientationOf, pairedEffect, quantile, seededRandom, summarize } from './statistics.ts';

/** Standard normal draws by Box–Muller from the seeded generator. */
function normals(seed: number, count: number): number[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random()));
}

describe('experiment statistics', () => {
  it('gives the mean of seed means and the sample standard deviation across seeds', () => {
    const values = [
      [1, 2, 3, 4],
      [2, 2, 2, 2],
      [0, 1, 0, 1],
    ];
    const seedMeans = [2.5, 2, 0.5];
    const mean = (2.5 + 2 + 0.5) / 3;
    const std = Math.sqrt(seedMeans.reduce((s, m) => s + (m - mean) ** 2, 0) / 2);
    const summary = summarize(values, 7);
    expect(summary.mean).toBeCloseTo(mean, 12);
    expect(summary.std).toBeCloseTo(std, 12);
    expect(summary.n).toBe(4);
    expect(summary.ci[0]).toBeLessThanOrEqual(summary.mean);
    expect(summary.ci[1]).toBeGreaterThanOrEqual(summary.mean);
  });

  it('has a zero-width interval when nothing varies, and std 0 with one seed', () => {
    expect(summarize([[0.25, 0.25, 0.25]], 1)).toEqual({ mean: 0.25, std: 0, ci: [0.25, 0.25], n: 3 });
  });

  it('matches the normal-theory interval mean ± 1.96·s/√n on a large sample of one seed', () => {
    const sample = normals(3, 400).map((x) => 5 + 2 * x);
    const n = sample.length;
    const mean = sample.reduce((a, b) => a + b, 0) / n;
    const s = Math.sqrt(sample.reduce((sum, x) => sum + (x - mean) ** 2, 0) / (n - 1));
    const half = (1.96 * s) / Math.sqrt(n);
    const { ci } = summarize([sample], 11);
    expect(Math.abs(ci[0] - (mean - half))).toBeLessThan(0.15 * half);
    expect(Math.abs(ci[1] - (mean + half))).toBeLessThan(0.15 * half);
  });

  it('gives the same interval for the same seed, and uses its replicates count', () => {
    const values = [normals(1, 30), normals(2, 30)];
    expect(summarize(values, 5)).toEqual(summarize(values, 5));
    expect(BOOTSTRAP_REPLICATES).toBe(2000);
  });

  it('pairs the examples: a constant shift is an exact effect with a zero-width, significant interval', () => {
    const baseline = [normals(4, 20), normals(5, 20), normals(6, 20)];
    const arm = baseline.map((row) => row.map((x) => x + 0.3));
    const effect = pairedEffect([{ arm, baseline, orientation: 1 }], 9);
    expect(effect.delta).toBeCloseTo(0.3, 12);
    expect(effect.ci[0]).toBeCloseTo(0.3, 12);
    expect(effect.ci[1]).toBeCloseTo(0.3, 12);
    expect(effect.significant).toBe(true);
  });

  it('orients effects so that a lower loss is a positive delta', () => {
    const baseline = [[2, 2.2, 1.8, 2.1]];
    const arm = [[1.5, 1.6, 1.4, 1.7]];
    expect(orientationOf('loss')).toBe(-1);
    expect(orientationOf('accuracy')).toBe(1);
    const effect = pairedEffect([{ arm, baseline, orientation: orientationOf('loss') }], 2);
    expect(effect.delta).toBeCloseTo(0.475, 12);
    expect(effect.ci[0]).toBeGreaterThan(0);
  });

  it('finds no effect between identical arms, and an interval that straddles zero for pure noise', () => {
    const baseline = [normals(7, 40), normals(8, 40)];
    expect(pairedEffect([{ arm: baseline, baseline, orientation: 1 }], 3)).toEqual({ delta: 0, ci: [0, 0], significant: false });
    const noise = [normals(9, 40), normals(10, 40)];
    const effect = pairedEffect([{ arm: noise, baseline, orientation: 1 }], 3);
    expect(effect.ci[0]).toBeLessThan(effect.delta);
    expect(effect.ci[1]).toBeGreaterThan(effect.delta);
  });

  it('averages the effect over several targets', () => {
    const a = [[1, 1]];
    const b = [[0, 0]];
    expect(pairedEffect([{ arm: a, baseline: b, orientation: 1 }, { arm: b, baseline: b, orientation: 1 }], 1).delta).toBeCloseTo(0.5, 12);
  });

  it('refuses tables of different shapes', () => {
    expect(() => pairedEffect([{ arm: [[1, 2]], baseline: [[1, 2, 3]], orientation: 1 }], 1)).toThrow(/same seeds and examples/);
    expect(() => summarize([], 1)).toThrow(/at least one seed/);
  });

  it('interpolates quantiles between order statistics', () => {
    expect(quantile([0, 10], 0.25)).toBe(2.5);
    expect(quantile([1, 2, 3, 4, 5], 0.5)).toBe(3);
    expect(quantile([1, 2, 3, 4, 5], 0.975)).toBeCloseTo(4.9, 12);
  });
});
