// swiglu.wgsl: the Llama MLP gating, forward and backward, elementwise over n = BT·I values
//
//   swiglu_fwd  h = silu(gate) ⊙ up,  silu(g) = g·σ(g)
//   swiglu_bwd  dgate += dh · up · σ(g)·(1 + g·(1 − σ(g)))
//               dup   += dh · silu(g)
// The backward ACCUMULATES into dgate and dup (llm.c style); the caller clears them.
//
// Shapes: gate, up, h, dh, dgate, dup all [BT, I] f32 (I may be odd; nothing is vectorised).
// Workgroup 256; grid-stride loop. Dispatch: (min(ceil(n / 256), 2048)).
// Bindings: 0 dims (uniform), 1 gate, 2 up, 3 h, 4 dh, 5 dgate, 6 dup.

struct Dims {
  n: u32,
}

const WORKGROUP_SIZE = 256u;

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

@compute @workgroup_size(WORKGROUP_SIZE)
fn swiglu_fwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * WORKGROUP_SIZE;
  for (var i = gid.x; i < dims.n; i += stride) {
    let g = gate[i];
    h[i] = g * sigmoid(g) * up[i];
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn swiglu_bwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * WORKGROUP_SIZE;
  for (var i = gid.x; i < dims.n; i += stride) {
    let g = gate[i];
    let s = sigmoid(g);
    let grad = dh[i];
    dgate[i] += grad * up[i] * s * (1.0 + g * (1.0 - s));
    dup[i] += grad * g * s;
  }
}
