// residual.wgsl: residual add and in-place accumulate, elementwise over n f32 values
//
//   residual_add         y = a + b        (a residual stream joining a branch's output)
//   residual_accumulate  x += addend      (the stream updated in place; gradients of one tensor summed)
//   residual_scale       x *= scale       (Gemma's embeddings times √hidden_size, in place)
//
// Shapes: every tensor has the same n elements (any shape, row-major).
// Workgroup 256; grid-stride loop, so any n runs on a capped grid.
// Dispatch: (min(ceil(n / 256), 2048)).
// Bindings: 0 dims (uniform), 1 a, 2 b, 3 y, 4 x (read_write), 5 addend.

struct Dims {
  n: u32,
  scale: f32,
}

const WORKGROUP_SIZE = 256u;

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> x: array<f32>;
@group(0) @binding(5) var<storage, read> addend: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn residual_add(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * WORKGROUP_SIZE;
  for (var i = gid.x; i < dims.n; i += stride) {
    y[i] = a[i] + b[i];
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn residual_accumulate(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * WORKGROUP_SIZE;
  for (var i = gid.x; i < dims.n; i += stride) {
    x[i] += addend[i];
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn residual_scale(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * WORKGROUP_SIZE;
  for (var i = gid.x; i < dims.n; i += stride) {
    x[i] *= dims.scale;
  }
}
