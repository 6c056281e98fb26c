import { describe, expect, it } from 'vitest';
import { finiteDifferenceGradient, relativeError, weightedSum } from '../../../test/numeric.ts';
import { Random } from '../../util/random.ts';
import { matmulNNReference, matmulNTReference, matmulTNReference } from './matmul.ts';

function randomArray(random: Random, count: number): Float64Array {
  return Float64Array.from({ length: count }, () => random.uniform(-1, 1));
}

describe('matmul references: nn and tn are the backward of nt', () => {
  for (const dims of [
    { M: 1, N: 1, K: 1 },
    { M: 3, N: 5, K: 7 },
    { M: 6, N: 2, K: 11 },
  ]) {
    const { M, N, K } = dims;
    const random = Random.fromSeed(M * 100 + N * 10 + K);
    const x = randomArray(random, M * K);
    const w = randomArray(random, N * K);
    const dy = randomArray(random, M * N);
    // A loss whose gradient with respect to Y is dY.
    const loss = () => weightedSum(matmulNTReference(dims, x, w), dy);

    it(`dY·W (nn) is the gradient with respect to X for M=${M} N=${N} K=${K}`, () => {
      expect(relativeError(matmulNNReference(dims, dy, w), finiteDifferenceGradient(loss, x))).toBeLessThan(1e-7);
    });

    it(`dYᵀ·X (tn) is the gradient with respect to W for M=${M} N=${N} K=${K}`, () => {
      expect(relativeError(matmulTNReference(dims, dy, x), finiteDifferenceGradient(loss, w))).toBeLessThan(1e-7);
    });
  }

  it('computes a product checked by hand', () => {
    // X = [[1, 2], [3, 4]], W = [[5, 6], [7, 8], [9, 10]]: X·Wᵀ = [[17, 23, 29], [39, 53, 67]].
    expect(Array.from(matmulNTReference({ M: 2, N: 3, K: 2 }, [1, 2, 3, 4], [5, 6, 7, 8, 9, 10]))).toEqual([17, 23, 29, 39, 53, 67]);
  });
});
