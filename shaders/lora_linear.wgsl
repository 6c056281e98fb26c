// lora_linear.wgsl: the LoRA-only products of a LoRA linear layer, with LoRA dropout
//
// Forward    Y[M,N] = X[M,K] · W[N,K]ᵀ + bias[N] + s · U[M,R] · B[N,R]ᵀ
//            U[M,R] = drop(X) · Aᵀ, A [R,K], s = alpha/R (PEFT applies lora_dropout to lora_A's input)
// Backward, given dY [M,N] and the U saved by the forward. It ACCUMULATES into dX, dA and dB (+=, as
// llm.c does; the caller clears them). app/gpu/ops/lora_linear.ts encodes, in one command encoder:
//            U = drop(X)·Aᵀ                     lora_down (here)
//            Y = X·Wᵀ + bias + s·U·Bᵀ           the product cores (matmul.wgsl / matmul_gpu.wgsl) nt,
//                                               bias and LoRA term in their 'linear' epilogue
//            G[M,R] = dY · B                    matmul.wgsl nn (skinny)
//            dB    += s · dYᵀ · U               matmul.wgsl tn (skinny)
//            dA    += s · Gᵀ · drop(X)          lora_grad_a (here)
//            dX    += dY · W + s · drop'(G · A) the product cores nn, the LoRA branch and its mask in
//                                               their 'lora_dx' epilogue
// So the frozen products X·Wᵀ and dY·W, and W's decoding, exist once per kernel family.
//
// Dropout (DROPOUT override; p = 0 compiles it out): drop(X)[m,k] = X[m,k] · keep(m,k) / (1-p) with
//   keep(m,k) = pcg4d(k / 4, m, key)[k % 4] >= threshold,   threshold = round(p · 2³²)
// key = pcg4d(seed, step, offset, "drop").xy; the dropout prelude of app/gpu/wgsl.ts (put in front by
// app/gpu/ops/lora_linear.ts) holds the hash and reads seed and step from its uniform (binding 6), which
// the trainer writes once per micro-batch; offset, threshold and 1/(1-p) stay in dims, the same every
// step. dropoutMask in app/gpu/reference/lora_linear.ts computes the same mask in TypeScript. Forward and
// backward regenerate the same mask; none is stored.
//
// Everything is f32, row-major.
//
// Entry points (workgroup sizes; dispatch):
//   lora_down           U. 4x16; thread (x, y) computes U[y, 4x .. 4x+3].  (ceil(ceil(R/4) / 4), ceil(M/16))
//   lora_grad_a         dA. 64; 4x4 blocks of dA, each summed over the M tokens by SPLIT lanes that
//                       add their partial blocks in workgroup memory (4 KiB), as matmul_skinny does.
//                       ceil(ceil(R/4)·ceil(K/4) / (64/SPLIT)) workgroups as (x, y), x <= 65535.
// Bindings: 0 dims (uniform), 1 X, 6 the dropout step (uniform), 7 A, 8 U (written), 10 G, 12 dA.

struct Dims {
  M: u32,
  K: u32,
  R: u32,
  scale: f32,
  dropout_offset: u32,  // the layer's place in the dropout stream
  threshold: u32,
  keep_scale: f32,      // 1 / (1-p)
}

override DROPOUT: bool = false;
override SPLIT: u32 = 1u;     // lora_grad_a only: a power of two <= 64

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(7) var<storage, read> lora_a: array<f32>;
@group(0) @binding(8) var<storage, read_write> u_out: array<f32>;
@group(0) @binding(10) var<storage, read> g: array<f32>;
@group(0) @binding(12) var<storage, read_write> da: array<f32>;

var<workgroup> partials: array<array<vec4<f32>, 4>, 64>;

// 1/(1-p) where X[m, 4·chunk + j] is kept, 0 where it is dropped, for j = 0..3 (key: dropout_key).
fn keep4(key: vec2<u32>, m: u32, chunk: u32) -> vec4<f32> {
  return dropout4(key, m, chunk, dims.threshold, dims.keep_scale);
}

fn load_x4(i: u32) -> vec4<f32> {
  return vec4<f32>(x[i], x[i + 1u], x[i + 2u], x[i + 3u]);
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
  var key = vec2<u32>(0u);
  if (DROPOUT) {
    key = dropout_key(dims.dropout_offset);
  }
  // Ranks past R read row R-1 of A (valid memory) and are not written.
  let rows = clamped4(r0, dims.R) * K;
  var acc = vec4<f32>(0.0);
  let x_row = m * K;
  var k = 0u;
  for (; k + 4u <= K; k += 4u) {
    var xv = load_x4(x_row + k);
    if (DROPOUT) {
      xv *= keep4(key, m, k / 4u);
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
      keep = keep4(key, m, k / 4u);
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
  var key = vec2<u32>(0u);
  if (DROPOUT) {
    key = dropout_key(dims.dropout_offset);
  }
  for (var m = first; m < dims.M; m += step) {
    let gv = vec4<f32>(g[m * R + rs.x], g[m * R + rs.y], g[m * R + rs.z], g[m * R + rs.w]);
    let row = m * K;
    var xv = vec4<f32>(x[row + ks.x], x[row + ks.y], x[row + ks.z], x[row + ks.w]);
    if (DROPOUT) {
      xv *= keep4(key, m, k0 / 4u);
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
