import { describe, expect, it } from 'vitest';
import { exactSignTest, regretTest } from './regret.ts';

/** 2·Σ_{k ≤ min(a, b)} C(a + b, k) / 2^(a + b), capped at 1, in exact integer arithmetic. */
function exactTwoSided(a: number, b: number): number {
  const n = BigInt(a + b);
  const low = BigInt(Math.min(a, b));
  let choose = 1n;
  let tail = 0n;
  for (let k = 0n; k <= low; k++) {
    if (k > 0n) choose = (choose * (n - k + 1n)) / k;
    tail += choose;
  }
  const total = 1n << n;
  // Enough digits of tail / total for a float64 comparison.
  const scaled = Number((2n * tail * 10n ** 40n) / total) / 1e40;
  return Math.min(1, scaled);
}

describe('the exact sign test (McNemar’s exact test on discordant pairs)', () => {
  it('matches a table of known answers', () => {
    // 2·P(X ≤ k), X ~ Bin(n, ½), worked by hand: 22/1024, 2·21700/2^20, 2/32, 2/2^10.
    expect(exactSignTest(1, 9)).toBeCloseTo(22 / 1024, 15);
    expect(exactSignTest(15, 5)).toBeCloseTo((2 * 21700) / 1048576, 15);
    expect(exactSignTest(0, 5)).toBeCloseTo(2 / 32, 15);
    expect(exactSignTest(10, 0)).toBeCloseTo(2 / 1024, 15);
    // Balanced or nearly balanced splits, and no discordant prompt at all, are no evidence: p = 1.
    expect(exactSignTest(3, 3)).toBe(1);
    expect(exactSignTest(4, 3)).toBe(1);
    expect(exactSignTest(0, 0)).toBe(1);
    // McNemar's exact test of 0 against 1 discordant pair (the smallest split there is).
    expect(exactSignTest(0, 1)).toBe(1);
  });

  it('equals the exact integer sum for small and large counts, symmetric in its arguments', () => {
    for (const [a, b] of [[2, 8], [5, 25], [10, 30], [40, 60], [90, 110], [430, 570], [900, 1100], [0, 60]] as const) {
      const expected = exactTwoSided(a, b);
      expect(exactSignTest(a, b)).toBeCloseTo(expected, 12);
      expect(Math.abs(exactSignTest(a, b) - expected) / expected).toBeLessThan(1e-9);
      expect(exactSignTest(b, a)).toBe(exactSignTest(a, b));
    }
  });

  it('refuses counts that are not whole numbers of prompts', () => {
    expect(() => exactSignTest(-1, 3)).toThrow(RangeError);
    expect(() => exactSignTest(1.5, 3)).toThrow(/whole numbers/);
  });
});

describe('the routed metric against the oracle’s, prompt by prompt', () => {
  it('counts better, worse and tied prompts with the metric’s orientation, and tests them', () => {
    // Accuracy: routed wrong where the oracle was right on 9 prompts, right where it was wrong on 1.
    const oracle = [...Array(9).fill(1), 0, ...Array(20).fill(1)];
    const routed = [...Array(9).fill(0), 1, ...Array(20).fill(1)];
    const accuracy = regretTest(routed, oracle, 'accuracy', { task: 'fpb', seed: 0 });
    expect(accuracy.regret_test).toEqual({ better: 1, worse: 9, ties: 20, p_value: exactSignTest(1, 9), within_noise: false });
    // For a loss lower is better: the same numbers read the other way round.
    const loss = regretTest(routed, oracle, 'loss', { task: 'fpb', seed: 0 });
    expect(loss.regret_test).toMatchObject({ better: 9, worse: 1, ties: 20, within_noise: false });
    expect(loss.regret_interval[1]).toBeLessThan(0);
    expect(accuracy.regret_interval[0]).toBeGreaterThan(0);
  });

  it('calls a perfectly routed task within noise with a zero-width interval at 0', () => {
    const scores = [0.2, 0.9, 0.4, 1, 0];
    const test = regretTest(scores, [...scores], 'rouge_l', { task: 'alpaca', seed: 3 });
    expect(test.regret_test).toEqual({ better: 0, worse: 0, ties: 5, p_value: 1, within_noise: true });
    expect(test.regret_interval).toEqual([0, 0]);
  });

  it('keeps a constant difference as the interval’s both ends', () => {
    const oracle = [0.5, 0.7, 0.9, 0.3];
    const test = regretTest(oracle.map((score) => score - 0.25), oracle, 'rouge_l', { task: 'alpaca', seed: 1 });
    expect(test.regret_interval[0]).toBeCloseTo(0.25, 12);
    expect(test.regret_interval[1]).toBeCloseTo(0.25, 12);
    expect(test.regret_test.p_value).toBeCloseTo(2 / 16, 15);
  });

  it('gives the interval the normal approximation gives on many prompts', () => {
    // 400 prompts, 0/1 scores: routed loses 30, wins 10, ties 360. Regret d̄ = 20/400; sd of d per prompt √(40/400 − d̄²).
    const n = 400;
    const oracle = Array.from({ length: n }, (_, i) => (i < 30 ? 1 : i < 40 ? 0 : i % 2));
    const routed = Array.from({ length: n }, (_, i) => (i < 30 ? 0 : i < 40 ? 1 : i % 2));
    const test = regretTest(routed, oracle, 'accuracy', { task: 'fpb', seed: 7 });
    const mean = 20 / n;
    const se = Math.sqrt((40 / n - mean ** 2) / n);
    expect(test.regret_interval[0]).toBeCloseTo(mean - 1.96 * se, 2);
    expect(test.regret_interval[1]).toBeCloseTo(mean + 1.96 * se, 2);
    expect(test.regret_test.p_value).toBeCloseTo(exactTwoSided(10, 30), 12);
    expect(test.regret_test.within_noise).toBe(false);
    // The same scores give the same interval.
    expect(regretTest(routed, oracle, 'accuracy', { task: 'fpb', seed: 7 })).toEqual(test);
  });

  it('refuses score lists of different prompts', () => {
    expect(() => regretTest([1, 0], [1], 'accuracy', { task: 'fpb', seed: 0 })).toThrow(/same prompts/);
  });

  it('has no evidence and no interval for a task with no prompts', () => {
    const test = regretTest([], [], 'accuracy', { task: 'fpb', seed: 0 });
    expect(test.regret_test).toEqual({ better: 0, worse: 0, ties: 0, p_value: 1, within_noise: true });
    expect(test.regret_interval.every(Number.isNaN)).toBe(true);
  });
});
