// swiglu.wgsl: the gated MLP's activation, forward and backward, elementwise over n = BT·I values
//
//   swiglu_fwd  h = act(gate) ⊙ up
//   swiglu_bwd  dgate += dh · up · act'(g),   dup += dh · act(g)
// act is silu(g) = g·σ(g) (the Llama family), or with GELU set Gemma's GeGLU gelu_pytorch_tanh:
//   gelu(g) = ½g(1 + tanh u) = g·σ(2u),  u = √(2/π)(g + 0.044715 g³)
//   gelu'(g) = σ(2u) + g·σ(2u)(1 − σ(2u))·2√(2/π)(1 + 3·0.044715 g²)
// (tanh through σ, whose exp never overflows).
// The backward ACCUMULATES into dgate and dup (llm.c style); the caller clears them.
//
// Shapes: gate, up, h, dh, dgate, dup all [BT, I] f32 (I may be odd; nothing is vectorised).
// Workgroup 256; grid-stride loop. Dispatch: (min(ceil(n / 256), 2048)).
// Bindings: 0 dims (uniform), 1 gate, 2 up, 3 h, 4 dh, 5 dgate, 6 dup.

struct Dims {
  n: u32,
}

override GELU: bool = false;

const WORKGROUP_SIZE = 256u;
const SQRT_2_OVER_PI = 0.7978845608028654;
const GELU_CUBIC = 0.044715;

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> gate: array<f32>;
@group(0) @binding(2) var<storage, read> up: array<f32>;
@group(0) @binding(3) var<storage, read_write> h: array<f32>;
@group(0) @binding(4) var<storage, read> dh: array<f32>;
@group(0) @binding(5) var<storage, read_write> dgate: array<f32>;
@group(0) @binding(6) var<storage, read_write> dup: array<f32>;

// exp only sees non-positive arguments, so it never overflows: a compiler may assume no Inf.
fn sigmoid(v: f32) -> f32 {
  let e = exp(-abs(v));
  let s = 1.0 / (1.0 + e);
  return select(e * s, s, v >= 0.0);
}

// (act(g), act'(g)) of the configured activation.
fn activation(g: f32) -> vec2<f32> {
  if (GELU) {
    let u2 = 2.0 * SQRT_2_OVER_PI * (g + GELU_CUBIC * g * g * g);
    let s = sigmoid(u2);
    return vec2<f32>(g * s, s + g * s * (1.0 - s) * 2.0 * SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_CUBIC * g * g));
  }
  let s = sigmoid(g);
  return vec2<f32>(g * s, s * (1.0 + g * (1.0 - s)));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn swiglu_fwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * WORKGROUP_SIZE;
  for (var i = gid.x; i < dims.n; i += stride) {
    h[i] = activation(gate[i]).x * up[i];
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn swiglu_bwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * WORKGROUP_SIZE;
  for (var i = gid.x; i < dims.n; i += stride) {
    let a = activation(gate[i]);
    let grad = dh[i];
    dgate[i] += grad * up[i] * a.y;
    dup[i] += grad * a.x;
  }
}
