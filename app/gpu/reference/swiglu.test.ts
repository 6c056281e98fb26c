import { describe, expect, it } from 'vitest';
import { finiteDifferenceGradient, relativeError, weightedSum } from '../../../test/numeric.ts';
import { Random } from '../../util/random.ts';
import { sigmoid, swigluBackwardReference, swigluForwardReference } from './swiglu.ts';

describe('swiglu reference', () => {
  const random = Random.fromSeed(9);
  const values = (count: number, scale: number): Float64Array => Float64Array.from({ length: count }, () => random.uniform(-scale, scale));

  it('computes silu(gate)·up: silu(1) = 1/(1 + e⁻¹), silu(0) = 0', () => {
    const h = swigluForwardReference([1, 0, -2], [1, 5, 3]);
    expect(h[0]).toBeCloseTo(1 / (1 + Math.exp(-1)), 15);
    expect(h[1]).toBe(0);
    expect(h[2]).toBeCloseTo((3 * -2) / (1 + Math.exp(2)), 15);
  });

  it('keeps sigmoid finite and exact at ±1000, where exp(1000) overflows', () => {
    expect(sigmoid(1000)).toBe(1);
    expect(sigmoid(-1000)).toBe(0);
    expect(sigmoid(-30)).toBeCloseTo(Math.exp(-30) / (1 + Math.exp(-30)), 25);
  });

  it("GeGLU's gelu_tanh: gelu(0) = 0, gelu(1) = ½(1 + tanh(√(2/π)·1.044715)), and its backward matches finite differences", () => {
    expect(Array.from(swigluForwardReference([0, 1], [1, 1], 'gelu_tanh'))).toEqual([0, 0.5 * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * 1.044715))]);
    const gate = values(40, 6);
    const up = values(40, 2);
    const g = values(40, 1);
    const { dgate, dup } = swigluBackwardReference(gate, up, g, 'gelu_tanh');
    const loss = () => weightedSum(swigluForwardReference(gate, up, 'gelu_tanh'), g);
    expect(relativeError(dgate, finiteDifferenceGradient(loss, gate))).toBeLessThan(1e-8);
    expect(relativeError(dup, finiteDifferenceGradient(loss, up))).toBeLessThan(1e-8);
  });

  it('backward dgate and dup match central finite differences', () => {
    const gate = values(40, 6);
    const up = values(40, 2);
    const g = values(40, 1);
    const { dgate, dup } = swigluBackwardReference(gate, up, g);
    const loss = () => weightedSum(swigluForwardReference(gate, up), g);
    expect(relativeError(dgate, finiteDifferenceGradient(loss, gate))).toBeLessThan(1e-8);
    expect(relativeError(dup, finiteDifferenceGradient(loss, up))).toBeLessThan(1e-8);
  });
});
