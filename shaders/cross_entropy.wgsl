// cross_entropy.wgsl: cross-entropy fused with the LM head, one chunk of rows at a time, so the
// [BT, V] logits are never stored whole (V is 49,152 to 151,936 for real models).
//
//   logits[r, v]  = x[row0 + r, :] · W[v, :]                         r < rows (the chunk), v < V
//   lse[r]        = max_v logits[r, v] + log Σ_v exp(logits[r, v] − max)       (stable: row max first)
//   row_loss[row] = lse[r] − logits[r, label[row]]   where 0 <= label < V; 0 where label = −100
//   dlogits[r, v] = (softmax[r, v] − [v = label[row]]) · grad_scale   for labelled rows, 0 otherwise;
//                   written over the logits in the scratch
//   dX[row, :]   += Σ_v dlogits[r, v] · W[v, :]                      ACCUMULATES: the caller clears dX
//   With SOFTCAP = cap > 0 (Gemma's final_logit_softcapping), softmax_xent first caps each logit:
//   l ← cap·tanh(l / cap), and dlogits gains the chain factor 1 − tanh²(l / cap) of the raw logit.
//   stats        += (Σ_row row_loss, #rows with 0 <= label < V, #labels neither −100 nor in [0, V))
//                   ACCUMULATES over micro-batches: a step's loss is stats[0] / stats[1]
//
// The two products (logits = x·Wᵀ into a column block of the scratch, dX += dlogits·W) are not here:
// app/gpu/ops/cross_entropy.ts runs them on the product core of the device's kernel family
// (shaders/matmul.wgsl or shaders/matmul_gpu.wgsl, with operand strides and offsets), which also decodes
// the frozen W (f32, bf16, f16), one dispatch per vocab shard. This file holds what is left per chunk.
// logits, row_loss and stats are f32; labels are i32. Row-major throughout.
//
// Entry points, per chunk (row0, rows) in one command encoder, after the chunk's logits:
//   softmax_xent    Workgroup 256, one row each: online max/sum over V, row loss, dlogits (BACKWARD).
//                   dispatch (rows).
// then once for all BT rows:
//   reduce_stats    Workgroup 256, a single one: sums row_loss and counts labels into stats. dispatch (1).
// after the selected logits of generation and label scoring, when SOFTCAP > 0:
//   softcap_logits  Workgroup 256, one logit each, in place over the caller's [P, V]. dispatch (ceil(V / 256), P).
// Bindings: 0 dims (uniform), 3 logits (scratch [rows, V], or the selected [P, V]), 4 labels,
//           5 row_loss, 7 stats.

struct Dims {
  rows: u32,      // rows of this chunk (or P selected rows)
  row0: u32,      // first row of the chunk in labels / row_loss
  BT: u32,
  V: u32,         // whole vocabulary: the row stride of the logits
  grad_scale: f32,
}

override BACKWARD: bool = true;
override SOFTCAP: f32 = 0.0;  // final-logit soft-cap; 0: logits are used as they are

const IGNORE_INDEX: i32 = -100;
const WG: u32 = 256u;
// Finite stand-in for −∞: a compiler may assume no infinities, and exp(LOWEST − m) still underflows to 0.
const LOWEST: f32 = -3.0e38;

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(3) var<storage, read_write> logits: array<f32>;
@group(0) @binding(4) var<storage, read> labels: array<i32>;
@group(0) @binding(5) var<storage, read_write> row_loss: array<f32>;
@group(0) @binding(7) var<storage, read_write> stats: array<f32>;

// tanh(l / cap) of a raw logit. tanh saturates to ±1 in f32 past |20|; clamping there keeps an
// exp-based tanh from overflowing into NaN.
fn cap_tanh(l: f32) -> f32 {
  return tanh(clamp(l / SOFTCAP, -20.0, 20.0));
}

// The logit the loss and sampling see: cap·tanh(l / cap) with SOFTCAP, else l.
fn capped(l: f32) -> f32 {
  if (SOFTCAP > 0.0) {
    return SOFTCAP * cap_tanh(l);
  }
  return l;
}

fn is_labelled(label: i32) -> bool {
  return label >= 0 && u32(label) < dims.V;
}

var<workgroup> wg_max: array<f32, WG>;
var<workgroup> wg_sum: array<f32, WG>;
var<workgroup> wg_labelled: array<f32, WG>;
var<workgroup> wg_invalid: array<f32, WG>;

@compute @workgroup_size(WG)
fn softmax_xent(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let V = dims.V;
  let base = wid.x * V;
  let row = dims.row0 + wid.x;
  let t = lid.x;
  let label = labels[row];
  let labelled = is_labelled(label);
  // Read before any thread overwrites the row with dlogits (the storageBarrier below orders the two).
  let target_logit = capped(logits[base + u32(clamp(label, 0, i32(V) - 1))]);

  // Online softmax: one pass keeps a running max and the sum of exp(l − max), rescaled when the max grows.
  var m = LOWEST;
  var s = 0.0;
  for (var v = t; v < V; v += WG) {
    let l = capped(logits[base + v]);
    if (l > m) {
      s = s * exp(m - l) + 1.0;
      m = l;
    } else {
      s += exp(l - m);
    }
  }
  wg_max[t] = m;
  wg_sum[t] = s;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (t < stride) {
      let m1 = wg_max[t];
      let m2 = wg_max[t + stride];
      let mm = max(m1, m2);
      wg_sum[t] = wg_sum[t] * exp(m1 - mm) + wg_sum[t + stride] * exp(m2 - mm);
      wg_max[t] = mm;
    }
    workgroupBarrier();
  }
  let lse = wg_max[0] + log(wg_sum[0]);
  if (t == 0u) {
    row_loss[row] = select(0.0, lse - target_logit, labelled);
  }
  if (BACKWARD) {
    storageBarrier();
    let scale = select(0.0, dims.grad_scale, labelled);
    for (var v = t; v < V; v += WG) {
      let raw = logits[base + v];
      let p = exp(capped(raw) - lse);
      let onehot = select(0.0, 1.0, i32(v) == label);
      var chain = 1.0;
      if (SOFTCAP > 0.0) {
        let th = cap_tanh(raw);
        chain = 1.0 - th * th;
      }
      logits[base + v] = (p - onehot) * scale * chain;
    }
  }
}

@compute @workgroup_size(WG)
fn softcap_logits(@builtin(global_invocation_id) gid: vec3<u32>) {
  let v = gid.x;
  if (v >= dims.V || gid.y >= dims.rows) {
    return;
  }
  let i = gid.y * dims.V + v;
  logits[i] = capped(logits[i]);
}

@compute @workgroup_size(WG)
fn reduce_stats(@builtin(local_invocation_id) lid: vec3<u32>) {
  let t = lid.x;
  var loss = 0.0;
  var labelled = 0.0;
  var invalid = 0.0;
  for (var row = t; row < dims.BT; row += WG) {
    let label = labels[row];
    loss += row_loss[row];
    if (is_labelled(label)) {
      labelled += 1.0;
    } else if (label != IGNORE_INDEX) {
      invalid += 1.0;
    }
  }
  wg_sum[t] = loss;
  wg_labelled[t] = labelled;
  wg_invalid[t] = invalid;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (t < stride) {
      wg_sum[t] += wg_sum[t + stride];
      wg_labelled[t] += wg_labelled[t + stride];
      wg_invalid[t] += wg_invalid[t + stride];
    }
    workgroupBarrier();
  }
  if (t == 0u) {
    stats[0] += wg_sum[0];
    stats[1] += wg_labelled[0];
    stats[2] += wg_invalid[0];
  }
}
