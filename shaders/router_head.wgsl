// router_head.wgsl: the router's classifier head over pooled features, forward and backward
//
//   head_linear_fwd         Y[N,O]  = act(X[N,I]·W[O,I]ᵀ + b[O]),  act = relu when dims.relu = 1, else identity
//   head_softmax_xent       P[N,K]  = softmax(Z[N,K] / τ) per row;  for a row whose label ℓ ≥ 0:
//                           row_loss[n] = −log P[n,ℓ],  dZ[n,k] = grad_scale · (P[n,k] − [k = ℓ]) / τ
//                           (a row with label −1 gets its probabilities only: row_loss 0, dZ 0)
//   head_linear_bwd_input   dX[N,I] = dY[N,O]·W[O,I]            (through a linear layer)
//   head_linear_bwd_input_relu  the same, times [H[N,I] > 0]  (into the pre-activation of a relu layer
//                           whose output H is bound as `mask`)
//   head_linear_bwd_params  dW[O,I] = dY[N,O]ᵀ·X[N,I],  db[O] = Σₙ dY[n,O]
// Every output is WRITTEN, not accumulated: the head is trained on whole batches, one backward per step.
//
// The head is tiny (I = the model's hidden size, O = a few experts or one hidden layer), so each
// thread owns one output element and loops over the sum; nothing is tiled. softmax_xent takes one
// thread per row and exp only of non-positive arguments (z − max), so it never overflows.
//
// Shapes: all f32 except labels (i32 [N]). Workgroup 64; grid-stride loops.
// Dispatch: (min(ceil(count / 64), 4096)), count = N·O (fwd), N (softmax), N·I (bwd input), O·(I + 1) (params).
// Bindings: 0 dims (uniform), 1 x, 2 w, 3 b, 4 y, 5 dy, 6 dx, 7 mask, 8 dw, 9 db, 10 labels, 11 probs,
//           12 row_loss, 13 dz.  softmax_xent reads the logits Z from binding 1.

struct Dims {
  rows: u32,
  in_features: u32,
  out_features: u32,
  relu: u32,
  inv_temperature: f32,
  grad_scale: f32,
}

const WORKGROUP_SIZE = 64u;

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read> dy: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;
@group(0) @binding(7) var<storage, read> mask: array<f32>;
@group(0) @binding(8) var<storage, read_write> dw: array<f32>;
@group(0) @binding(9) var<storage, read_write> db: array<f32>;
@group(0) @binding(10) var<storage, read> labels: array<i32>;
@group(0) @binding(11) var<storage, read_write> probs: array<f32>;
@group(0) @binding(12) var<storage, read_write> row_loss: array<f32>;
@group(0) @binding(13) var<storage, read_write> dz: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn head_linear_fwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * WORKGROUP_SIZE;
  let I = dims.in_features;
  let O = dims.out_features;
  for (var e = gid.x; e < dims.rows * O; e += stride) {
    let n = e / O;
    let o = e % O;
    var sum = b[o];
    for (var i = 0u; i < I; i++) {
      sum += x[n * I + i] * w[o * I + i];
    }
    y[e] = select(sum, max(sum, 0.0), dims.relu == 1u);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn head_softmax_xent(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * WORKGROUP_SIZE;
  let K = dims.out_features;
  let t = dims.inv_temperature;
  for (var n = gid.x; n < dims.rows; n += stride) {
    var top = x[n * K] * t;
    for (var k = 1u; k < K; k++) {
      top = max(top, x[n * K + k] * t);
    }
    var total = 0.0;
    for (var k = 0u; k < K; k++) {
      total += exp(x[n * K + k] * t - top);
    }
    let label = labels[n];
    for (var k = 0u; k < K; k++) {
      let p = exp(x[n * K + k] * t - top) / total;
      probs[n * K + k] = p;
      let onehot = select(0.0, 1.0, i32(k) == label);
      dz[n * K + k] = select(0.0, dims.grad_scale * (p - onehot) * t, label >= 0);
    }
    // −log P[ℓ] = log Σ exp(z/τ − top) − (z_ℓ/τ − top), exact even where P[ℓ] underflows.
    let chosen = u32(max(label, 0));
    row_loss[n] = select(0.0, log(total) - (x[n * K + chosen] * t - top), label >= 0);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn head_linear_bwd_input(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * WORKGROUP_SIZE;
  let I = dims.in_features;
  let O = dims.out_features;
  for (var e = gid.x; e < dims.rows * I; e += stride) {
    let n = e / I;
    let i = e % I;
    var sum = 0.0;
    for (var o = 0u; o < O; o++) {
      sum += dy[n * O + o] * w[o * I + i];
    }
    dx[e] = sum;
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn head_linear_bwd_input_relu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * WORKGROUP_SIZE;
  let I = dims.in_features;
  let O = dims.out_features;
  for (var e = gid.x; e < dims.rows * I; e += stride) {
    let n = e / I;
    let i = e % I;
    var sum = 0.0;
    for (var o = 0u; o < O; o++) {
      sum += dy[n * O + o] * w[o * I + i];
    }
    dx[e] = select(0.0, sum, mask[e] > 0.0);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn head_linear_bwd_params(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * WORKGROUP_SIZE;
  let I = dims.in_features;
  let O = dims.out_features;
  // Element (o, I) of the [O, I + 1] grid is the bias of output o.
  for (var e = gid.x; e < O * (I + 1u); e += stride) {
    let o = e / (I + 1u);
    let i = e % (I + 1u);
    var sum = 0.0;
    if (i == I) {
      for (var n = 0u; n < dims.rows; n++) {
        sum += dy[n * O + o];
      }
      db[o] = sum;
    } else {
      for (var n = 0u; n < dims.rows; n++) {
        sum += dy[n * O + o] * x[n * I + i];
      }
      dw[o * I + i] = sum;
    }
  }
}
