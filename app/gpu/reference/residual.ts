/**
 * Float64 reference of residual: y = a + b (a residual stream joining a branch), and the in-place
 * accumulate x += y (the same stream updated in place, or gradients of one tensor summed).
 */
export function residualAddReference(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: a.length }, (_, i) => a[i]! + b[i]!);
}

/** x·scale (Gemma's embeddings times √hidden_size). */
export function residualScaleReference(x: ArrayLike<number>, scale: number): Float64Array {
  return Float64Array.from({ length: x.length }, (_, i) => x[i]! * scale);
}

export function residualAccumulateReference(x: Float64Array, y: ArrayLike<number>): void {
  for (let i = 0; i < x.length; i++) x[i]! += y[i]!;
}
