/**
 * Float64 reference of swiglu, the Llama MLP's gating: h = silu(gate) ⊙ up, silu(g) = g·σ(g).
 * Backward: dgate = dh · up · σ(g)·(1 + g·(1 − σ(g))),   dup = dh · silu(g).
 */
export function sigmoid(value: number): number {
  // exp of a non-positive argument never overflows.
  const e = Math.exp(-Math.abs(value));
  return value >= 0 ? 1 / (1 + e) : e / (1 + e);
}

/** transformers' gelu_pytorch_tanh: ½g(1 + tanh(√(2/π)(g + 0.044715 g³))). */
export function geluTanh(g: number): number {
  return 0.5 * g * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (g + 0.044715 * g ** 3)));
}

function geluTanhDerivative(g: number): number {
  const c = Math.sqrt(2 / Math.PI);
  const t = Math.tanh(c * (g + 0.044715 * g ** 3));
  return 0.5 * (1 + t) + 0.5 * g * (1 - t * t) * c * (1 + 3 * 0.044715 * g * g);
}

export function swigluForwardReference(gate: ArrayLike<number>, up: ArrayLike<number>, activation: 'silu' | 'gelu_tanh' = 'silu'): Float64Array {
  const act = activation === 'gelu_tanh' ? geluTanh : (g: number) => g * sigmoid(g);
  return Float64Array.from({ length: gate.length }, (_, i) => act(gate[i]!) * up[i]!);
}

export function swigluBackwardReference(
  gate: ArrayLike<number>,
  up: ArrayLike<number>,
  dh: ArrayLike<number>,
  activation: 'silu' | 'gelu_tanh' = 'silu',
): { dgate: Float64Array; dup: Float64Array } {
  const dgate = new Float64Array(gate.length);
  const dup = new Float64Array(gate.length);
  for (let i = 0; i < gate.length; i++) {
    const g = gate[i]!;
    if (activation === 'gelu_tanh') {
      dgate[i] = dh[i]! * up[i]! * geluTanhDerivative(g);
      dup[i] = dh[i]! * geluTanh(g);
      continue;
    }
    const s = sigmoid(g);
    dgate[i] = dh[i]! * up[i]! * s * (1 + g * (1 - s));
    dup[i] = dh[i]! * g * s;
  }
  return { dgate, dup };
}
