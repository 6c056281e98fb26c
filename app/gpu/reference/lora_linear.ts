/**
 * Float64 reference of lora_linear: Y[M,N] = X·Wᵀ + bias + scale·(X·Aᵀ)·Bᵀ.
 * Inputs are the exact values the GPU sees (decode packed weights with decodeTensorData first).
 */
export interface LoraLinearReferenceInputs {
  M: number;
  N: number;
  K: number;
  R: number;
  x: ArrayLike<number>; // [M,K]
  w: ArrayLike<number>; // [N,K]
  bias?: ArrayLike<number>; // [N]
  a?: ArrayLike<number>; // [R,K]
  b?: ArrayLike<number>; // [N,R]
  scale: number;
}

export function loraLinearReference({ M, N, K, R, x, w, bias, a, b, scale }: LoraLinearReferenceInputs): Float64Array {
  const u = new Float64Array(M * R);
  if (R > 0) {
    if (!a || !b) throw new Error('loraLinearReference: R > 0 needs both a and b');
    for (let m = 0; m < M; m++) {
      for (let r = 0; r < R; r++) {
        let sum = 0;
        for (let k = 0; k < K; k++) sum += x[m * K + k]! * a[r * K + k]!;
        u[m * R + r] = sum;
      }
    }
  }
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let sum = bias ? bias[n]! : 0;
      for (let k = 0; k < K; k++) sum += x[m * K + k]! * w[n * K + k]!;
      let lora = 0;
      for (let r = 0; r < R; r++) lora += u[m * R + r]! * b![n * R + r]!;
      y[m * N + n] = sum + scale * lora;
    }
  }
  return y;
}
