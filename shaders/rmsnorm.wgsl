// rmsnorm.wgsl: Hugging Face LlamaRMSNorm over rows of C, in f32, forward and backward
//
//   rmsnorm_fwd     rstd[r] = 1 / sqrt(mean_c x[r,c]² + eps);  y[r,c] = w[c] · (x[r,c] · rstd[r])
//   rmsnorm_bwd     dx[r,c] += rstd[r] · (w[c]·dy[r,c] − x̂[r,c] · mean_c(w·dy·x̂)),  x̂ = x·rstd (saved rstd)
//   rmsnorm_bwd_dw  dw[c]   += Σ_r dy[r,c] · x[r,c] · rstd[r]
// The backward entries ACCUMULATE into dx and dw (llm.c style); the caller clears them. dw is only
// wanted when the norm weight trains (LoRA freezes it), so it is a separate, optional dispatch.
//
// Shapes: x, y, dy, dx [rows, C] (rows = B·T); w, dw [C]; rstd [rows]; all f32.
// rmsnorm_fwd, rmsnorm_bwd: workgroup 128 = ROWS_PER_WORKGROUP rows × THREADS_PER_ROW threads (an
//   override, a power of two 1 .. 128, chosen by app/gpu/ops/rmsnorm.ts: on GPUs about C / 4, so each
//   thread sums about 4 values, and 128 for C > 256, one row per workgroup; on CPU adapters 1, no
//   barrier at all). A row's threads stride over C and meet in one tree reduction in workgroup memory
//   (512 bytes, log2(THREADS_PER_ROW) stages shared by the workgroup's rows). Workgroups loop over
//   blocks of ROWS_PER_WORKGROUP rows with stride num_workgroups.x.
//   dispatch (min(ceil(rows / ROWS_PER_WORKGROUP), 4096)).
// rmsnorm_bwd_dw: workgroup 256, one thread per column looping over rows (coalesced across columns).
//   dispatch (ceil(C / 256)).
// Bindings: 0 dims (uniform), 1 x, 2 w, 3 y, 4 rstd (written), 5 dy, 6 rstd (read), 7 dx, 8 dw.

struct Dims {
  rows: u32,
  C: u32,
  eps: f32,
}

override HAS_RSTD: bool = true;
override THREADS_PER_ROW: u32 = 128u;

const ROW_WORKGROUP = 128u;
const COLUMN_WORKGROUP = 256u;
override ROWS_PER_WORKGROUP: u32 = ROW_WORKGROUP / THREADS_PER_ROW;

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> rstd_out: array<f32>;
@group(0) @binding(5) var<storage, read> dy: array<f32>;
@group(0) @binding(6) var<storage, read> rstd_in: array<f32>;
@group(0) @binding(7) var<storage, read_write> dx: array<f32>;
@group(0) @binding(8) var<storage, read_write> dw: array<f32>;

var<workgroup> partial: array<f32, ROW_WORKGROUP>;

// Sum of `value` over the THREADS_PER_ROW threads of this invocation's row (lid / THREADS_PER_ROW);
// each of them gets the total. Called in uniform control flow: every invocation of the workgroup,
// those of rows past the end included, reaches each barrier.
fn row_sum(value: f32, lid: u32) -> f32 {
  if (THREADS_PER_ROW == 1u) {
    return value;
  }
  partial[lid] = value;
  workgroupBarrier();
  let lane = lid % THREADS_PER_ROW;
  for (var stride = THREADS_PER_ROW / 2u; stride > 0u; stride >>= 1u) {
    if (lane < stride) {
      partial[lid] += partial[lid + stride];
    }
    workgroupBarrier();
  }
  let total = partial[lid - lane];
  // The next call overwrites `partial`: wait until everyone has read the total.
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(ROW_WORKGROUP)
fn rmsnorm_fwd(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let C = dims.C;
  let lane = lid % THREADS_PER_ROW;
  for (var first = wid.x * ROWS_PER_WORKGROUP; first < dims.rows; first += groups.x * ROWS_PER_WORKGROUP) {
    let row = first + lid / THREADS_PER_ROW;
    let live = row < dims.rows;
    let base = row * C;
    var sum_squares = 0.0;
    if (live) {
      for (var c = lane; c < C; c += THREADS_PER_ROW) {
        let v = x[base + c];
        sum_squares += v * v;
      }
    }
    let rstd = inverseSqrt(row_sum(sum_squares, lid) / f32(C) + dims.eps);
    if (live) {
      for (var c = lane; c < C; c += THREADS_PER_ROW) {
        y[base + c] = w[c] * (x[base + c] * rstd);
      }
      if (HAS_RSTD && lane == 0u) {
        rstd_out[row] = rstd;
      }
    }
  }
}

@compute @workgroup_size(ROW_WORKGROUP)
fn rmsnorm_bwd(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let C = dims.C;
  let lane = lid % THREADS_PER_ROW;
  for (var first = wid.x * ROWS_PER_WORKGROUP; first < dims.rows; first += groups.x * ROWS_PER_WORKGROUP) {
    let row = first + lid / THREADS_PER_ROW;
    let live = row < dims.rows;
    let base = row * C;
    var rstd = 0.0;
    var dot = 0.0;
    if (live) {
      rstd = rstd_in[row];
      for (var c = lane; c < C; c += THREADS_PER_ROW) {
        dot += w[c] * dy[base + c] * x[base + c];
      }
    }
    // mean_c(w·dy·x̂) · rstd, folded so the loop below multiplies x, not x̂.
    let correction = row_sum(dot, lid) * rstd * rstd / f32(C);
    if (live) {
      for (var c = lane; c < C; c += THREADS_PER_ROW) {
        dx[base + c] += rstd * (w[c] * dy[base + c] - x[base + c] * correction);
      }
    }
  }
}

@compute @workgroup_size(COLUMN_WORKGROUP)
fn rmsnorm_bwd_dw(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  let C = dims.C;
  if (c >= C) {
    return;
  }
  var sum = 0.0;
  for (var row = 0u; row < dims.rows; row++) {
    sum += dy[row * C + c] * x[row * C + c] * rstd_in[row];
  }
  dw[c] += sum;
}
