import { describe, expect, it } from 'vitest';
import { argmaxReference, nucleusProbabilities, sampleTopPReference } from './sampling.ts';

describe('sampling reference', () => {
  it('takes the lowest index among tied maxima, as torch.argmax', () => {
    expect(argmaxReference([1, 5, 2, 5, 5])).toBe(1);
    expect(argmaxReference([-3])).toBe(0);
  });

  it('keeps the shortest most-probable prefix reaching top_p and renormalizes it', () => {
    // Probabilities 0.5, 0.3, 0.2 (as logits of their logs): top_p 0.7 needs the first two.
    const row = [Math.log(0.5), Math.log(0.2), Math.log(0.3)];
    const probabilities = nucleusProbabilities(row, 1, 0.7);
    expect(probabilities[0]).toBeCloseTo(0.5 / 0.8, 12);
    expect(probabilities[1]).toBe(0);
    expect(probabilities[2]).toBeCloseTo(0.3 / 0.8, 12);
  });

  it('includes a token whose mass makes the prefix reach top_p exactly', () => {
    const row = [Math.log(0.5), Math.log(0.25), Math.log(0.25)];
    expect(Array.from(nucleusProbabilities(row, 1, 0.5))).toEqual([1, 0, 0]);
  });

  it('keeps every token at top_p = 1 and sharpens with a temperature below 1', () => {
    const row = [0, 1];
    const plain = nucleusProbabilities(row, 1, 1);
    expect(plain[1]).toBeCloseTo(Math.E / (1 + Math.E), 12);
    expect(nucleusProbabilities(row, 0.5, 1)[1]).toBeCloseTo(Math.exp(2) / (1 + Math.exp(2)), 12);
  });

  it('breaks probability ties by lowest index when forming the nucleus', () => {
    expect(Array.from(nucleusProbabilities(new Array(10).fill(0), 1, 0.35), (p) => p > 0)).toEqual([true, true, true, true, false, false, false, false, false, false]);
  });

  it('reduces to argmax for a tiny top_p whatever u is', () => {
    const row = [0.1, 2, -1, 2, 1.9];
    for (const u of [0, 0.5, 0.999]) expect(sampleTopPReference(row, 1, 1e-9, u)).toBe(1);
  });

  it('inverts the cumulative distribution in index order over the nucleus', () => {
    // Nucleus {0, 2} with renormalized probabilities 0.625 and 0.375.
    const row = [Math.log(0.5), Math.log(0.2), Math.log(0.3)];
    expect(sampleTopPReference(row, 1, 0.7, 0)).toBe(0);
    expect(sampleTopPReference(row, 1, 0.7, 0.62)).toBe(0);
    expect(sampleTopPReference(row, 1, 0.7, 0.63)).toBe(2);
    expect(sampleTopPReference(row, 1, 0.7, 0.9999)).toBe(2);
  });
});
