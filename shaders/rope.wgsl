// rope.wgsl: Hugging Face rotary position embedding (rotate_half layout), forward and backward
//
// Each head vector of x [BT, heads, D] at position p = positions[bt] rotates its first
// rotary_dim = 2·half dims as pairs (j, j + half), angle θ = p · inv_freq[j]:
//   rope_fwd  y[j] = x[j]·cos θ − x[j+half]·sin θ,   y[j+half] = x[j+half]·cos θ + x[j]·sin θ
//             (x·cos + rotate_half(x)·sin); dims from rotary_dim on pass through (partial rotary).
//   rope_bwd  the transposed rotation: dx[j] += dy[j]·cos θ + dy[j+half]·sin θ,
//             dx[j+half] += dy[j+half]·cos θ − dy[j]·sin θ, and dx += dy on pass-through dims.
// cos θ and sin θ are both multiplied by `scale` (LongRoPE's attention factor; 1 otherwise), as
// transformers multiplies cos and sin: rotary dims scale, pass-through dims do not.
// The backward ACCUMULATES into dx (llm.c style); the caller clears it. Call once for q [BT, H, D]
// and once for k [BT, Hkv, D].
//
// Frequencies arrive in turns (inv_freq / 2π), split on the CPU in Float64 into hi + lo where hi
// keeps 7 significant bits: p·hi is then exact in f32 for p < 2^17, so its fractional part loses
// nothing; cos and sin are then evaluated on the reduced turn (see cos_sin_of_turns).
//
// Shapes: x, y, dy, dx [BT, heads, D] f32; positions [BT] u32; freqs [half] vec2<f32> (hi, lo).
// Work items per head vector: `items` = half pairs, then D − 2·half pass-through elements
// (forward in place skips those: items = half).
// Workgroup 256; grid-stride over BT·heads·items. Dispatch: (min(ceil(BT·heads·items / 256), 2048)).
// Bindings: 0 dims (uniform), 1 positions, 2 freqs, 3 x, 4 y (read_write; also the input in place),
// 5 dy, 6 dx.

struct Dims {
  vectors: u32,  // BT · heads
  heads: u32,
  D: u32,
  half: u32,
  items: u32,
  scale: f32,
}

override IN_PLACE: bool = false;

const WORKGROUP_SIZE = 256u;
const TAU = 6.283185307179586;

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> positions: array<u32>;
@group(0) @binding(2) var<storage, read> freqs: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read> dy: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;

// (cos θ, sin θ) for θ = position · inv_freq[j], computed in turns.
fn rotation(position: u32, j: u32) -> vec2<f32> {
  let turns_per_position = freqs[j];
  let p = f32(position);
  let turns = fract(p * turns_per_position.x) + p * turns_per_position.y;
  let reduced = turns - round(turns);
  return cos_sin_of_turns(reduced) * dims.scale;
}

// cos and sin of 2π·r for r in [−0.5, 0.5], to about f32 rounding. WGSL bounds the built-in cos/sin
// only to 2⁻¹¹ absolute error (SwiftShader's are off by ~1e-4), so: split r into a quarter turn q/4
// and a remainder of at most 1/8 turn (exact), then Taylor series on [−π/4, π/4] (truncation < 1e-9).
fn cos_sin_of_turns(r: f32) -> vec2<f32> {
  let quarters = round(r * 4.0);
  let a = (r - quarters * 0.25) * TAU;
  let a2 = a * a;
  let s = a * (1.0 + a2 * (-1.0 / 6.0 + a2 * (1.0 / 120.0 + a2 * (-1.0 / 5040.0 + a2 * (1.0 / 362880.0)))));
  let c = 1.0 + a2 * (-0.5 + a2 * (1.0 / 24.0 + a2 * (-1.0 / 720.0 + a2 * (1.0 / 40320.0 + a2 * (-1.0 / 3628800.0)))));
  // Rotate (cos a, sin a) by quarters·π/2.
  switch (i32(quarters) & 3) {
    case 1: {
      return vec2<f32>(-s, c);
    }
    case 2: {
      return vec2<f32>(-c, -s);
    }
    case 3: {
      return vec2<f32>(s, -c);
    }
    default: {
      return vec2<f32>(c, s);
    }
  }
}

fn load_input(i: u32) -> f32 {
  if (IN_PLACE) {
    return y[i];
  }
  return x[i];
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn rope_fwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let half = dims.half;
  let items = dims.items;
  let total = dims.vectors * items;
  let stride = groups.x * WORKGROUP_SIZE;
  for (var i = gid.x; i < total; i += stride) {
    let vector = i / items;
    let j = i - vector * items;
    let base = vector * dims.D;
    if (j < half) {
      let cs = rotation(positions[vector / dims.heads], j);
      let x1 = load_input(base + j);
      let x2 = load_input(base + j + half);
      y[base + j] = x1 * cs.x - x2 * cs.y;
      y[base + j + half] = x2 * cs.x + x1 * cs.y;
    } else {
      // Pass-through element rotary_dim + (j − half) = half + j.
      y[base + half + j] = x[base + half + j];
    }
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn rope_bwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let half = dims.half;
  let items = dims.items;
  let total = dims.vectors * items;
  let stride = groups.x * WORKGROUP_SIZE;
  for (var i = gid.x; i < total; i += stride) {
    let vector = i / items;
    let j = i - vector * items;
    let base = vector * dims.D;
    if (j < half) {
      let cs = rotation(positions[vector / dims.heads], j);
      let g1 = dy[base + j];
      let g2 = dy[base + j + half];
      dx[base + j] += g1 * cs.x + g2 * cs.y;
      dx[base + j + half] += g2 * cs.x - g1 * cs.y;
    } else {
      dx[base + half + j] += dy[base + half + j];
    }
  }
}
