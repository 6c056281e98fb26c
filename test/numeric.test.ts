import { describe, expect, it } from 'vitest';
import { finiteDifferenceGradient, relativeError } from './numeric.ts';

describe('test numerics', () => {
  it('finite differences recover the gradient of a known function', () => {
    const x = Float64Array.from([0.3, -1.2, 2]);
    const f = () => Math.sin(x[0]!) * x[1]! + x[2]! ** 3;
    const gradient = finiteDifferenceGradient(f, x);
    const exact = [Math.cos(0.3) * -1.2, Math.sin(0.3), 3 * 4];
    expect(relativeError(gradient, exact)).toBeLessThan(1e-8);
    expect(Array.from(x)).toEqual([0.3, -1.2, 2]);
  });

  it('counts NaN as an infinite error', () => {
    expect(relativeError([NaN, 1], [1, 1])).toBe(Infinity);
  });
});
