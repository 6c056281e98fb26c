// matmul.wgsl: the matrix products of training, in three layouts (LAYOUT override)
//
//   0 nt   Y[M,N]  =  scale · X[M,K] · W[N,K]ᵀ      forward;                   W f32, bf16 or f16
//   1 nn   dX[M,K] += scale · dY[M,N] · W[N,K]      input gradient through W;  W f32, bf16 or f16
//   2 tn   dW[N,K] += scale · dY[M,N]ᵀ · X[M,K]     weight and LoRA gradients; all f32, M = tokens
//
// ACCUMULATE chooses += or = in any layout (by default backward passes accumulate, as llm.c does;
// the caller clears gradients). Every layout is OUT[ROWS, COLS] summed over INNER:
//   nt: ROWS=M COLS=N INNER=K    nn: ROWS=M COLS=K INNER=N    tn: ROWS=N COLS=K INNER=M
// Each thread owns a 4x4 block of OUT in registers and reads both operands 4 wide along their
// contiguous dimension (ENGINEERING.md §4: the fastest layout measured on SwiftShader, no workgroup
// memory in the main loop). Rows and columns past the edge re-read the last valid one and are not
// written, so the inner loop has no bounds checks.
//
// The right operand is an array<u32> in RHS_DTYPE (0 f32, 1 bf16, 2 f16, 5 int8, 6 int4): halves are
// packed two per word, element 2i in the low 16 bits, and decoded here, so no shader-f16 is needed;
// when K is even (RHS_PAIRED) four halves come from two words at once. int8 and int4 (nt and nn only)
// are decoded by quant.wgsl, which app/gpu/ops/matmul.ts prepends; with RHS_PAIRED (K a multiple of
// 4) four codes come from one word with one scale. lhs and out are f32.
// Two things halved the time on SwiftShader (whose JIT neither unrolls loops nor keeps arrays in
// registers) and cost nothing elsewhere: no branch inside the loops (edges are clamped indices, not
// ifs), and four vec4 accumulators instead of an indexed array.
//
// This file is the CPU family's product core, written once: app/gpu/ops/matmul.ts puts preludes
// (app/gpu/wgsl.ts) in front of it, as for the GPU family's core: quant.wgsl's decoders; a row prelude,
// `fn lhs_row(r: u32) -> u32`, the stored row of lhs that OUT row r reads in nt and nn (r, or a gathered
// row); and an epilogue prelude, which adds a term to each output before it is stored (a projection's
// bias and LoRA term, the LoRA branch of its dX). Dims carry lhs's and out's strides and offsets, so the
// LM head of cross_entropy (a column block of a [rows, V] scratch) and lora_linear run on this core too.
//
// Entry points:
//   matmul_tiled   large products. Workgroup 8x8 covers a 32x32 block of OUT.
//                  dispatch (ceil(COLS / 32), ceil(ROWS / 32)).
//   matmul_skinny  products with an output side <= 64 (the LoRA rank). Workgroup 64: 64/SPLIT 4x4
//                  blocks, each summed by SPLIT lanes that take every SPLIT-th 4-chunk of INNER (in
//                  tn every SPLIT-th token) and
//                  add their partial blocks in workgroup memory (4 KiB), so a [R, K] gradient over
//                  thousands of tokens still spreads over the whole GPU without a second pass.
//                  dispatch: ceil(blocks / (64 / SPLIT)) workgroups, blocks = ceil(ROWS/4)·ceil(COLS/4),
//                  laid out as (x, y) with x <= 65535; workgroups past the end write nothing.
//                  app/gpu/ops/matmul.ts routeMatmul picks the kernel and SPLIT from the shape and device.
// Bindings: 0 dims (uniform), 1 lhs (X or dY), 2 rhs (W or X), 3 out, 4 the gathered rows (i32) where the
// row prelude gathers, 5-11 the epilogue's.

struct Dims {
  rows: u32,
  cols: u32,
  inner: u32,
  scale: f32,
  lhs_stride: u32,  // elements between stored rows of lhs (nt, nn: INNER for a dense operand; tn: ROWS)
  lhs_offset: u32,  // element of lhs where the operand begins
  out_stride: u32,  // elements between rows of out (COLS for a dense output)
  out_offset: u32,  // element of out that holds OUT[0, 0]
}

override LAYOUT: u32 = 0u;     // 0 nt, 1 nn, 2 tn
override RHS_DTYPE: u32 = 0u;  // 0 f32, 1 bf16, 2 f16, 5 int8, 6 int4
override ACCUMULATE: bool = false;
override RHS_PAIRED: bool = false;  // halves: K is even; int8 and int4: K is a multiple of 4
override QUANT_GROUP: u32 = 32u;    // int4 only: elements per scale and zero point
override SPLIT: u32 = 1u;      // matmul_skinny only: a power of two <= 64

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> lhs: array<f32>;
@group(0) @binding(2) var<storage, read> rhs: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

var<workgroup> partials: array<array<vec4<f32>, 4>, 64>;

// What the row prelude's gather clamps against.
fn lhs_elements() -> u32 {
  return arrayLength(&lhs);
}

// A quantized W [N, K] has N·K elements in both layouts that read it (nt: COLS·INNER, nn: INNER·COLS).
fn rhs_elements() -> u32 {
  return dims.cols * dims.inner;
}

// The scale of element i of a quantized W: its row's (int8; K is INNER in nt, COLS in nn) or its group's (int4).
fn rhs_scale(i: u32) -> f32 {
  if (RHS_DTYPE == 5u) {
    let row_length = select(dims.cols, dims.inner, LAYOUT == 0u);
    return bitcast<f32>(rhs[int8_scales_at(rhs_elements()) + i / row_length]);
  }
  return bitcast<f32>(rhs[int4_scales_at(rhs_elements()) + i / QUANT_GROUP]);
}

fn rhs_zero(i: u32) -> u32 {
  let g = i / QUANT_GROUP;
  return nibble(rhs[int4_zeros_at(rhs_elements(), QUANT_GROUP) + g / 8u], g % 8u);
}

fn load_rhs(i: u32) -> f32 {
  if (RHS_DTYPE == 0u) {
    return bitcast<f32>(rhs[i]);
  }
  if (RHS_DTYPE == 5u) {
    return int8_code(rhs[i >> 2u], i & 3u) * rhs_scale(i);
  }
  if (RHS_DTYPE == 6u) {
    return int4_code(rhs[i >> 3u], i & 7u, rhs_zero(i)) * rhs_scale(i);
  }
  let word = rhs[i >> 1u];
  let half = select(word & 0xffffu, word >> 16u, (i & 1u) == 1u);
  if (RHS_DTYPE == 1u) {
    return bitcast<f32>(half << 16u);
  }
  return unpack2x16float(half).x;
}

// Four consecutive elements from i. With RHS_PAIRED (halves, K even: every 4-run the kernels read
// starts at an even element; quantized, K a multiple of 4: it starts at a multiple of 4) two words hold all four and are decoded together, with no branch; the
// second word is clamped to the buffer because an nn edge block may reach one word past the end (into
// columns it does not write).
fn load_rhs4(i: u32) -> vec4<f32> {
  if (RHS_DTYPE == 0u) {
    return vec4<f32>(bitcast<f32>(rhs[i]), bitcast<f32>(rhs[i + 1u]), bitcast<f32>(rhs[i + 2u]), bitcast<f32>(rhs[i + 3u]));
  }
  if (!RHS_PAIRED) {
    return vec4<f32>(load_rhs(i), load_rhs(i + 1u), load_rhs(i + 2u), load_rhs(i + 3u));
  }
  // Quantized and paired: i is a multiple of 4, so the four codes share a word and a scale.
  if (RHS_DTYPE == 5u) {
    return int8_codes4(rhs[i >> 2u]) * rhs_scale(i);
  }
  if (RHS_DTYPE == 6u) {
    return int4_codes4(rhs[i >> 3u], i & 4u, rhs_zero(i)) * rhs_scale(i);
  }
  let word = i >> 1u;
  let lo = rhs[word];
  let hi = rhs[min(word + 1u, arrayLength(&rhs) - 1u)];
  if (RHS_DTYPE == 1u) {
    return vec4<f32>(bitcast<f32>(lo << 16u), bitcast<f32>(lo & 0xffff0000u), bitcast<f32>(hi << 16u), bitcast<f32>(hi & 0xffff0000u));
  }
  return vec4<f32>(unpack2x16float(lo), unpack2x16float(hi));
}

fn load_lhs4(i: u32) -> vec4<f32> {
  return vec4<f32>(lhs[i], lhs[i + 1u], lhs[i + 2u], lhs[i + 3u]);
}

// Indices i0 .. i0+3 clamped to the last valid one, so edge blocks read valid memory without a branch.
fn clamped4(i0: u32, size: u32) -> vec4<u32> {
  return min(vec4<u32>(i0, i0 + 1u, i0 + 2u, i0 + 3u), vec4<u32>(size - 1u));
}

// The element where each of OUT rows r0 .. r0+3 begins in lhs (nt, nn); rows past the edge re-read the last.
fn lhs_starts(r0: u32) -> vec4<u32> {
  let rs = clamped4(r0, dims.rows);
  return vec4<u32>(lhs_row(rs.x), lhs_row(rs.y), lhs_row(rs.z), lhs_row(rs.w)) * dims.lhs_stride + dims.lhs_offset;
}

fn lhs_at(row: u32, cols: vec4<u32>) -> vec4<f32> {
  return vec4<f32>(lhs[row + cols.x], lhs[row + cols.y], lhs[row + cols.z], lhs[row + cols.w]);
}

// Columns `cols` of the row that starts at `row`. Packed halves read the four consecutive columns
// from the first instead: past the edge they are the next row's, in outputs that are never written.
fn rhs_at(row: u32, cols: vec4<u32>) -> vec4<f32> {
  if (RHS_DTYPE != 0u && RHS_PAIRED) {
    return load_rhs4(row + cols.x);
  }
  return vec4<f32>(load_rhs(row + cols.x), load_rhs(row + cols.y), load_rhs(row + cols.z), load_rhs(row + cols.w));
}

alias Block = array<vec4<f32>, 4>;

// OUT[r0 .. r0+3, c0 .. c0+3] summed over the 4-chunks first, first + step, ... of INNER (and the
// ragged last chunk, by the lane whose turn it is), or in tn over the tokens first, first + step, ...
fn block_nt(r0: u32, c0: u32, first: u32, step: u32) -> Block {
  let K = dims.inner;
  let rows = lhs_starts(r0);
  let cols = clamped4(c0, dims.cols) * K;
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  let chunks = K / 4u;
  for (var c = first; c < chunks; c += step) {
    let k = c * 4u;
    let w0 = load_rhs4(cols.x + k);
    let w1 = load_rhs4(cols.y + k);
    let w2 = load_rhs4(cols.z + k);
    let w3 = load_rhs4(cols.w + k);
    let x0 = load_lhs4(rows.x + k);
    let x1 = load_lhs4(rows.y + k);
    let x2 = load_lhs4(rows.z + k);
    let x3 = load_lhs4(rows.w + k);
    acc0 += vec4<f32>(dot(x0, w0), dot(x0, w1), dot(x0, w2), dot(x0, w3));
    acc1 += vec4<f32>(dot(x1, w0), dot(x1, w1), dot(x1, w2), dot(x1, w3));
    acc2 += vec4<f32>(dot(x2, w0), dot(x2, w1), dot(x2, w2), dot(x2, w3));
    acc3 += vec4<f32>(dot(x3, w0), dot(x3, w1), dot(x3, w2), dot(x3, w3));
  }
  if (chunks % step == first) {
    for (var k = chunks * 4u; k < K; k++) {
      let wv = vec4<f32>(load_rhs(cols.x + k), load_rhs(cols.y + k), load_rhs(cols.z + k), load_rhs(cols.w + k));
      acc0 += lhs[rows.x + k] * wv;
      acc1 += lhs[rows.y + k] * wv;
      acc2 += lhs[rows.z + k] * wv;
      acc3 += lhs[rows.w + k] * wv;
    }
  }
  return Block(acc0, acc1, acc2, acc3);
}

fn block_nn(r0: u32, c0: u32, first: u32, step: u32) -> Block {
  let N = dims.inner;
  let K = dims.cols;
  let rows = lhs_starts(r0);
  let cols = clamped4(c0, K);
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  let chunks = N / 4u;
  for (var c = first; c < chunks; c += step) {
    let n = c * 4u;
    let w0 = rhs_at(n * K, cols);
    let w1 = rhs_at((n + 1u) * K, cols);
    let w2 = rhs_at((n + 2u) * K, cols);
    let w3 = rhs_at((n + 3u) * K, cols);
    let g0 = load_lhs4(rows.x + n);
    let g1 = load_lhs4(rows.y + n);
    let g2 = load_lhs4(rows.z + n);
    let g3 = load_lhs4(rows.w + n);
    acc0 += g0.x * w0 + g0.y * w1 + g0.z * w2 + g0.w * w3;
    acc1 += g1.x * w0 + g1.y * w1 + g1.z * w2 + g1.w * w3;
    acc2 += g2.x * w0 + g2.y * w1 + g2.z * w2 + g2.w * w3;
    acc3 += g3.x * w0 + g3.y * w1 + g3.z * w2 + g3.w * w3;
  }
  if (chunks % step == first) {
    for (var n = chunks * 4u; n < N; n++) {
      let wv = rhs_at(n * K, cols);
      acc0 += lhs[rows.x + n] * wv;
      acc1 += lhs[rows.y + n] * wv;
      acc2 += lhs[rows.z + n] * wv;
      acc3 += lhs[rows.w + n] * wv;
    }
  }
  return Block(acc0, acc1, acc2, acc3);
}

fn block_tn(r0: u32, c0: u32, first: u32, step: u32) -> Block {
  let M = dims.inner;
  let N = dims.lhs_stride;
  let base = dims.lhs_offset;
  let K = dims.cols;
  let g_cols = clamped4(r0, dims.rows);
  let x_cols = clamped4(c0, K);
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  // Every step-th token from `first`, four at a time: SwiftShader neither unrolls loops nor overlaps
  // their iterations, so one token per iteration spent as much on the loop as on the 16 products.
  let stride = 4u * step;
  var m = first;
  for (; m + 3u * step < M; m += stride) {
    let g0 = lhs_at(base + m * N, g_cols);
    let g1 = lhs_at(base + (m + step) * N, g_cols);
    let g2 = lhs_at(base + (m + 2u * step) * N, g_cols);
    let g3 = lhs_at(base + (m + 3u * step) * N, g_cols);
    let x0 = rhs_at(m * K, x_cols);
    let x1 = rhs_at((m + step) * K, x_cols);
    let x2 = rhs_at((m + 2u * step) * K, x_cols);
    let x3 = rhs_at((m + 3u * step) * K, x_cols);
    acc0 += g0.x * x0 + g1.x * x1 + g2.x * x2 + g3.x * x3;
    acc1 += g0.y * x0 + g1.y * x1 + g2.y * x2 + g3.y * x3;
    acc2 += g0.z * x0 + g1.z * x1 + g2.z * x2 + g3.z * x3;
    acc3 += g0.w * x0 + g1.w * x1 + g2.w * x2 + g3.w * x3;
  }
  for (; m < M; m += step) {
    let g = lhs_at(base + m * N, g_cols);
    let xv = rhs_at(m * K, x_cols);
    acc0 += g.x * xv;
    acc1 += g.y * xv;
    acc2 += g.z * xv;
    acc3 += g.w * xv;
  }
  return Block(acc0, acc1, acc2, acc3);
}

fn block(r0: u32, c0: u32, first: u32, step: u32) -> Block {
  if (LAYOUT == 0u) {
    return block_nt(r0, c0, first, step);
  }
  if (LAYOUT == 1u) {
    return block_nn(r0, c0, first, step);
  }
  return block_tn(r0, c0, first, step);
}

// OUT[r, c] (=|+=) value.
fn store(r: u32, c: u32, value: f32) {
  let i = dims.out_offset + r * dims.out_stride + c;
  if (ACCUMULATE) {
    out[i] += value;
  } else {
    out[i] = value;
  }
}

// scale·acc + the epilogue's terms as whole vec4s with constant indices: SwiftShader keeps a dynamically
// indexed array in memory, and a product with a short inner loop (LoRA's dX += dU·A, inner 16) spends much
// of its time here (a second such array made those rows 2-4x slower in single runs).
fn store_block(r0: u32, c0: u32, acc: Block) {
  var values = Block(dims.scale * acc[0], dims.scale * acc[1], dims.scale * acc[2], dims.scale * acc[3]);
  if (EPILOGUE) {
    let terms = epilogue_block(r0, c0);
    values = Block(values[0] + terms[0], values[1] + terms[1], values[2] + terms[2], values[3] + terms[3]);
  }
  for (var i = 0u; i < 4u && r0 + i < dims.rows; i++) {
    for (var j = 0u; j < 4u && c0 + j < dims.cols; j++) {
      store(r0 + i, c0 + j, values[i][j]);
    }
  }
}

@compute @workgroup_size(8, 8)
fn matmul_tiled(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r0 = gid.y * 4u;
  let c0 = gid.x * 4u;
  if (r0 >= dims.rows || c0 >= dims.cols) {
    return;
  }
  store_block(r0, c0, block(r0, c0, 0u, 1u));
}

@compute @workgroup_size(64)
fn matmul_skinny(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lane: u32,
) {
  let col_blocks = (dims.cols + 3u) / 4u;
  let blocks = col_blocks * ((dims.rows + 3u) / 4u);
  let slot = lane / SPLIT;
  let part = lane % SPLIT;
  let index = (wid.x + wid.y * groups.x) * (64u / SPLIT) + slot;
  // Lanes past the last block sum a valid block again and write nothing: every lane must reach the barrier.
  let b = min(index, blocks - 1u);
  let r0 = (b / col_blocks) * 4u;
  let c0 = (b % col_blocks) * 4u;
  let acc = block(r0, c0, part, SPLIT);
  if (SPLIT == 1u) {
    if (index < blocks) {
      store_block(r0, c0, acc);
    }
    return;
  }
  partials[lane] = acc;
  workgroupBarrier();
  if (index >= blocks) {
    return;
  }
  // The SPLIT lanes of a block share its 16 sums.
  for (var e = part; e < 16u; e += SPLIT) {
    let i = e / 4u;
    let j = e % 4u;
    if (r0 + i < dims.rows && c0 + j < dims.cols) {
      var sum = 0.0;
      for (var q = 0u; q < SPLIT; q++) {
        sum += partials[slot * SPLIT + q][i][j];
      }
      var value = dims.scale * sum;
      if (EPILOGUE) {
        value += epilogue_at(r0 + i, c0 + j);
      }
      store(r0 + i, c0 + j, value);
    }
  }
}
