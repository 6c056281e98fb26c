// matmul_gpu.wgsl: the matrix products of training shaped for real GPUs (the 'gpu' kernel family;
// shaders/matmul.wgsl is the 'cpu' family, and both compute the same numbers). Same layouts and
// meaning as matmul.wgsl (LAYOUT override; every layout is OUT[ROWS, COLS] summed over INNER):
//
//   0 nt   Y[M,N]  (=|+=) scale · X[M,K] · W[N,K]ᵀ    ROWS=M COLS=N INNER=K   W f32, bf16 or f16
//   1 nn   dX[M,K] (=|+=) scale · dY[M,N] · W[N,K]    ROWS=M COLS=K INNER=N   W f32, bf16 or f16
//   2 tn   dW[N,K] (=|+=) scale · dY[M,N]ᵀ · X[M,K]   ROWS=N COLS=K INNER=M   all f32
//
// This file is the core only: app/gpu/ops/matmul_gpu.ts puts three preludes (app/gpu/wgsl.ts) in front
// of it: a weight prelude, which declares binding 2 (`rhs`, in the weights' storage type) and
// `fn load_rhs4(q: u32) -> vec4<f32>`, elements 4q .. 4q+3 decoded to f32; a tile prelude, the type
// gemm stages rhs in (`alias RhsTile`: vec4<f32>, or vec4<f16> for f16 weights on the `enable f16;`
// route 'gemm-f16', which reads them natively) and `fn load_rhs_tile4(q: u32) -> RhsTile`; and a row prelude,
// `fn lhs_row(r: u32) -> u32`, the stored row of lhs that OUT row r reads in nt and nn (r itself, or
// a gathered row: the LM head's selected logits); and an epilogue prelude, a term added to each output
// before it is stored (lora_linear's bias and LoRA term, the LoRA branch of its dX, with dropout's
// mask). The GEMM core is written once and each weight
// encoding and caller is composed in: matmul, and the LM head of cross_entropy (its logits are a
// column block of a [rows, V] scratch, its dlogits read back from there), through the strides and
// offsets of Dims.
// Needs N % 4 == 0 and K % 4 == 0 (every operand's contiguous side), and strides and offsets that are
// multiples of 4: loads are real vec4 loads. matmul_gemv needs only K, lhs's stride and offset to be (it
// reads W by rows of K and stores single elements), so decoding takes any N.
//
// Entry points:
//   matmul_gemm  workgroup 16x16 computes a 64x64 tile of OUT, 4x4 per thread in registers. Each step
//                stages a 64x16 slice of both operands in workgroup memory (2 x 4 KiB) with one vec4
//                load per thread, neighbouring threads reading neighbouring vec4s (coalesced) in every
//                layout; each staged vec4 is written whole (no component writes: those may be
//                read-modify-writes that race). An operand contiguous along INNER is staged as rows
//                of 4-element chunks, one contiguous along ROWS/COLS as k-major rows of 16 vec4s.
//                dispatch (ceil(COLS / 64), ceil(ROWS / 64)).
//                On the 'gemm-f16' route (nt and nn with f16 W, only on a device with shader-f16, after
//                `enable f16;`) W is read natively as vec4<f16> and staged as vec4<f16> (2 KiB instead
//                of 4: half the workgroup-memory traffic for that operand, no unpack2x16float), while
//                X or dY stays f32 in its tile and every product is summed in f32. Why not f16 throughout:
//                activations and gradients are not f16 values (dY of a loss over thousands of tokens
//                runs to 1e-8 and below, under f16's smallest subnormal 6e-8; hidden states can pass
//                its 65504), and an f16 sum over K = 576..1536 terms keeps about 3 significant digits,
//                where the reference tests ask for 1e-4. Rounding only what is already f16 changes no
//                number. bf16 weights never take this route: f16 has 5 exponent bits to bf16's 8, so
//                converting them would turn values past 65504 into infinities and flush small ones.
//   matmul_gemv  nt with M <= 8 (decoding, ROWS_GEMV = M): 8 output columns per workgroup of 256; the
//                32 lanes of a column split K (coalesced vec4 loads of the weight row), keep ROWS_GEMV
//                partial sums each and add them in workgroup memory (8 KiB).
//                dispatch ceil(N / 8) workgroups as (x, y), x <= 65535; those past the end write nothing.
// Bindings: 0 dims (uniform), 1 lhs (X or dY, as vec4), 2 rhs (weight prelude), 3 out (f32), 4 the
// gathered rows (i32) where the row prelude gathers, 5-11 the epilogue's.

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

override LAYOUT: u32 = 0u;
override ACCUMULATE: bool = false;
override ROWS_GEMV: u32 = 1u;  // matmul_gemv only: M, 1 .. 8

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> lhs: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

const TILE: u32 = 64u;
const BK: u32 = 16u;

// Operand A is OUT-rows x INNER, operand B is INNER x OUT-cols, each 64 x 16 per step in 256 vec4s.
var<workgroup> a_tile: array<vec4<f32>, 256>;
var<workgroup> b_tile: array<RhsTile, 256>;

// What the row prelude's gather clamps against.
fn lhs_elements() -> u32 {
  return arrayLength(&lhs) * 4u;
}

fn lhs4(q: u32, valid: bool) -> vec4<f32> {
  return select(vec4<f32>(0.0), lhs[q], valid);
}

fn rhs_tile4(q: u32, valid: bool) -> RhsTile {
  return select(RhsTile(), load_rhs_tile4(q), valid);
}

// A staged rhs vector in f32: products are summed in f32 whatever the tile holds.
fn b_at(i: u32) -> vec4<f32> {
  return vec4<f32>(b_tile[i]);
}

// Stages A[r0 .., k0 ..]: nt X[r, k] and nn dY[r, n] are contiguous along INNER (a_tile[r * 4 + kq]
// holds row r, inner k0 + 4kq .. +3); tn dY[m, r] is contiguous along ROWS (a_tile[k * 16 + rq] holds
// inner k0 + k, rows 4rq .. +3).
fn stage_a(t: u32, r0: u32, k0: u32) {
  if (LAYOUT == 2u) {
    let k = k0 + t / 16u;
    let r = r0 + (t % 16u) * 4u;
    let valid = k < dims.inner && r < dims.rows;
    a_tile[t] = lhs4(select(0u, (k * dims.lhs_stride + dims.lhs_offset + r) / 4u, valid), valid);
  } else {
    let r = r0 + t / 4u;
    let k = k0 + (t % 4u) * 4u;
    let valid = r < dims.rows && k < dims.inner;
    a_tile[t] = lhs4(select(0u, (lhs_row(min(r, dims.rows - 1u)) * dims.lhs_stride + dims.lhs_offset + k) / 4u, valid), valid);
  }
}

// Stages B[k0 .., c0 ..]: nt W[c, k] is contiguous along INNER (b_tile[c * 4 + kq]); nn W[n, c] and
// tn X[m, c] are contiguous along COLS (b_tile[k * 16 + cq]).
fn stage_b(t: u32, c0: u32, k0: u32) {
  if (LAYOUT == 0u) {
    let c = c0 + t / 4u;
    let k = k0 + (t % 4u) * 4u;
    let valid = c < dims.cols && k < dims.inner;
    b_tile[t] = rhs_tile4(select(0u, (c * dims.inner + k) / 4u, valid), valid);
  } else {
    let k = k0 + t / 16u;
    let c = c0 + (t % 16u) * 4u;
    let valid = k < dims.inner && c < dims.cols;
    b_tile[t] = rhs_tile4(select(0u, (k * dims.cols + c) / 4u, valid), valid);
  }
}

alias Block = array<vec4<f32>, 4>;

// Adds this step's 16 inner elements to the thread's 4x4 block (rows 4ty .., cols 4tx ..).
fn multiply_tiles(tx: u32, ty: u32, acc_in: Block) -> Block {
  var acc0 = acc_in[0];
  var acc1 = acc_in[1];
  var acc2 = acc_in[2];
  var acc3 = acc_in[3];
  if (LAYOUT == 2u) {
    for (var k = 0u; k < BK; k++) {
      let a = a_tile[k * 16u + ty];
      let b = b_at(k * 16u + tx);
      acc0 += a.x * b;
      acc1 += a.y * b;
      acc2 += a.z * b;
      acc3 += a.w * b;
    }
  } else {
    for (var kq = 0u; kq < BK / 4u; kq++) {
      let a0 = a_tile[(ty * 4u) * 4u + kq];
      let a1 = a_tile[(ty * 4u + 1u) * 4u + kq];
      let a2 = a_tile[(ty * 4u + 2u) * 4u + kq];
      let a3 = a_tile[(ty * 4u + 3u) * 4u + kq];
      if (LAYOUT == 0u) {
        let b0 = b_at((tx * 4u) * 4u + kq);
        let b1 = b_at((tx * 4u + 1u) * 4u + kq);
        let b2 = b_at((tx * 4u + 2u) * 4u + kq);
        let b3 = b_at((tx * 4u + 3u) * 4u + kq);
        acc0 += vec4<f32>(dot(a0, b0), dot(a0, b1), dot(a0, b2), dot(a0, b3));
        acc1 += vec4<f32>(dot(a1, b0), dot(a1, b1), dot(a1, b2), dot(a1, b3));
        acc2 += vec4<f32>(dot(a2, b0), dot(a2, b1), dot(a2, b2), dot(a2, b3));
        acc3 += vec4<f32>(dot(a3, b0), dot(a3, b1), dot(a3, b2), dot(a3, b3));
      } else {
        let b0 = b_at((kq * 4u) * 16u + tx);
        let b1 = b_at((kq * 4u + 1u) * 16u + tx);
        let b2 = b_at((kq * 4u + 2u) * 16u + tx);
        let b3 = b_at((kq * 4u + 3u) * 16u + tx);
        acc0 += a0.x * b0 + a0.y * b1 + a0.z * b2 + a0.w * b3;
        acc1 += a1.x * b0 + a1.y * b1 + a1.z * b2 + a1.w * b3;
        acc2 += a2.x * b0 + a2.y * b1 + a2.z * b2 + a2.w * b3;
        acc3 += a3.x * b0 + a3.y * b1 + a3.z * b2 + a3.w * b3;
      }
    }
  }
  return Block(acc0, acc1, acc2, acc3);
}

// out[i] (=|+=) scale·sum + the epilogue's term.
fn store(i: u32, sum: f32, term: f32) {
  let value = dims.scale * sum + term;
  if (ACCUMULATE) {
    out[i] += value;
  } else {
    out[i] = value;
  }
}

@compute @workgroup_size(16, 16)
fn matmul_gemm(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let r0 = wid.y * TILE;
  let c0 = wid.x * TILE;
  var acc = Block(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
  for (var k0 = 0u; k0 < dims.inner; k0 += BK) {
    stage_a(t, r0, k0);
    stage_b(t, c0, k0);
    workgroupBarrier();
    acc = multiply_tiles(lid.x, lid.y, acc);
    workgroupBarrier();
  }
  // COLS % 4 == 0: a thread's four columns are all inside or all outside.
  let c = c0 + lid.x * 4u;
  if (c >= dims.cols) {
    return;
  }
  var terms = Block();
  if (EPILOGUE) {
    terms = epilogue_block(r0 + lid.y * 4u, c);
  }
  for (var i = 0u; i < 4u; i++) {
    let r = r0 + lid.y * 4u + i;
    if (r < dims.rows) {
      let row = acc[i];
      let term = terms[i];
      let base = dims.out_offset + r * dims.out_stride + c;
      store(base, row.x, term.x);
      store(base + 1u, row.y, term.y);
      store(base + 2u, row.z, term.z);
      store(base + 3u, row.w, term.w);
    }
  }
}

const GEMV_LANES: u32 = 32u;
const GEMV_COLUMNS: u32 = 8u;
var<workgroup> gemv_partials: array<array<f32, 8>, 256>;

@compute @workgroup_size(256)
fn matmul_gemv(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let N = dims.cols;
  let quads = dims.inner / 4u;
  let lane = t % GEMV_LANES;
  let column = (wid.x + wid.y * groups.x) * GEMV_COLUMNS + t / GEMV_LANES;
  // Columns past the end sum a valid column again and write nothing: every lane must reach the barrier.
  let n = min(column, N - 1u);
  var acc: array<f32, 8>;
  for (var q = lane; q < quads; q += GEMV_LANES) {
    let w = load_rhs4(n * quads + q);
    for (var m = 0u; m < ROWS_GEMV; m++) {
      acc[m] += dot(lhs[(lhs_row(m) * dims.lhs_stride + dims.lhs_offset) / 4u + q], w);
    }
  }
  gemv_partials[t] = acc;
  workgroupBarrier();
  if (lane >= ROWS_GEMV || column >= N) {
    return;
  }
  // Lane m of the column adds row m's 32 partial sums.
  let first = t - lane;
  var sum = 0.0;
  for (var l = 0u; l < GEMV_LANES; l++) {
    sum += gemv_partials[first + l][lane];
  }
  var term = 0.0;
  if (EPILOGUE) {
    term = epilogue_at(lane, n);
  }
  store(dims.out_offset + lane * dims.out_stride + n, sum, term);
}
