/**
 * Float64 reference of causal grouped-query self-attention, forward and backward, with an explicit
 * softmax (the plain formula the tiled kernels in shaders/attention.wgsl must agree with).
 *
 *   S[i,j] = scale · q[b,i,h,:]·k[b,j,h/G,:]     G = H / Hkv query heads share one kv head
 *   P[i,:] = softmax over the keys visible to i,  O[b,i,h,:] = Σ_j P[i,j]·v[b,j,h/G,:],  L[b,h,i] = log Σ_j exp S[i,j]
 *
 * Key j is visible to query i when j <= i + (Tk − T) (causal; T < Tk is a query block after a KV
 * cache) and, with `segments` [B,Tk], when segments[b,j] equals the query's own segment
 * segments[b, i + Tk − T] and is not 0 (0 marks padding), and, with a sliding `window` w, when j lies
 * in (p − w, p] for the query's position p = i + Tk − T (w positions, the query's own included). With
 * `segmentBits`, segment ids are bit sets and a (non-padding) query sees a key whose id shares a bit with
 * its own, instead of an equal one (candidate trees: a shared prefix holds its branches' bits). A query
 * with no visible key gets O = 0, L = −∞ and no gradient.
 */
export interface AttentionReferenceInputs {
  B: number;
  T: number;
  Tk: number;
  H: number;
  Hkv: number;
  D: number;
  q: ArrayLike<number>; // [B,T,H,D]
  k: ArrayLike<number>; // [B,Tk,Hkv,D]
  v: ArrayLike<number>; // [B,Tk,Hkv,D]
  segments?: ArrayLike<number>; // [B,Tk]
  /** Segment ids are bit sets: visible when they share a bit (forward only in the GPU op). */
  segmentBits?: boolean;
  /** Sliding window: a query sees the `window` positions ending at its own; unlimited when absent. */
  window?: number;
  /** Defaults to 1/sqrt(D). */
  scale?: number;
}

export interface AttentionReferenceOutputs {
  o: Float64Array; // [B,T,H,D]
  logsumexp: Float64Array; // [B,H,T]
}

export interface AttentionReferenceGradients {
  dq: Float64Array; // [B,T,H,D]
  dk: Float64Array; // [B,Tk,Hkv,D]
  dv: Float64Array; // [B,Tk,Hkv,D]
}

export function attentionReference(inputs: AttentionReferenceInputs): AttentionReferenceOutputs {
  const { B, T, H, D, v } = inputs;
  const o = new Float64Array(B * T * H * D);
  const logsumexp = new Float64Array(B * H * T);
  forEachRow(inputs, (b, i, h, probabilities, lse) => {
    logsumexp[(b * H + h) * T + i] = lse;
    const out = ((b * T + i) * H + h) * D;
    probabilities.forEach((p, j) => {
      const value = kvOffset(inputs, b, j, h);
      for (let d = 0; d < D; d++) o[out + d]! += p * v[value + d]!;
    });
  });
  return { o, logsumexp };
}

/** Gradients of Σ dO ⊙ O with respect to q, k and v (fresh arrays; the GPU op accumulates instead). */
export function attentionBackwardReference(inputs: AttentionReferenceInputs, dO: ArrayLike<number>): AttentionReferenceGradients {
  const { B, T, Tk, H, Hkv, D, q, k, v } = inputs;
  const scale = inputs.scale ?? 1 / Math.sqrt(D);
  const dq = new Float64Array(B * T * H * D);
  const dk = new Float64Array(B * Tk * Hkv * D);
  const dv = new Float64Array(B * Tk * Hkv * D);
  forEachRow(inputs, (b, i, h, probabilities) => {
    const row = ((b * T + i) * H + h) * D;
    // dP[j] = dO_i·v_j, and softmax's Jacobian gives dS[j] = P[j]·(dP[j] − Σ_l P[l]·dP[l]).
    const dP = new Map<number, number>();
    let weighted = 0;
    probabilities.forEach((p, j) => {
      const value = kvOffset(inputs, b, j, h);
      let dot = 0;
      for (let d = 0; d < D; d++) dot += dO[row + d]! * v[value + d]!;
      dP.set(j, dot);
      weighted += p * dot;
    });
    probabilities.forEach((p, j) => {
      const kv = kvOffset(inputs, b, j, h);
      const dS = p * (dP.get(j)! - weighted);
      for (let d = 0; d < D; d++) {
        dv[kv + d]! += p * dO[row + d]!;
        dq[row + d]! += scale * dS * k[kv + d]!;
        dk[kv + d]! += scale * dS * q[row + d]!;
      }
    });
  });
  return { dq, dk, dv };
}

/** Whether query i of sequence b may attend key j. */
export function isVisible(inputs: Pick<AttentionReferenceInputs, 'T' | 'Tk' | 'segments' | 'segmentBits' | 'window'>, b: number, i: number, j: number): boolean {
  const { T, Tk, segments, segmentBits, window } = inputs;
  const position = i + Tk - T;
  if (j > position) return false;
  if (window !== undefined && j <= position - window) return false;
  if (!segments) return true;
  const segment = segments[b * Tk + position]!;
  if (segment === 0) return false;
  const keySegment = segments[b * Tk + j]!;
  // As unsigned 32-bit sets: bit 31 makes a JavaScript number past the signed range, which & still reads right.
  return segmentBits ? (segment & keySegment) !== 0 : keySegment === segment;
}

/** Calls `visit` with the softmax probabilities (key index -> P) and the logsumexp of every query row. */
function forEachRow(
  inputs: AttentionReferenceInputs,
  visit: (b: number, i: number, h: number, probabilities: Map<number, number>, logsumexp: number) => void,
): void {
  const { B, T, Tk, H, Hkv, D, q, k } = inputs;
  if (H % Hkv !== 0) throw new RangeError(`attentionReference: H=${H} is not a multiple of Hkv=${Hkv}`);
  if (Tk < T) throw new RangeError(`attentionReference: Tk=${Tk} is shorter than T=${T}`);
  const scale = inputs.scale ?? 1 / Math.sqrt(D);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < T; i++) {
      for (let h = 0; h < H; h++) {
        const row = ((b * T + i) * H + h) * D;
        const scores = new Map<number, number>();
        for (let j = 0; j < Tk; j++) {
          if (!isVisible(inputs, b, i, j)) continue;
          const key = kvOffset(inputs, b, j, h);
          let dot = 0;
          for (let d = 0; d < D; d++) dot += q[row + d]! * k[key + d]!;
          scores.set(j, scale * dot);
        }
        const max = Math.max(...scores.values());
        let sum = 0;
        for (const s of scores.values()) sum += Math.exp(s - max);
        const probabilities = new Map<number, number>();
        for (const [j, s] of scores) probabilities.set(j, Math.exp(s - max) / sum);
        visit(b, i, h, probabilities, scores.size > 0 ? max + Math.log(sum) : -Infinity);
      }
    }
  }
}

function kvOffset({ Tk, H, Hkv, D }: AttentionReferenceInputs, b: number, j: number, h: number): number {
  const kvHead = Math.floor(h / (H / Hkv));
  return ((b * Tk + j) * Hkv + kvHead) * D;
}
