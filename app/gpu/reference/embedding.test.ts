import { describe, expect, it } from 'vitest';
import { embeddingReference } from './embedding.ts';

describe('embedding reference', () => {
  // E [V=3, C=2]: row v holds (10v, 10v + 1).
  const table = [0, 1, 10, 11, 20, 21];

  it('gathers row ids[bt] of E for each token, repeats included', () => {
    const { out, outOfVocab } = embeddingReference({ V: 3, C: 2, table, ids: [2, 0, 2] });
    expect(Array.from(out)).toEqual([20, 21, 0, 1, 20, 21]);
    expect(outOfVocab).toBe(false);
  });

  it('writes zeros and raises the flag for an id ≥ V', () => {
    const { out, outOfVocab } = embeddingReference({ V: 3, C: 2, table, ids: [1, 3, 0xffffffff] });
    expect(Array.from(out)).toEqual([10, 11, 0, 0, 0, 0]);
    expect(outOfVocab).toBe(true);
  });
});
