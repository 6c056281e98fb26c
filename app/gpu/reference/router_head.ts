/**
 * Float64 reference of the router head's kernels (shaders/router_head.wgsl) and of the whole head:
 *   linear:   y[N,O] = act(x[N,I]·Wᵀ + b),  act = relu or identity
 *   softmax:  p = softmax(z / τ) per row; loss = gradScale·Σₙ −log p[n, ℓₙ]; dz = gradScale·(p − onehot)/τ
 *   backward: dW = dyᵀ·x, db = Σₙ dy, dx = dy·W (times [h > 0] below a relu layer)
 * A head is one linear layer to the K experts, or a relu hidden layer of H units and then one to K.
 */

export interface ReferenceLinear {
  /** [O, I] */
  w: ArrayLike<number>;
  /** [O] */
  b: ArrayLike<number>;
  inFeatures: number;
  outFeatures: number;
}

export function headLinearReference(x: ArrayLike<number>, N: number, layer: ReferenceLinear, relu = false): Float64Array {
  const { inFeatures: I, outFeatures: O, w, b } = layer;
  const y = new Float64Array(N * O);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      let sum = b[o]!;
      for (let i = 0; i < I; i++) sum += x[n * I + i]! * w[o * I + i]!;
      y[n * O + o] = relu ? Math.max(sum, 0) : sum;
    }
  }
  return y;
}

/** Softmax of z/τ per row, with the loss and gradient of rows whose label is ≥ 0 (−1: probabilities only). */
export function headSoftmaxReference(
  z: ArrayLike<number>,
  N: number,
  K: number,
  labels: ArrayLike<number>,
  temperature: number,
  gradScale: number,
): { probs: Float64Array; rowLoss: Float64Array; dz: Float64Array } {
  const probs = new Float64Array(N * K);
  const rowLoss = new Float64Array(N);
  const dz = new Float64Array(N * K);
  for (let n = 0; n < N; n++) {
    const scaled = Array.from({ length: K }, (_, k) => z[n * K + k]! / temperature);
    const top = Math.max(...scaled);
    const logTotal = Math.log(scaled.reduce((sum, value) => sum + Math.exp(value - top), 0));
    const label = labels[n]!;
    for (let k = 0; k < K; k++) {
      const p = Math.exp(scaled[k]! - top - logTotal);
      probs[n * K + k] = p;
      if (label >= 0) dz[n * K + k] = (gradScale * (p - (k === label ? 1 : 0))) / temperature;
    }
    if (label >= 0) rowLoss[n] = logTotal - (scaled[label]! - top);
  }
  return { probs, rowLoss, dz };
}

/** dW [O, I], db [O] and dx [N, I] of one layer given dy [N, O]; dx masked by [mask > 0] when given. */
export function headLinearBackwardReference(
  x: ArrayLike<number>,
  N: number,
  layer: ReferenceLinear,
  dy: ArrayLike<number>,
  mask?: ArrayLike<number>,
): { dw: Float64Array; db: Float64Array; dx: Float64Array } {
  const { inFeatures: I, outFeatures: O, w } = layer;
  const dw = new Float64Array(O * I);
  const db = new Float64Array(O);
  const dx = new Float64Array(N * I);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      const g = dy[n * O + o]!;
      db[o]! += g;
      for (let i = 0; i < I; i++) {
        dw[o * I + i]! += g * x[n * I + i]!;
        dx[n * I + i]! += g * w[o * I + i]!;
      }
    }
  }
  if (mask) for (let e = 0; e < dx.length; e++) if (!(mask[e]! > 0)) dx[e] = 0;
  return { dw, db, dx };
}

/** A whole head: `layers` is [out] (linear) or [hidden, out] (relu hidden layer, then linear). */
export interface ReferenceHead {
  layers: ReferenceLinear[];
  temperature: number;
}

/** Probabilities [N, K] of a head over features x [N, C]. */
export function headProbabilitiesReference(head: ReferenceHead, x: ArrayLike<number>, N: number): Float64Array {
  const labels = new Int32Array(N).fill(-1);
  return headLossReference(head, x, N, labels).probs;
}

/** Mean cross-entropy over the labelled rows, the probabilities, and every layer's gradients. */
export function headLossReference(
  head: ReferenceHead,
  x: ArrayLike<number>,
  N: number,
  labels: ArrayLike<number>,
): { loss: number; probs: Float64Array; grads: { dw: Float64Array; db: Float64Array }[] } {
  const activations: ArrayLike<number>[] = [x];
  head.layers.forEach((layer, index) => activations.push(headLinearReference(activations[index]!, N, layer, index < head.layers.length - 1)));
  const K = head.layers.at(-1)!.outFeatures;
  const labelled = Array.from(labels).filter((label) => label >= 0).length;
  const gradScale = labelled > 0 ? 1 / labelled : 0;
  const { probs, rowLoss, dz } = headSoftmaxReference(activations.at(-1)!, N, K, labels, head.temperature, gradScale);
  const grads: { dw: Float64Array; db: Float64Array }[] = [];
  let dy: ArrayLike<number> = dz;
  for (let index = head.layers.length - 1; index >= 0; index--) {
    const below = index > 0 ? activations[index]! : undefined;
    const { dw, db, dx } = headLinearBackwardReference(activations[index]!, N, head.layers[index]!, dy, below);
    grads.unshift({ dw, db });
    dy = dx;
  }
  return { loss: rowLoss.reduce((sum, value) => sum + value, 0) * gradScale, probs, grads };
}
