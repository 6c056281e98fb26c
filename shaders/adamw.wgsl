// adamw.wgsl: one AdamW step over many parameter tensors with the global gradient norm, clipping and a
// non-finite guard, all on the GPU (no CPU readback inside a step).
//
//   sum_squares, per tensor i:  partials[offset_i + wg] = Σ g² over the elements workgroup wg visits;
//                               status.flags |= NONFINITE_GRADIENT if any g is NaN or ±Inf (bit test)
//   finalize_norm, once:        norm = sqrt(Σ partials); clip = min(1, max_norm / (norm + 1e-6)) as
//                               torch.nn.utils.clip_grad_norm_ (1 when clipping is off);
//                               status.flags |= NONFINITE_NORM if Σ g² overflowed f32
//   adamw_update, per tensor i: nothing when status.flags != 0 (policy "skip": the bad step reaches neither
//                               weights nor moments); else, in torch.optim.AdamW's order (_single_tensor_adamw):
//     g = grad · clip
//     p = p · (1 − lr·wd)                                   decoupled weight decay
//     m = lerp(m, g, 1 − β1)                                exp_avg.lerp_(grad, 1 − β1)
//     v = β2·v + (1 − β2)·g·g                               exp_avg_sq.mul_(β2).addcmul_(grad, grad, 1 − β2)
//     p = p − step_size · m / (sqrt(v) / bc2_sqrt + eps)    eps outside the square root
//   with step_size = lr / (1 − β1^t) and bc2_sqrt = sqrt(1 − β2^t) computed on the CPU in Float64, as
//   PyTorch does in Python floats. Gradients are read, not modified: clipping is applied on the fly.
//
// All tensors f32. status is 4 words: flags (u32), Σ g², norm, clip (f32); the wrapper clears it first.
// Workgroup 256 everywhere; grid-stride loops, so a tensor of any size fits the dispatch limits.
//   sum_squares    dispatch (partial_count_i)        partial_count_i = min(ceil(n_i / 256), 1024)
//   finalize_norm  dispatch (1)
//   adamw_update   dispatch (min(ceil(n_i / 256), 4096))
// Bindings: 0 hyper (uniform, per step), 1 dims (uniform, per tensor), 2 grad, 3 partials, 4 status
//           (read_write, atomic flags), 5 param, 6 m (exp_avg), 7 v (exp_avg_sq), 8 status (read).

// 1 − β1 and 1 − β2 come from the CPU in Float64, like PyTorch's Python floats: 1 − 0.9 in f32 is off by 2e-7.
struct Hyper {
  lr: f32,
  beta2: f32,
  one_minus_beta1: f32,
  one_minus_beta2: f32,
  eps: f32,
  step_size: f32,
  bc2_sqrt: f32,
  max_norm: f32,        // <= 0: no clipping
  total_partials: u32,
}

struct Dims {
  n: u32,
  partial_offset: u32,
  weight_decay: f32,
}

struct Status {
  flags: atomic<u32>,
  sum_squares: f32,
  norm: f32,
  clip: f32,
}

struct StatusView {
  flags: u32,
  sum_squares: f32,
  norm: f32,
  clip: f32,
}

const WG: u32 = 256u;
const NONFINITE_GRADIENT: u32 = 1u;
const NONFINITE_NORM: u32 = 2u;

@group(0) @binding(0) var<uniform> hyper: Hyper;
@group(0) @binding(1) var<uniform> dims: Dims;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;
@group(0) @binding(4) var<storage, read_write> status: Status;
@group(0) @binding(5) var<storage, read_write> param: array<f32>;
@group(0) @binding(6) var<storage, read_write> exp_avg: array<f32>;
@group(0) @binding(7) var<storage, read_write> exp_avg_sq: array<f32>;
@group(0) @binding(8) var<storage, read> status_in: StatusView;

var<workgroup> wg_sum: array<f32, WG>;

// A compiler may assume floats are finite and fold isNan-style comparisons away; the exponent bits cannot lie.
fn is_nonfinite(value: f32) -> bool {
  return (bitcast<u32>(value) & 0x7f800000u) == 0x7f800000u;
}

// Sums wg_sum[0..WG) into wg_sum[0]. Call from uniform control flow after every thread wrote its slot.
fn reduce_workgroup_sum(t: u32) {
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (t < stride) {
      wg_sum[t] += wg_sum[t + stride];
    }
    workgroupBarrier();
  }
}

@compute @workgroup_size(WG)
fn sum_squares(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
) {
  var sum = 0.0;
  var nonfinite = false;
  for (var i = gid.x; i < dims.n; i += groups.x * WG) {
    let g = grad[i];
    nonfinite = nonfinite || is_nonfinite(g);
    sum += g * g;
  }
  if (nonfinite) {
    atomicOr(&status.flags, NONFINITE_GRADIENT);
  }
  wg_sum[lid.x] = sum;
  reduce_workgroup_sum(lid.x);
  if (lid.x == 0u) {
    partials[dims.partial_offset + wid.x] = wg_sum[0];
  }
}

@compute @workgroup_size(WG)
fn finalize_norm(@builtin(local_invocation_id) lid: vec3<u32>) {
  var sum = 0.0;
  for (var i = lid.x; i < hyper.total_partials; i += WG) {
    sum += partials[i];
  }
  wg_sum[lid.x] = sum;
  reduce_workgroup_sum(lid.x);
  if (lid.x == 0u) {
    let sum_squares = wg_sum[0];
    let norm = sqrt(sum_squares);
    status.sum_squares = sum_squares;
    status.norm = norm;
    status.clip = select(1.0, min(1.0, hyper.max_norm / (norm + 1e-6)), hyper.max_norm > 0.0);
    if (is_nonfinite(sum_squares)) {
      atomicOr(&status.flags, NONFINITE_NORM);
    }
  }
}

// torch.lerp's formula: exact at both ends, and what exp_avg.lerp_ computes.
fn lerp_torch(start: f32, end: f32, weight: f32) -> f32 {
  if (weight < 0.5) {
    return start + weight * (end - start);
  }
  return end - (end - start) * (1.0 - weight);
}

@compute @workgroup_size(WG)
fn adamw_update(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  if (status_in.flags != 0u) {
    return;
  }
  let clip = status_in.clip;
  let decay = 1.0 - hyper.lr * dims.weight_decay;
  for (var i = gid.x; i < dims.n; i += groups.x * WG) {
    let g = grad[i] * clip;
    let p = param[i] * decay;
    let m = lerp_torch(exp_avg[i], g, hyper.one_minus_beta1);
    let v = exp_avg_sq[i] * hyper.beta2 + hyper.one_minus_beta2 * (g * g);
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    let denom = sqrt(v) / hyper.bc2_sqrt + hyper.eps;
    param[i] = p - hyper.step_size * (m / denom);
  }
}
