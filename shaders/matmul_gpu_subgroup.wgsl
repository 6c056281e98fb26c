// matmul_gpu_subgroup.wgsl: the decoding product of shaders/matmul_gpu.wgsl (nt, M <= 8:
// Y[M,N] (=|+=) scale · X[M,K] · W[N,K]ᵀ) with its K-sums added by subgroupAdd instead of through
// 8 KiB of workgroup memory, for devices with the `subgroups` feature (GPU family only).
//
// Assembled by app/gpu/ops/matmul_gpu.ts as `enable subgroups;`, the weight and row preludes, this
// file, then matmul_gpu.wgsl, whose Dims, lhs, out, store, ROWS_GEMV and GEMV_COLUMNS it uses (WGSL
// module-scope declarations may come in any order; only the enable directive must come first).
// Needs K % 4 == 0 (vec4 loads of X rows and W rows); N may be anything.
//
// Correct for every subgroup size WebGPU allows (4 .. 128) and any placement of subgroups in the
// workgroup: WGSL ties neither subgroup_invocation_id nor a subgroup's members to
// local_invocation_index, so work is handed out by subgroup, never by invocation index.
//   1. Each subgroup draws a dense id s from an atomic counter (its elected invocation draws, then
//      broadcasts); after a barrier the counter holds S, the subgroups of this workgroup.
//   2. The workgroup's 8 output columns are cut into `parts` contiguous K-ranges each, parts =
//      clamp(S / 8, 1, 8): with small subgroups (many per workgroup) several subgroups share a column,
//      with large ones (S < 8) a subgroup takes several columns in turn. Unit u = part * 8 + column
//      goes to subgroup u mod S. A subgroup's lanes read consecutive vec4s of the W row (coalesced),
//      striding by subgroup_size, and keep one partial sum per X row.
//   3. subgroupAdd gives the unit's sums (rows 0..3 and 4..7 as two vec4s); its elected invocation
//      writes them to workgroup memory (at most 64 units x 8 rows: 2 KiB), and after a barrier the
//      first invocations add each column's parts and store Y.
// GEMV_THREADS (default 256) sets the workgroup size: fewer threads make fewer subgroups, the
// partitions larger subgroups would make, which is how tests reach every case on 4-wide subgroups.
//
// Entry point: matmul_gemv_subgroup, dispatch ceil(N / 8) workgroups as (x, y), x <= 65535 (as matmul_gemv).

override GEMV_THREADS: u32 = 256u;
const GEMV_MAX_PARTS: u32 = 8u;

var<workgroup> subgroup_count: atomic<u32>;
// [unit][half]: rows 0..3, then rows 4..7, of each unit's K-sum.
var<workgroup> unit_sums: array<vec4<f32>, 128>;

// subgroup_uniformity: s and S are equal across a subgroup (s is broadcast, S read after a barrier),
// which WGSL's analysis cannot see; every subgroup operation below runs with the whole subgroup active.
@diagnostic(off, subgroup_uniformity)
@compute @workgroup_size(GEMV_THREADS)
fn matmul_gemv_subgroup(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
  @builtin(subgroup_invocation_id) lane: u32,
  @builtin(subgroup_size) lanes: u32,
) {
  var ticket = 0u;
  if (subgroupElect()) {
    ticket = atomicAdd(&subgroup_count, 1u);
  }
  let s = subgroupBroadcastFirst(ticket);
  workgroupBarrier();
  let S = atomicLoad(&subgroup_count);
  let parts = clamp(S / GEMV_COLUMNS, 1u, GEMV_MAX_PARTS);
  let quads = dims.inner / 4u;
  let span = (quads + parts - 1u) / parts;
  let first_column = (wid.x + wid.y * groups.x) * GEMV_COLUMNS;
  for (var u = s; u < parts * GEMV_COLUMNS; u += S) {
    let part = u / GEMV_COLUMNS;
    // A column past the end sums a valid column again and is never stored.
    let n = min(first_column + u % GEMV_COLUMNS, dims.cols - 1u);
    // Zeroed explicitly: on Dawn/SwiftShader a `var acc: array<f32, 8>;` declared in this loop kept the
    // previous unit's sums (the partition tests with 8 and 16 threads caught it).
    var acc = array<f32, 8>();
    for (var q = part * span + lane; q < min(quads, (part + 1u) * span); q += lanes) {
      let w = load_rhs4(n * quads + q);
      for (var m = 0u; m < ROWS_GEMV; m++) {
        acc[m] += dot(lhs[(lhs_row(m) * dims.lhs_stride + dims.lhs_offset) / 4u + q], w);
      }
    }
    let low = subgroupAdd(vec4<f32>(acc[0], acc[1], acc[2], acc[3]));
    var high = vec4<f32>(0.0);
    if (ROWS_GEMV > 4u) {
      high = subgroupAdd(vec4<f32>(acc[4], acc[5], acc[6], acc[7]));
    }
    if (subgroupElect()) {
      unit_sums[2u * u] = low;
      unit_sums[2u * u + 1u] = high;
    }
  }
  workgroupBarrier();
  for (var o = t; o < GEMV_COLUMNS * ROWS_GEMV; o += GEMV_THREADS) {
    let column = o / ROWS_GEMV;
    let m = o % ROWS_GEMV;
    let n = first_column + column;
    if (n < dims.cols) {
      var sum = 0.0;
      for (var part = 0u; part < parts; part++) {
        sum += unit_sums[2u * (part * GEMV_COLUMNS + column) + m / 4u][m % 4u];
      }
      var term = 0.0;
      if (EPILOGUE) {
        term = epilogue_at(m, n);
      }
      store(dims.out_offset + m * dims.out_stride + n, sum, term);
    }
  }
}
