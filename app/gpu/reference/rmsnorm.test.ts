import { describe, expect, it } from 'vitest';
import { finiteDifferenceGradient, relativeError, weightedSum } from '../../../test/numeric.ts';
import { Random } from '../../util/random.ts';
import { rmsnormBackwardReference, rmsnormForwardReference } from './rmsnorm.ts';

describe('rmsnorm reference', () => {
  const random = Random.fromSeed(5);
  const values = (count: number, low = -1, high = 1): Float64Array => Float64Array.from({ length: count }, () => random.uniform(low, high));

  it('divides each row by its root mean square and scales by w', () => {
    const { y, rstd } = rmsnormForwardReference({ rows: 1, C: 2, x: [3, 4], w: [1, 2], eps: 0 });
    // mean(x²) = 12.5
    expect(rstd[0]).toBeCloseTo(1 / Math.sqrt(12.5), 15);
    expect(Array.from(y)).toEqual([3 / Math.sqrt(12.5), 8 / Math.sqrt(12.5)].map((v) => expect.closeTo(v, 15)));
  });

  for (const eps of [1e-5, 1e-6]) {
    it(`backward dx matches central finite differences (rows 3, C 7, eps ${eps})`, () => {
      const shape = { rows: 3, C: 7, eps };
      const x = values(21);
      const w = values(7, 0.5, 1.5);
      const g = values(21);
      const { dx } = rmsnormBackwardReference({ ...shape, x, w, dy: g });
      const numeric = finiteDifferenceGradient(() => weightedSum(rmsnormForwardReference({ ...shape, x, w }).y, g), x);
      expect(relativeError(dx, numeric)).toBeLessThan(1e-7);
    });

    it(`backward dw matches central finite differences (rows 3, C 7, eps ${eps})`, () => {
      const shape = { rows: 3, C: 7, eps };
      const x = values(21);
      const w = values(7, 0.5, 1.5);
      const g = values(21);
      const { dw } = rmsnormBackwardReference({ ...shape, x, w, dy: g });
      const numeric = finiteDifferenceGradient(() => weightedSum(rmsnormForwardReference({ ...shape, x, w }).y, g), w);
      expect(relativeError(dw, numeric)).toBeLessThan(1e-7);
    });
  }
});
