/**
 * Float64 reference of cross_entropy: the LM head fused with cross-entropy, and selected-row logits.
 *   logits = x·Wᵀ; rowLoss[t] = logsumexp(logits[t]) − logits[t, label[t]] for 0 <= label < V, else 0;
 *   lossSum = Σ rowLoss; dX = gradScale · ∂lossSum/∂x = Σ_v (softmax − onehot)·gradScale · W[v].
 * With a soft-cap (Gemma's final_logit_softcapping) the logits are cap·tanh(x·Wᵀ / cap) first, and the
 * chain rule multiplies each dlogit by 1 − tanh²(raw / cap).
 * Inputs are the exact values the GPU sees (decode packed weights with decodeTensorData first).
 */
export const IGNORE_INDEX = -100;

export interface CrossEntropyReferenceInputs {
  BT: number;
  C: number;
  V: number;
  x: ArrayLike<number>; // [BT, C]
  w: ArrayLike<number>; // [V, C]
  labels: ArrayLike<number>; // [BT]
  gradScale: number;
  softcap?: number | null;
}

export interface CrossEntropyReferenceResult {
  lossSum: number;
  labelCount: number;
  invalidLabels: number;
  rowLoss: Float64Array; // [BT]
  dx: Float64Array; // [BT, C]
}

export function logitsReference(x: ArrayLike<number>, w: ArrayLike<number>, rows: readonly number[], C: number, V: number): Float64Array {
  const logits = new Float64Array(rows.length * V);
  rows.forEach((row, p) => {
    for (let v = 0; v < V; v++) {
      let sum = 0;
      for (let c = 0; c < C; c++) sum += x[row * C + c]! * w[v * C + c]!;
      logits[p * V + v] = sum;
    }
  });
  return logits;
}

/** cap·tanh(logit / cap) of every logit, in place; no cap leaves them as they are. */
export function softcapReference(logits: Float64Array, softcap: number | null | undefined): Float64Array {
  if (softcap) for (let i = 0; i < logits.length; i++) logits[i] = softcap * Math.tanh(logits[i]! / softcap);
  return logits;
}

function logSumExp(values: Float64Array): number {
  let max = -Infinity;
  for (const value of values) max = Math.max(max, value);
  let sum = 0;
  for (const value of values) sum += Math.exp(value - max);
  return max + Math.log(sum);
}

export function crossEntropyReference({ BT, C, V, x, w, labels, gradScale, softcap }: CrossEntropyReferenceInputs): CrossEntropyReferenceResult {
  const rowLoss = new Float64Array(BT);
  const dx = new Float64Array(BT * C);
  let labelCount = 0;
  let invalidLabels = 0;
  for (let t = 0; t < BT; t++) {
    const label = labels[t]!;
    const labelled = label >= 0 && label < V;
    if (!labelled) {
      if (label !== IGNORE_INDEX) invalidLabels++;
      continue;
    }
    labelCount++;
    const raw = logitsReference(x, w, [t], C, V);
    const logits = softcapReference(Float64Array.from(raw), softcap);
    const lse = logSumExp(logits);
    rowLoss[t] = lse - logits[label]!;
    for (let v = 0; v < V; v++) {
      const chain = softcap ? 1 - Math.tanh(raw[v]! / softcap) ** 2 : 1;
      const dlogit = (Math.exp(logits[v]! - lse) - (v === label ? 1 : 0)) * gradScale * chain;
      for (let c = 0; c < C; c++) dx[t * C + c]! += dlogit * w[v * C + c]!;
    }
  }
  const lossSum = rowLoss.reduce((sum, loss) => sum + loss, 0);
  return { lossSum, labelCount, invalidLabels, rowLoss, dx };
}
