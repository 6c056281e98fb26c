// lora_linear.wgsl: fused LoRA linear forward
//
//   Y[M,N] = X[M,K] · W[N,K]ᵀ + bias[N] + s · U[M,R] · B[N,R]ᵀ      with U[M,R] = X · Aᵀ, A [R,K], s = alpha/R
//
// W is frozen and stored as f32, bf16 or f16 in an array<u32> (W_DTYPE); halves are packed two per
// word, element 2i in the low 16 bits. Decoding in the shader halves weight memory without needing
// the shader-f16 feature. X, A, B, bias, U and Y are f32, row-major.
//
// Entry points (run in this order, in one command encoder):
//   lora_down        U = X·Aᵀ. Workgroup 4x16; thread (x, y) computes U[y, 4x .. 4x+3].
//                    dispatch (ceil(ceil(R/4) / 4), ceil(M / 16)).
//   lora_linear_fwd  Y. Workgroup 8x8; each thread computes a 4x4 block of Y in registers (rows 4·gy..,
//                    columns 4·gx..) reading X and W with 4-wide loads along K, no workgroup memory:
//                    the fastest layout measured on SwiftShader (ENGINEERING.md §4).
//                    dispatch (ceil(N / 32), ceil(M / 32)).
// Bindings: 0 dims (uniform), 1 X, 2 W, 3 bias, 4 U (read), 5 B, 6 Y, 7 A, 8 U (written by lora_down).

struct Dims {
  M: u32,
  N: u32,
  K: u32,
  R: u32,
  scale: f32,
}

override W_DTYPE: u32 = 0u;   // 0 f32, 1 bf16, 2 f16
override HAS_BIAS: bool = false;
override HAS_LORA: bool = true;

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> u: array<f32>;
@group(0) @binding(5) var<storage, read> lora_b: array<f32>;
@group(0) @binding(6) var<storage, read_write> y: array<f32>;
@group(0) @binding(7) var<storage, read> lora_a: array<f32>;
@group(0) @binding(8) var<storage, read_write> u_out: array<f32>;

fn load_w(i: u32) -> f32 {
  if (W_DTYPE == 0u) {
    return bitcast<f32>(w[i]);
  }
  let word = w[i >> 1u];
  let half = select(word & 0xffffu, word >> 16u, (i & 1u) == 1u);
  if (W_DTYPE == 1u) {
    return bitcast<f32>(half << 16u);
  }
  return unpack2x16float(half).x;
}

fn load_w4(i: u32) -> vec4<f32> {
  return vec4<f32>(load_w(i), load_w(i + 1u), load_w(i + 2u), load_w(i + 3u));
}

fn load_x4(i: u32) -> vec4<f32> {
  return vec4<f32>(x[i], x[i + 1u], x[i + 2u], x[i + 3u]);
}

fn load_a4(i: u32) -> vec4<f32> {
  return vec4<f32>(lora_a[i], lora_a[i + 1u], lora_a[i + 2u], lora_a[i + 3u]);
}

@compute @workgroup_size(4, 16)
fn lora_down(@builtin(global_invocation_id) gid: vec3<u32>) {
  let m = gid.y;
  let r0 = gid.x * 4u;
  if (m >= dims.M || r0 >= dims.R) {
    return;
  }
  let K = dims.K;
  // Ranks past R read row R-1 of A (valid memory) and are not written.
  var rows: array<u32, 4>;
  for (var j = 0u; j < 4u; j++) {
    rows[j] = min(r0 + j, dims.R - 1u) * K;
  }
  var acc = vec4<f32>(0.0);
  let x_row = m * K;
  var k = 0u;
  for (; k + 4u <= K; k += 4u) {
    let xv = load_x4(x_row + k);
    acc += vec4<f32>(
      dot(xv, load_a4(rows[0] + k)),
      dot(xv, load_a4(rows[1] + k)),
      dot(xv, load_a4(rows[2] + k)),
      dot(xv, load_a4(rows[3] + k)));
  }
  for (; k < K; k++) {
    let xv = x[x_row + k];
    acc += xv * vec4<f32>(lora_a[rows[0] + k], lora_a[rows[1] + k], lora_a[rows[2] + k], lora_a[rows[3] + k]);
  }
  for (var j = 0u; j < 4u; j++) {
    if (r0 + j < dims.R) {
      u_out[m * dims.R + r0 + j] = acc[j];
    }
  }
}

@compute @workgroup_size(8, 8)
fn lora_linear_fwd(@builtin(global_invocation_id) gid: vec3<u32>) {
  let M = dims.M;
  let N = dims.N;
  let K = dims.K;
  let m0 = gid.y * 4u;
  let n0 = gid.x * 4u;
  if (m0 >= M || n0 >= N) {
    return;
  }
  // Rows and columns past the edge re-read the last valid one and are not written, so the inner
  // loop needs no bounds checks.
  var x_rows: array<u32, 4>;
  var w_rows: array<u32, 4>;
  for (var i = 0u; i < 4u; i++) {
    x_rows[i] = min(m0 + i, M - 1u) * K;
    w_rows[i] = min(n0 + i, N - 1u) * K;
  }
  var acc: array<vec4<f32>, 4>;
  var k = 0u;
  for (; k + 4u <= K; k += 4u) {
    let w0 = load_w4(w_rows[0] + k);
    let w1 = load_w4(w_rows[1] + k);
    let w2 = load_w4(w_rows[2] + k);
    let w3 = load_w4(w_rows[3] + k);
    for (var i = 0u; i < 4u; i++) {
      let xv = load_x4(x_rows[i] + k);
      acc[i] += vec4<f32>(dot(xv, w0), dot(xv, w1), dot(xv, w2), dot(xv, w3));
    }
  }
  for (; k < K; k++) {
    let wv = vec4<f32>(load_w(w_rows[0] + k), load_w(w_rows[1] + k), load_w(w_rows[2] + k), load_w(w_rows[3] + k));
    for (var i = 0u; i < 4u; i++) {
      acc[i] += x[x_rows[i] + k] * wv;
    }
  }
  let R = dims.R;
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + i;
    if (m >= M) {
      break;
    }
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + j;
      if (n >= N) {
        break;
      }
      var value = acc[i][j];
      if (HAS_BIAS) {
        value += bias[n];
      }
      if (HAS_LORA) {
        var lora = 0.0;
        for (var r = 0u; r < R; r++) {
          lora += u[m * R + r] * lora_b[n * R + r];
        }
        value += dims.scale * lora;
      }
      y[m * N + n] = value;
    }
  }
}
