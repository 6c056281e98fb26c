/**
 * Float64 reference of lora_linear, forward and backward, and the LoRA dropout mask it shares with
 * shaders/lora_linear.wgsl bit for bit:
 *   Y[M,N] = X·Wᵀ + bias + scale·U·Bᵀ,  U[M,R] = drop(X)·Aᵀ   (PEFT drops lora_A's input)
 *   dX = dY·W + scale·drop'(dY·B·A),  dA = scale·(dY·B)ᵀ·drop(X),  dB = scale·dYᵀ·U
 * Inputs are the exact values the GPU sees (decode packed weights with decodeTensorData first).
 */

/** LoRA dropout of one layer at one step. p = 0 (or no dropout object) keeps everything. */
export interface LoraDropout {
  /** Probability of dropping an element, 0 <= p < 1; kept ones are scaled by 1/(1-p), as torch.nn.Dropout does. */
  p: number;
  /** The run's seed, u32. */
  seed: number;
  /** The optimizer step (or micro-step), u32: each draws a fresh mask. */
  step: number;
  /** Tells layers apart within a step (e.g. a running index of LoRA modules), u32. */
  offset: number;
}

/**
 * pcg4d (Jarzynski & Olano, "Hash Functions for GPU Rendering", JCGT 2020) in exact u32 arithmetic,
 * as shaders/lora_linear.wgsl computes it. Each update uses the words already updated before it.
 */
export function pcg4d(x: number, y: number, z: number, w: number): [number, number, number, number] {
  let a = (Math.imul(x, 1664525) + 1013904223) >>> 0;
  let b = (Math.imul(y, 1664525) + 1013904223) >>> 0;
  let c = (Math.imul(z, 1664525) + 1013904223) >>> 0;
  let d = (Math.imul(w, 1664525) + 1013904223) >>> 0;
  a = (a + Math.imul(b, d)) >>> 0;
  b = (b + Math.imul(c, a)) >>> 0;
  c = (c + Math.imul(a, b)) >>> 0;
  d = (d + Math.imul(b, c)) >>> 0;
  a = (a ^ (a >>> 16)) >>> 0;
  b = (b ^ (b >>> 16)) >>> 0;
  c = (c ^ (c >>> 16)) >>> 0;
  d = (d ^ (d >>> 16)) >>> 0;
  a = (a + Math.imul(b, d)) >>> 0;
  b = (b + Math.imul(c, a)) >>> 0;
  c = (c + Math.imul(a, b)) >>> 0;
  d = (d + Math.imul(b, c)) >>> 0;
  return [a, b, c, d];
}

/** Separates the dropout stream from any other use of pcg4d on the same numbers ("drop" in ASCII). */
const DROPOUT_DOMAIN = 0x64726f70;

/** The two key words of a layer's mask at one step; the GPU receives them as uniforms. */
export function dropoutKey({ seed, step, offset }: Pick<LoraDropout, 'seed' | 'step' | 'offset'>): [number, number] {
  const [key0, key1] = pcg4d(seed >>> 0, step >>> 0, offset >>> 0, DROPOUT_DOMAIN);
  return [key0, key1];
}

/** An element is kept when its 32 random bits are >= this, so it is kept with probability 1 - p (to 2⁻³²). */
export function dropoutThreshold(p: number): number {
  return Math.min(Math.round(p * 2 ** 32), 2 ** 32 - 1);
}

/**
 * The dropout factor of every element of X [M,K]: 1/(1-p) where kept, 0 where dropped. Element (m, k)
 * draws word k % 4 of pcg4d(k / 4, m, key0, key1), so four neighbours along K share one hash.
 */
export function dropoutMask(M: number, K: number, dropout: LoraDropout): Float64Array {
  const [key0, key1] = dropoutKey(dropout);
  const threshold = dropoutThreshold(dropout.p);
  const keepScale = 1 / (1 - dropout.p);
  const mask = new Float64Array(M * K);
  for (let m = 0; m < M; m++) {
    for (let chunk = 0; chunk * 4 < K; chunk++) {
      const bits = pcg4d(chunk, m, key0, key1);
      for (let j = 0; j < 4 && chunk * 4 + j < K; j++) mask[m * K + chunk * 4 + j] = bits[j]! >= threshold ? keepScale : 0;
    }
  }
  return mask;
}

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
  dropout?: LoraDropout;
}

/** drop(X) [M,K]: X itself without dropout. */
function droppedInput({ M, K, x, dropout }: LoraLinearReferenceInputs): ArrayLike<number> {
  if (!dropout || dropout.p === 0) return x;
  const mask = dropoutMask(M, K, dropout);
  return mask.map((factor, i) => x[i]! * factor);
}

/** U[M,R] = drop(X)·Aᵀ, which the forward saves for the backward. */
export function loraDownReference(inputs: LoraLinearReferenceInputs): Float64Array {
  const { M, K, R, a } = inputs;
  const u = new Float64Array(M * R);
  if (R === 0) return u;
  if (!a) throw new Error('loraDownReference: R > 0 needs a');
  const xd = droppedInput(inputs);
  for (let m = 0; m < M; m++) {
    for (let r = 0; r < R; r++) {
      let sum = 0;
      for (let k = 0; k < K; k++) sum += xd[m * K + k]! * a[r * K + k]!;
      u[m * R + r] = sum;
    }
  }
  return u;
}

export function loraLinearReference(inputs: LoraLinearReferenceInputs): Float64Array {
  const { M, N, K, R, x, w, bias, b, scale } = inputs;
  if (R > 0 && !b) throw new Error('loraLinearReference: R > 0 needs both a and b');
  const u = loraDownReference(inputs);
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

export interface LoraLinearGradientsReference {
  dx: Float64Array; // [M,K]
  da: Float64Array; // [R,K]
  db: Float64Array; // [N,R]
}

/** Gradients of Σ dY∘Y with respect to X, A and B (fresh, not accumulated). Needs R > 0. */
export function loraLinearBackwardReference(inputs: LoraLinearReferenceInputs & { dy: ArrayLike<number> }): LoraLinearGradientsReference {
  const { M, N, K, R, w, a, b, scale, dropout, dy } = inputs;
  if (R === 0 || !a || !b) throw new Error('loraLinearBackwardReference: needs a LoRA pair (R > 0, a and b)');
  const xd = droppedInput(inputs);
  const u = loraDownReference(inputs);
  const mask = dropout && dropout.p > 0 ? dropoutMask(M, K, dropout) : undefined;
  // G = dY·B [M,R]
  const g = new Float64Array(M * R);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      for (let r = 0; r < R; r++) g[m * R + r]! += dy[m * N + n]! * b[n * R + r]!;
    }
  }
  const dx = new Float64Array(M * K);
  for (let m = 0; m < M; m++) {
    for (let k = 0; k < K; k++) {
      let frozen = 0;
      for (let n = 0; n < N; n++) frozen += dy[m * N + n]! * w[n * K + k]!;
      let lora = 0;
      for (let r = 0; r < R; r++) lora += g[m * R + r]! * a[r * K + k]!;
      dx[m * K + k] = frozen + scale * lora * (mask ? mask[m * K + k]! : 1);
    }
  }
  const da = new Float64Array(R * K);
  for (let m = 0; m < M; m++) {
    for (let r = 0; r < R; r++) {
      for (let k = 0; k < K; k++) da[r * K + k]! += scale * g[m * R + r]! * xd[m * K + k]!;
    }
  }
  const db = new Float64Array(N * R);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      for (let r = 0; r < R; r++) db[n * R + r]! += scale * dy[m * N + n]! * u[m * R + r]!;
    }
  }
  return { dx, da, db };
}
