/**
 * Float64 reference of embedding: out[bt, :] = E[ids[bt], :] for E [V, C]. An id ≥ V reads nothing:
 * its row is zeros and `outOfVocab` is set, as the GPU kernel does.
 */
export interface EmbeddingReferenceInputs {
  V: number;
  C: number;
  /** [V, C], the values the GPU decodes (decodeTensorData for half types). */
  table: ArrayLike<number>;
  /** [BT] token ids. */
  ids: ArrayLike<number>;
}

export function embeddingReference({ V, C, table, ids }: EmbeddingReferenceInputs): { out: Float64Array; outOfVocab: boolean } {
  const out = new Float64Array(ids.length * C);
  let outOfVocab = false;
  for (let bt = 0; bt < ids.length; bt++) {
    const id = ids[bt]!;
    if (id >= V) {
      outOfVocab = true;
      continue;
    }
    for (let c = 0; c < C; c++) out[bt * C + c] = table[id * C + c]!;
  }
  return { out, outOfVocab };
}
