/**
 * Float64 reference of columns: dst[r, dstCol + c] = src[r, srcCol + c] for c < width, every other
 * column of dst kept. A fused projection's output is split into its parts this way, and the parts'
 * gradients are written back into the fused gradient.
 */
export interface ColumnBlock {
  rows: number;
  width: number;
  srcCols: number;
  srcCol: number;
  dstCols: number;
  dstCol: number;
}

export function columnsCopyReference(src: ArrayLike<number>, dst: ArrayLike<number>, block: ColumnBlock): Float64Array {
  const { rows, width, srcCols, srcCol, dstCols, dstCol } = block;
  const out = Float64Array.from(dst);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < width; c++) out[r * dstCols + dstCol + c] = src[r * srcCols + srcCol + c]!;
  }
  return out;
}
