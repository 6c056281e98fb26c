import { describe, expect, it } from 'vitest';
import {
  annealedProbabilities,
  annealingAlpha,
  cappedSizes,
  proportionalProbabilities,
  reverseAnnealingAlpha,
  temperatureProbabilities,
  uniformProbabilities,
} from './formulas.ts';

const sizes = [5000, 1200, 300, 40];
const total = 5000 + 1200 + 300 + 40;

function expectVectorClose(actual: readonly number[], expected: readonly number[], digits = 12): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((value, i) => expect(value, `entry ${i}`).toBeCloseTo(expected[i]!, digits));
}

describe('proportional', () => {
  it('gives each task nᵢ / Σn', () => {
    expectVectorClose(proportionalProbabilities(sizes), [5000 / total, 1200 / total, 300 / total, 40 / total]);
  });

  it('caps each size at K: pᵢ ∝ min(nᵢ, K)', () => {
    const cappedTotal = 1000 + 1000 + 300 + 40;
    expectVectorClose(proportionalProbabilities(sizes, 1000), [1000 / cappedTotal, 1000 / cappedTotal, 300 / cappedTotal, 40 / cappedTotal]);
  });

  it('is unchanged by a cap above every size', () => {
    expect(cappedSizes(sizes, 10_000)).toEqual(sizes);
  });
});

describe('uniform', () => {
  it('gives every task the same probability', () => {
    expect(uniformProbabilities(4)).toEqual([0.25, 0.25, 0.25, 0.25]);
  });
});

describe('temperature', () => {
  it('follows pᵢ ∝ min(nᵢ, K)^(1/T)', () => {
    const weights = [1000 ** 0.5, 1000 ** 0.5, 300 ** 0.5, 40 ** 0.5];
    const sum = weights.reduce((a, b) => a + b, 0);
    expectVectorClose(temperatureProbabilities(sizes, 2, 1000), weights.map((w) => w / sum));
  });

  it('temperature 1 equals proportional', () => {
    expectVectorClose(temperatureProbabilities(sizes, 1), [5000 / total, 1200 / total, 300 / total, 40 / total]);
  });

  it('temperature → ∞ approaches uniform', () => {
    expectVectorClose(temperatureProbabilities(sizes, 1e9), [0.25, 0.25, 0.25, 0.25], 8);
  });

  it('temperature → 0 puts all the probability on the largest task, without overflowing', () => {
    const probabilities = temperatureProbabilities(sizes, 0.001);
    expect(probabilities.every(Number.isFinite)).toBe(true);
    expectVectorClose(probabilities, [1, 0, 0, 0]);
  });

  it('ties at the cap stay tied at any temperature', () => {
    const [first, second] = temperatureProbabilities(sizes, 0.01, 1000);
    expect(first).toBeCloseTo(0.5, 12);
    expect(second).toBeCloseTo(0.5, 12);
  });
});

describe('annealing (Stickland & Murray 2019)', () => {
  it('annealed alpha is 1 in the first epoch and 0.2 in the last', () => {
    expect(annealingAlpha(1, 5)).toBe(1);
    expect(annealingAlpha(5, 5)).toBeCloseTo(0.2, 15);
  });

  it('annealed alpha falls by 0.8 / (E − 1) each epoch', () => {
    for (let epoch = 1; epoch <= 9; epoch++) expect(annealingAlpha(epoch, 9)).toBeCloseTo(1 - (0.8 * (epoch - 1)) / 8, 15);
  });

  it('annealed alpha is 1 when the run has a single epoch', () => {
    expect(annealingAlpha(1, 1)).toBe(1);
  });

  it('annealed probabilities follow pᵢ ∝ nᵢ^α', () => {
    const weights = sizes.map((n) => n ** 0.6);
    const sum = weights.reduce((a, b) => a + b, 0);
    expectVectorClose(annealedProbabilities(sizes, 0.6), weights.map((w) => w / sum));
  });

  it('reverse annealing alpha is 0.2 in the first epoch and 1 in the last', () => {
    expect(reverseAnnealingAlpha(1, 5)).toBeCloseTo(0.2, 15);
    expect(reverseAnnealingAlpha(5, 5)).toBe(1);
  });

  it('reverse annealing is the mirror image of annealing: α_rev(e) = α(E + 1 − e)', () => {
    for (let epoch = 1; epoch <= 7; epoch++) expect(reverseAnnealingAlpha(epoch, 7)).toBeCloseTo(annealingAlpha(8 - epoch, 7), 15);
  });

  it('reverse annealing alpha is 1 when the run has a single epoch', () => {
    expect(reverseAnnealingAlpha(1, 1)).toBe(1);
  });
});
