import { describe, expect, it } from 'vitest';
import { finiteDifferenceGradient, relativeError } from '../../../test/numeric.ts';
import { Random } from '../../util/random.ts';
import { crossEntropyReference, IGNORE_INDEX, logitsReference, softcapReference } from './cross_entropy.ts';

function randomCase(BT: number, C: number, V: number, seed: number) {
  const random = Random.fromSeed(seed);
  const x = Float64Array.from({ length: BT * C }, () => random.uniform(-1, 1));
  const w = Float64Array.from({ length: V * C }, () => random.uniform(-1, 1));
  const labels = Array.from({ length: BT }, () => random.int(V));
  return { BT, C, V, x, w, labels };
}

describe('cross_entropy reference', () => {
  it('matches central finite differences of gradScale·lossSum for dX, with ignored labels', () => {
    const { BT, C, V, x, w, labels } = randomCase(5, 6, 11, 1);
    labels[1] = IGNORE_INDEX;
    labels[3] = IGNORE_INDEX;
    const gradScale = 1 / 3;
    const { dx } = crossEntropyReference({ BT, C, V, x, w, labels, gradScale });
    const numeric = finiteDifferenceGradient(() => gradScale * crossEntropyReference({ BT, C, V, x, w, labels, gradScale }).lossSum, x);
    expect(relativeError(dx, numeric)).toBeLessThan(1e-7);
  });

  it('gives ignored rows zero loss and zero gradient, and counts only labelled rows', () => {
    const { BT, C, V, x, w, labels } = randomCase(4, 3, 7, 2);
    labels[0] = IGNORE_INDEX;
    const result = crossEntropyReference({ BT, C, V, x, w, labels, gradScale: 1 });
    expect(result.labelCount).toBe(3);
    expect(result.rowLoss[0]).toBe(0);
    expect(Array.from(result.dx.subarray(0, C))).toEqual([0, 0, 0]);
  });

  it('counts labels that are neither -100 nor a token id as invalid and gives them no loss', () => {
    const { BT, C, V, x, w } = randomCase(3, 2, 5, 3);
    const result = crossEntropyReference({ BT, C, V, x, w, labels: [5, -1, 2], gradScale: 1 });
    expect(result.invalidLabels).toBe(2);
    expect(result.labelCount).toBe(1);
    expect(result.lossSum).toBe(result.rowLoss[2]);
  });

  it('equals log V for all-equal logits', () => {
    const C = 2;
    const V = 9;
    const result = crossEntropyReference({ BT: 1, C, V, x: [0, 0], w: new Float64Array(V * C), labels: [4], gradScale: 1 });
    expect(result.lossSum).toBeCloseTo(Math.log(V), 14);
  });

  it('stays finite for logits in the thousands (subtracts the row max)', () => {
    const result = crossEntropyReference({ BT: 1, C: 1, V: 3, x: [1000], w: [1, 2, 3], labels: [0], gradScale: 1 });
    expect(result.lossSum).toBeCloseTo(2000 + Math.log(1 + Math.exp(-1000) + Math.exp(-2000)), 9);
  });

  it('projects exactly the selected rows', () => {
    const { C, V, x, w } = randomCase(4, 3, 5, 4);
    const all = logitsReference(x, w, [0, 1, 2, 3], C, V);
    const picked = logitsReference(x, w, [3, 1], C, V);
    expect(Array.from(picked)).toEqual([...all.subarray(3 * V, 4 * V), ...all.subarray(V, 2 * V)]);
  });
});

describe('cross_entropy reference with final-logit soft-capping', () => {
  it('caps a known logit pair: loss = softplus(c₁ − c₀) with cᵢ = 2·tanh(lᵢ / 2)', () => {
    // x = [1], W = [[6], [−4]]: raw logits 6 and −4, capped 2·tanh(3) and 2·tanh(−2); label 0.
    const result = crossEntropyReference({ BT: 1, C: 1, V: 2, x: [1], w: [6, -4], labels: [0], gradScale: 1, softcap: 2 });
    const [c0, c1] = [2 * Math.tanh(3), 2 * Math.tanh(-2)];
    expect(result.lossSum).toBeCloseTo(Math.log(1 + Math.exp(c1 - c0)), 14);
    expect(Array.from(softcapReference(Float64Array.of(6, -4, 0), 2))).toEqual([c0, c1, 0]);
  });

  it('matches central finite differences for dX with cap 2 on logits of magnitude ~5, where the cap matters', () => {
    const { BT, C, V, x, w, labels } = randomCase(5, 6, 11, 5);
    for (let i = 0; i < x.length; i++) x[i]! *= 4;
    labels[2] = IGNORE_INDEX;
    const raw = logitsReference(x, w, [0, 1, 3, 4], C, V);
    const largest = raw.reduce((m, value) => Math.max(m, Math.abs(value)), 0);
    expect(largest, 'logits reach past the cap').toBeGreaterThan(4);
    const gradScale = 1 / 4;
    const capped = crossEntropyReference({ BT, C, V, x, w, labels, gradScale, softcap: 2 });
    const numeric = finiteDifferenceGradient(() => gradScale * crossEntropyReference({ BT, C, V, x, w, labels, gradScale, softcap: 2 }).lossSum, x);
    expect(relativeError(capped.dx, numeric)).toBeLessThan(1e-7);
    const uncapped = crossEntropyReference({ BT, C, V, x, w, labels, gradScale });
    expect(relativeError(capped.dx, uncapped.dx), 'the cap changes the gradient').toBeGreaterThan(0.1);
    expect(Math.abs(capped.lossSum - uncapped.lossSum) / uncapped.lossSum, 'the cap changes the loss').toBeGreaterThan(0.1);
  });
});
