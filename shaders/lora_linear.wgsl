// lora_linear.wgsl: fused LoRA linear, forward and backward, with LoRA dropout
//
// Forward    Y[M,N] = X[M,K] · W[N,K]ᵀ + bias[N] + s · U[M,R] · B[N,R]ᵀ
//            U[M,R] = drop(X) · Aᵀ, A [R,K], s = alpha/R (PEFT applies lora_dropout to lora_A's input)
// Backward, given dY [M,N] and the U saved by the forward. It ACCUMULATES into dX, dA and dB (+=, as
// llm.c does; the caller clears them). app/gpu/ops/lora_linear.ts encodes, in one command encoder:
//            G[M,R] = dY · B                    matmul.wgsl nn (skinny)
//            dB    += s · dYᵀ · U               matmul.wgsl tn (skinny)
//            dA    += s · Gᵀ · drop(X)          lora_grad_a
//            dX    += dY · W + s · drop'(G · A) lora_linear_bwd_dx (the mask applies to the LoRA branch)
//
// Dropout (DROPOUT override; p = 0 compiles it out): drop(X)[m,k] = X[m,k] · keep(m,k) / (1-p) with
//   keep(m,k) = pcg4d(k / 4, m, key.x, key.y)[k % 4] >= threshold,   threshold = round(p · 2³²)
// pcg4d is Jarzynski & Olano's hash ("Hash Functions for GPU Rendering", JCGT 2020); key comes from
// (seed, step, layer offset) on the CPU (dropoutKey in app/gpu/reference/lora_linear.ts, which also
// holds the same hash in TypeScript). Forward and backward regenerate the same mask; none is stored.
//
// W is frozen and stored as f32, bf16, f16, int8 or int4 in an array<u32> (W_DTYPE); halves are
// packed two per word, element 2i in the low 16 bits, and decoded here without the shader-f16
// feature; int8 and int4 are decoded by quant.wgsl, which app/gpu/ops/lora_linear.ts prepends.
// Everything else is f32, row-major.
//
// Entry points (workgroup sizes; dispatch):
//   lora_down           U. 4x16; thread (x, y) computes U[y, 4x .. 4x+3].  (ceil(ceil(R/4) / 4), ceil(M/16))
//   lora_linear_fwd     Y. 8x8; each thread computes a 4x4 block of Y in registers, reading X and W
//                       4 wide along K with no workgroup memory (the fastest layout measured on
//                       SwiftShader, ENGINEERING.md §4).                 (ceil(N/32), ceil(M/32))
//   lora_linear_bwd_dx  dX. 8x8, 4x4 blocks of dX as in matmul.wgsl nn.  (ceil(K/32), ceil(M/32))
//   lora_grad_a         dA. 64; 4x4 blocks of dA, each summed over the M tokens by SPLIT lanes that
//                       add their partial blocks in workgroup memory (4 KiB), as matmul_skinny does.
//                       ceil(ceil(R/4)·ceil(K/4) / (64/SPLIT)) workgroups as (x, y), x <= 65535.
// Bindings: 0 dims (uniform), 1 X, 2 W, 3 bias, 4 U (read), 5 B, 6 Y, 7 A, 8 U (written by lora_down),
//           9 dY, 10 G, 11 dX, 12 dA.

struct Dims {
  M: u32,
  N: u32,
  K: u32,
  R: u32,
  scale: f32,
  key0: u32,
  key1: u32,
  threshold: u32,
  keep_scale: f32,  // 1 / (1-p)
}

override W_DTYPE: u32 = 0u;   // 0 f32, 1 bf16, 2 f16, 5 int8, 6 int4
// Every 4-run of a row starts on a word (halves: K is even) or inside one word (int8, int4: K is a multiple of 4).
override W_PAIRED: bool = false;
override W_GROUP: u32 = 32u;  // int4 only: elements per scale and zero point
override HAS_BIAS: bool = false;
override HAS_LORA: bool = true;
override DROPOUT: bool = false;
override SPLIT: u32 = 1u;     // lora_grad_a only: a power of two <= 64

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> u: array<f32>;
@group(0) @binding(5) var<storage, read> lora_b: array<f32>;
@group(0) @binding(6) var<storage, read_write> y: array<f32>;
@group(0) @binding(7) var<storage, read> lora_a: array<f32>;
@group(0) @binding(8) var<storage, read_write> u_out: array<f32>;
@group(0) @binding(9) var<storage, read> dy: array<f32>;
@group(0) @binding(10) var<storage, read> g: array<f32>;
@group(0) @binding(11) var<storage, read_write> dx: array<f32>;
@group(0) @binding(12) var<storage, read_write> da: array<f32>;

var<workgroup> partials: array<array<vec4<f32>, 4>, 64>;

fn pcg4d(input: vec4<u32>) -> vec4<u32> {
  var v = input * 1664525u + 1013904223u;
  v.x += v.y * v.w;
  v.y += v.z * v.x;
  v.z += v.x * v.y;
  v.w += v.y * v.z;
  v ^= v >> vec4<u32>(16u);
  v.x += v.y * v.w;
  v.y += v.z * v.x;
  v.z += v.x * v.y;
  v.w += v.y * v.z;
  return v;
}

// 1/(1-p) where X[m, 4·chunk + j] is kept, 0 where it is dropped, for j = 0..3.
fn dropout4(m: u32, chunk: u32) -> vec4<f32> {
  let bits = pcg4d(vec4<u32>(chunk, m, dims.key0, dims.key1));
  return select(vec4<f32>(0.0), vec4<f32>(dims.keep_scale), bits >= vec4<u32>(dims.threshold));
}

// The scale of element i of a quantized W [N, K]: its row's (int8) or its group's (int4).
fn w_scale(i: u32) -> f32 {
  let elements = dims.N * dims.K;
  if (W_DTYPE == 5u) {
    return bitcast<f32>(w[int8_scales_at(elements) + i / dims.K]);
  }
  return bitcast<f32>(w[int4_scales_at(elements) + i / W_GROUP]);
}

fn w_zero(i: u32) -> u32 {
  let g = i / W_GROUP;
  return nibble(w[int4_zeros_at(dims.N * dims.K, W_GROUP) + g / 8u], g % 8u);
}

fn load_w(i: u32) -> f32 {
  if (W_DTYPE == 0u) {
    return bitcast<f32>(w[i]);
  }
  if (W_DTYPE == 5u) {
    return int8_code(w[i >> 2u], i & 3u) * w_scale(i);
  }
  if (W_DTYPE == 6u) {
    return int4_code(w[i >> 3u], i & 7u, w_zero(i)) * w_scale(i);
  }
  let word = w[i >> 1u];
  let half = select(word & 0xffffu, word >> 16u, (i & 1u) == 1u);
  if (W_DTYPE == 1u) {
    return bitcast<f32>(half << 16u);
  }
  return unpack2x16float(half).x;
}

// W[i .. i+3]. With W_PAIRED two words (halves) or one (quantized) hold all four and are decoded together; the second word is
// clamped to the buffer because an edge block of dX may reach one word past the end (into columns it
// does not write).
fn load_w4(i: u32) -> vec4<f32> {
  if (W_DTYPE == 0u || !W_PAIRED) {
    return vec4<f32>(load_w(i), load_w(i + 1u), load_w(i + 2u), load_w(i + 3u));
  }
  // Quantized and paired: i is a multiple of 4, so the four codes share a word and a scale.
  if (W_DTYPE == 5u) {
    return int8_codes4(w[i >> 2u]) * w_scale(i);
  }
  if (W_DTYPE == 6u) {
    return int4_codes4(w[i >> 3u], i & 4u, w_zero(i)) * w_scale(i);
  }
  let word = i >> 1u;
  let lo = w[word];
  let hi = w[min(word + 1u, arrayLength(&w) - 1u)];
  if (W_DTYPE == 1u) {
    return vec4<f32>(bitcast<f32>(lo << 16u), bitcast<f32>(lo & 0xffff0000u), bitcast<f32>(hi << 16u), bitcast<f32>(hi & 0xffff0000u));
  }
  return vec4<f32>(unpack2x16float(lo), unpack2x16float(hi));
}

// Columns `cols` of the W row that starts at `row`; packed halves read four consecutive columns from
// the first (past the edge: the next row's, in outputs that are never written).
fn w_at(row: u32, cols: vec4<u32>) -> vec4<f32> {
  if (W_DTYPE != 0u && W_PAIRED) {
    return load_w4(row + cols.x);
  }
  return vec4<f32>(load_w(row + cols.x), load_w(row + cols.y), load_w(row + cols.z), load_w(row + cols.w));
}

fn load_x4(i: u32) -> vec4<f32> {
  return vec4<f32>(x[i], x[i + 1u], x[i + 2u], x[i + 3u]);
}

fn load_dy4(i: u32) -> vec4<f32> {
  return vec4<f32>(dy[i], dy[i + 1u], dy[i + 2u], dy[i + 3u]);
}

fn load_a4(i: u32) -> vec4<f32> {
  return vec4<f32>(lora_a[i], lora_a[i + 1u], lora_a[i + 2u], lora_a[i + 3u]);
}

// c0 .. c0+3 clamped to the last valid index, so edge blocks read valid memory without a branch per load.
fn clamped4(c0: u32, size: u32) -> vec4<u32> {
  return min(vec4<u32>(c0, c0 + 1u, c0 + 2u, c0 + 3u), vec4<u32>(size - 1u));
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
  let rows = clamped4(r0, dims.R) * K;
  var acc = vec4<f32>(0.0);
  let x_row = m * K;
  var k = 0u;
  for (; k + 4u <= K; k += 4u) {
    var xv = load_x4(x_row + k);
    if (DROPOUT) {
      xv *= dropout4(m, k / 4u);
    }
    acc += vec4<f32>(
      dot(xv, load_a4(rows.x + k)),
      dot(xv, load_a4(rows.y + k)),
      dot(xv, load_a4(rows.z + k)),
      dot(xv, load_a4(rows.w + k)));
  }
  if (k < K) {
    var keep = vec4<f32>(1.0);
    if (DROPOUT) {
      keep = dropout4(m, k / 4u);
    }
    for (var j = 0u; k + j < K; j++) {
      let xv = x[x_row + k + j] * keep[j];
      acc += xv * vec4<f32>(lora_a[rows.x + k + j], lora_a[rows.y + k + j], lora_a[rows.z + k + j], lora_a[rows.w + k + j]);
    }
  }
  for (var j = 0u; j < 4u && r0 + j < dims.R; j++) {
    u_out[m * dims.R + r0 + j] = acc[j];
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
  // loop needs no bounds checks. Four accumulators, not an array: SwiftShader's JIT keeps an indexed
  // array in memory (unrolling them made this loop 1.5x faster there).
  let ms = clamped4(m0, M);
  let ns = clamped4(n0, N);
  let x_rows = ms * K;
  let w_rows = ns * K;
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  var k = 0u;
  for (; k + 4u <= K; k += 4u) {
    let w0 = load_w4(w_rows.x + k);
    let w1 = load_w4(w_rows.y + k);
    let w2 = load_w4(w_rows.z + k);
    let w3 = load_w4(w_rows.w + k);
    let x0 = load_x4(x_rows.x + k);
    let x1 = load_x4(x_rows.y + k);
    let x2 = load_x4(x_rows.z + k);
    let x3 = load_x4(x_rows.w + k);
    acc0 += vec4<f32>(dot(x0, w0), dot(x0, w1), dot(x0, w2), dot(x0, w3));
    acc1 += vec4<f32>(dot(x1, w0), dot(x1, w1), dot(x1, w2), dot(x1, w3));
    acc2 += vec4<f32>(dot(x2, w0), dot(x2, w1), dot(x2, w2), dot(x2, w3));
    acc3 += vec4<f32>(dot(x3, w0), dot(x3, w1), dot(x3, w2), dot(x3, w3));
  }
  for (; k < K; k++) {
    let wv = vec4<f32>(load_w(w_rows.x + k), load_w(w_rows.y + k), load_w(w_rows.z + k), load_w(w_rows.w + k));
    acc0 += x[x_rows.x + k] * wv;
    acc1 += x[x_rows.y + k] * wv;
    acc2 += x[x_rows.z + k] * wv;
    acc3 += x[x_rows.w + k] * wv;
  }
  if (HAS_LORA) {
    // s·U·Bᵀ for the block, as an outer product per rank: 8 loads per 16 multiply-adds.
    let R = dims.R;
    let u_rows = ms * R;
    let b_rows = ns * R;
    for (var r = 0u; r < R; r++) {
      let uv = vec4<f32>(u[u_rows.x + r], u[u_rows.y + r], u[u_rows.z + r], u[u_rows.w + r]) * dims.scale;
      let bv = vec4<f32>(lora_b[b_rows.x + r], lora_b[b_rows.y + r], lora_b[b_rows.z + r], lora_b[b_rows.w + r]);
      acc0 += uv.x * bv;
      acc1 += uv.y * bv;
      acc2 += uv.z * bv;
      acc3 += uv.w * bv;
    }
  }
  let acc = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  for (var i = 0u; i < 4u && m0 + i < M; i++) {
    for (var j = 0u; j < 4u && n0 + j < N; j++) {
      var value = acc[i][j];
      if (HAS_BIAS) {
        value += bias[n0 + j];
      }
      y[(m0 + i) * N + n0 + j] = value;
    }
  }
}

@compute @workgroup_size(8, 8)
fn lora_linear_bwd_dx(@builtin(global_invocation_id) gid: vec3<u32>) {
  let M = dims.M;
  let N = dims.N;
  let K = dims.K;
  let R = dims.R;
  let m0 = gid.y * 4u;
  let k0 = gid.x * 4u;
  if (m0 >= M || k0 >= K) {
    return;
  }
  let ks = clamped4(k0, K);
  let dy_rows = clamped4(m0, M) * N;
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  // dY·W: 4 rows of dY 4 wide along N, 4 rows of W 4 wide along K.
  var n = 0u;
  for (; n + 4u <= N; n += 4u) {
    let w0 = w_at(n * K, ks);
    let w1 = w_at((n + 1u) * K, ks);
    let w2 = w_at((n + 2u) * K, ks);
    let w3 = w_at((n + 3u) * K, ks);
    let d0 = load_dy4(dy_rows.x + n);
    let d1 = load_dy4(dy_rows.y + n);
    let d2 = load_dy4(dy_rows.z + n);
    let d3 = load_dy4(dy_rows.w + n);
    acc0 += d0.x * w0 + d0.y * w1 + d0.z * w2 + d0.w * w3;
    acc1 += d1.x * w0 + d1.y * w1 + d1.z * w2 + d1.w * w3;
    acc2 += d2.x * w0 + d2.y * w1 + d2.z * w2 + d2.w * w3;
    acc3 += d3.x * w0 + d3.y * w1 + d3.z * w2 + d3.w * w3;
  }
  for (; n < N; n++) {
    let wv = w_at(n * K, ks);
    acc0 += dy[dy_rows.x + n] * wv;
    acc1 += dy[dy_rows.y + n] * wv;
    acc2 += dy[dy_rows.z + n] * wv;
    acc3 += dy[dy_rows.w + n] * wv;
  }
  // s·drop'(G·A), as an outer product per rank.
  let g_rows = clamped4(m0, M) * R;
  var lora0 = vec4<f32>(0.0);
  var lora1 = vec4<f32>(0.0);
  var lora2 = vec4<f32>(0.0);
  var lora3 = vec4<f32>(0.0);
  for (var r = 0u; r < R; r++) {
    let gv = vec4<f32>(g[g_rows.x + r], g[g_rows.y + r], g[g_rows.z + r], g[g_rows.w + r]);
    let row = r * K;
    let av = vec4<f32>(lora_a[row + ks.x], lora_a[row + ks.y], lora_a[row + ks.z], lora_a[row + ks.w]);
    lora0 += gv.x * av;
    lora1 += gv.y * av;
    lora2 += gv.z * av;
    lora3 += gv.w * av;
  }
  let acc = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  let lora = array<vec4<f32>, 4>(lora0, lora1, lora2, lora3);
  for (var i = 0u; i < 4u && m0 + i < M; i++) {
    var lora_i = dims.scale * lora[i];
    if (DROPOUT) {
      lora_i *= dropout4(m0 + i, k0 / 4u);
    }
    let value = acc[i] + lora_i;
    for (var j = 0u; j < 4u && k0 + j < K; j++) {
      dx[(m0 + i) * K + k0 + j] += value[j];
    }
  }
}

// dA[r0 .. r0+3, k0 .. k0+3] summed over the tokens first, first + step, ... (without the scale).
fn grad_a_block(r0: u32, k0: u32, first: u32, step: u32) -> array<vec4<f32>, 4> {
  let K = dims.K;
  let R = dims.R;
  let rs = clamped4(r0, R);
  let ks = clamped4(k0, K);
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var m = first; m < dims.M; m += step) {
    let gv = vec4<f32>(g[m * R + rs.x], g[m * R + rs.y], g[m * R + rs.z], g[m * R + rs.w]);
    let row = m * K;
    var xv = vec4<f32>(x[row + ks.x], x[row + ks.y], x[row + ks.z], x[row + ks.w]);
    if (DROPOUT) {
      xv *= dropout4(m, k0 / 4u);
    }
    acc0 += gv.x * xv;
    acc1 += gv.y * xv;
    acc2 += gv.z * xv;
    acc3 += gv.w * xv;
  }
  return array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
}

@compute @workgroup_size(64)
fn lora_grad_a(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lane: u32,
) {
  let col_blocks = (dims.K + 3u) / 4u;
  let blocks = col_blocks * ((dims.R + 3u) / 4u);
  let slot = lane / SPLIT;
  let part = lane % SPLIT;
  let index = (wid.x + wid.y * groups.x) * (64u / SPLIT) + slot;
  // Lanes past the last block sum a valid block again and write nothing: every lane must reach the barrier.
  let b = min(index, blocks - 1u);
  let r0 = (b / col_blocks) * 4u;
  let k0 = (b % col_blocks) * 4u;
  let acc = grad_a_block(r0, k0, part, SPLIT);
  if (SPLIT == 1u) {
    for (var i = 0u; i < 4u && r0 + i < dims.R && index < blocks; i++) {
      for (var j = 0u; j < 4u && k0 + j < dims.K; j++) {
        da[(r0 + i) * dims.K + k0 + j] += dims.scale * acc[i][j];
      }
    }
    return;
  }
  partials[lane] = acc;
  workgroupBarrier();
  if (index >= blocks) {
    return;
  }
  for (var e = part; e < 16u; e += SPLIT) {
    let i = e / 4u;
    let j = e % 4u;
    if (r0 + i < dims.R && k0 + j < dims.K) {
      var sum = 0.0;
      for (var q = 0u; q < SPLIT; q++) {
        sum += partials[slot * SPLIT + q][i][j];
      }
      da[(r0 + i) * dims.K + k0 + j] += dims.scale * sum;
    }
  }
}
