/**
 * Float64 references of the three matmul layouts (M, N, K keep their forward meaning in all three).
 * nn and tn are the backward of nt: for Y = X·Wᵀ, dX = dY·W and dW = dYᵀ·X.
 * Inputs are the exact values the GPU sees (decode packed weights with decodeTensorData first).
 */
export interface MatmulReferenceDims {
  M: number;
  N: number;
  K: number;
}

/** Y[M,N] = X[M,K]·W[N,K]ᵀ */
export function matmulNTReference({ M, N, K }: MatmulReferenceDims, x: ArrayLike<number>, w: ArrayLike<number>): Float64Array {
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let sum = 0;
      for (let k = 0; k < K; k++) sum += x[m * K + k]! * w[n * K + k]!;
      y[m * N + n] = sum;
    }
  }
  return y;
}

/** dX[M,K] = dY[M,N]·W[N,K] */
export function matmulNNReference({ M, N, K }: MatmulReferenceDims, dy: ArrayLike<number>, w: ArrayLike<number>): Float64Array {
  const dx = new Float64Array(M * K);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      const g = dy[m * N + n]!;
      for (let k = 0; k < K; k++) dx[m * K + k]! += g * w[n * K + k]!;
    }
  }
  return dx;
}

/** dW[N,K] = dY[M,N]ᵀ·X[M,K] */
export function matmulTNReference({ M, N, K }: MatmulReferenceDims, dy: ArrayLike<number>, x: ArrayLike<number>): Float64Array {
  const dw = new Float64Array(N * K);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      const g = dy[m * N + n]!;
      for (let k = 0; k < K; k++) dw[n * K + k]! += g * x[m * K + k]!;
    }
  }
  return dw;
}
