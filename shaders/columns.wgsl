// columns.wgsl: copy a block of columns between two row-major f32 matrices with the same rows
//
//   columns_copy  dst[r, dst_col + c] = src[r, src_col + c]   for r < rows, c < width
//
// What splits a fused projection's output into its parts (Phi-3's qkv_proj into q | k | v, gate_up_proj
// into gate | up) and, in the backward, writes each part's gradient back into the fused gradient.
// Columns of dst outside the block are left as they are.
//
// Shapes: src [rows, src_cols], dst [rows, dst_cols]; src_col + width <= src_cols, dst_col + width <= dst_cols.
// Workgroup 256; grid-stride over rows·width. Dispatch: (min(ceil(rows·width / 256), 2048)).
// Bindings: 0 dims (uniform), 1 src, 2 dst.

struct Dims {
  rows: u32,
  width: u32,
  src_cols: u32,
  src_col: u32,
  dst_cols: u32,
  dst_col: u32,
}

const WORKGROUP_SIZE = 256u;

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn columns_copy(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let total = dims.rows * dims.width;
  let stride = groups.x * WORKGROUP_SIZE;
  for (var i = gid.x; i < total; i += stride) {
    let r = i / dims.width;
    let c = i - r * dims.width;
    dst[r * dims.dst_cols + dims.dst_col + c] = src[r * dims.src_cols + dims.src_col + c];
  }
}
