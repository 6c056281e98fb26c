import { describe, expect, it } from 'vitest';
import { residualAccumulateReference, residualAddReference } from './residual.ts';

describe('residual reference', () => {
  it('adds elementwise', () => {
    expect(Array.from(residualAddReference([1, -2, 0.5], [3, 2, 0.25]))).toEqual([4, 0, 0.75]);
  });

  it('accumulates into x in place (gradients of one tensor summed)', () => {
    const x = Float64Array.from([1, 2, 3]);
    residualAccumulateReference(x, [10, 20, 30]);
    residualAccumulateReference(x, [100, 200, 300]);
    expect(Array.from(x)).toEqual([111, 222, 333]);
  });
});
