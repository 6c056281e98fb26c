/**
 * Float64 reference of swiglu, the Llama MLP's gating: h = silu(gate) ⊙ up, silu(g) = g·σ(g).
 * Backward: dgate = dh · up · σ(g)·(1 + g·(1 − σ(g))),   dup = dh · silu(g).
 */
export function sigmoid(value: number): number {
  // exp of a non-positive argument never overflows.
  const e = Math.exp(-Math.abs(value));
  return value >= 0 ? 1 / (1 + e) : e / (1 + e);
}

export function swigluForwardReference(gate: ArrayLike<number>, up: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: gate.length }, (_, i) => gate[i]! * sigmoid(gate[i]!) * up[i]!);
}

export function swigluBackwardReference(
  gate: ArrayLike<number>,
  up: ArrayLike<number>,
  dh: ArrayLike<number>,
): { dgate: Float64Array; dup: Float64Array } {
  const dgate = new Float64Array(gate.length);
  const dup = new Float64Array(gate.length);
  for (let i = 0; i < gate.length; i++) {
    const g = gate[i]!;
    const s = sigmoid(g);
    dgate[i] = dh[i]! * up[i]! * s * (1 + g * (1 - s));
    dup[i] = dh[i]! * g * s;
  }
  return { dgate, dup };
}
