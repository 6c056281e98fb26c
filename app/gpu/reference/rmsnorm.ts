/**
 * Float64 reference of rmsnorm, Hugging Face's LlamaRMSNorm over rows of C:
 *   rstd[r] = 1 / sqrt(mean_c x[r,c]² + eps),   y[r,c] = w[c] · (x[r,c] · rstd[r])
 * Backward, with x̂ = x·rstd and g = w ⊙ dy:
 *   dx[r,c] = rstd[r] · (g[r,c] − x̂[r,c] · mean_c(g[r,c]·x̂[r,c])),   dw[c] = Σ_r dy[r,c]·x̂[r,c]
 */
export interface RmsnormReferenceInputs {
  rows: number;
  C: number;
  x: ArrayLike<number>; // [rows, C]
  w: ArrayLike<number>; // [C]
  eps: number;
}

export function rmsnormForwardReference({ rows, C, x, w, eps }: RmsnormReferenceInputs): { y: Float64Array; rstd: Float64Array } {
  const rstd = rowRstd(rows, C, x, eps);
  const y = new Float64Array(rows * C);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < C; c++) y[r * C + c] = w[c]! * (x[r * C + c]! * rstd[r]!);
  }
  return { y, rstd };
}

export function rmsnormBackwardReference(inputs: RmsnormReferenceInputs & { dy: ArrayLike<number> }): { dx: Float64Array; dw: Float64Array } {
  const { rows, C, x, w, eps, dy } = inputs;
  const rstd = rowRstd(rows, C, x, eps);
  const dx = new Float64Array(rows * C);
  const dw = new Float64Array(C);
  for (let r = 0; r < rows; r++) {
    const s = rstd[r]!;
    let dot = 0;
    for (let c = 0; c < C; c++) dot += w[c]! * dy[r * C + c]! * x[r * C + c]! * s;
    const meanDot = dot / C;
    for (let c = 0; c < C; c++) {
      const i = r * C + c;
      const normed = x[i]! * s;
      dx[i] = s * (w[c]! * dy[i]! - normed * meanDot);
      dw[c]! += dy[i]! * normed;
    }
  }
  return { dx, dw };
}

function rowRstd(rows: number, C: number, x: ArrayLike<number>, eps: number): Float64Array {
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let sumSquares = 0;
    for (let c = 0; c < C; c++) sumSquares += x[r * C + c]! ** 2;
    rstd[r] = 1 / Math.sqrt(sumSquares / C + eps);
  }
  return rstd;
}
