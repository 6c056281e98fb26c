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
// W is frozen: f32, bf16 or f16 packed two per u32 (element 2i in the low half), decoded here (W_DTYPE).
// A W too large for one binding comes as vocab shards: each shard is its own dispatch of lm_head_logits
// and lm_head_dx with v0 = the shard's first vocab row and Vs = its row count; softmax_xent sees the whole row.
// x, logits, row_loss, dX, stats are f32; labels and rows are i32. Row-major throughout.
//
// Entry points, per chunk (row0, rows) in one command encoder:
//   lm_head_logits  Workgroup 8x8; each thread computes a 4x4 block of logits in registers (4 rows, 4 vocab
//                   entries), 4-wide along C, no workgroup memory (ENGINEERING.md §4: fastest on SwiftShader).
//                   dispatch (ceil(Vs / 32), ceil(rows / 32)). With GATHER, row r reads x[rows_idx[r]] and
//                   writes the caller's [P, V] logits instead of the scratch (generation, label scoring).
//   softmax_xent    Workgroup 256, one row each: online max/sum over V, row loss, dlogits (BACKWARD).
//                   dispatch (rows).
//   lm_head_dx      Workgroup 8x8; each thread accumulates a 4x4 block of dX (4 rows, 4 channels) over the
//                   shard's vocab, 4-wide along V. dispatch (ceil(C / 32), ceil(rows / 32)).
// then once for all BT rows:
//   reduce_stats    Workgroup 256, a single one: sums row_loss and counts labels into stats. dispatch (1).
// after lm_head_logits with GATHER, when SOFTCAP > 0:
//   softcap_logits  Workgroup 256, one logit each, in place over the caller's [P, V]. dispatch (ceil(V / 256), P).
// Bindings: 0 dims (uniform), 1 x, 2 W shard, 3 logits (scratch [rows, V], or [P, V] with GATHER),
//           4 labels, 5 row_loss, 6 dX, 7 stats, 8 rows_idx.

struct Dims {
  rows: u32,      // rows of this chunk (or P with GATHER)
  row0: u32,      // first row of the chunk in x / labels / row_loss / dX
  BT: u32,
  C: u32,
  V: u32,         // whole vocabulary: the row stride of the logits
  v0: u32,        // first vocab row of the W shard
  Vs: u32,        // vocab rows in the W shard
  grad_scale: f32,
}

override W_DTYPE: u32 = 0u;   // 0 f32, 1 bf16, 2 f16
override GATHER: bool = false;
override BACKWARD: bool = true;
override SOFTCAP: f32 = 0.0;  // final-logit soft-cap; 0: logits are used as they are

const IGNORE_INDEX: i32 = -100;
const WG: u32 = 256u;
// Finite stand-in for −∞: a compiler may assume no infinities, and exp(LOWEST − m) still underflows to 0.
const LOWEST: f32 = -3.0e38;

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read_write> logits: array<f32>;
@group(0) @binding(4) var<storage, read> labels: array<i32>;
@group(0) @binding(5) var<storage, read_write> row_loss: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;
@group(0) @binding(7) var<storage, read_write> stats: array<f32>;
@group(0) @binding(8) var<storage, read> rows_idx: array<i32>;

fn load_w(i: u32) -> f32 {
  if (W_DTYPE == 0u) {
    return bitcast<f32>(w[i]);
  }
  let word = w[i >> 1u];
  let half = select(word & 0xffffu, word >> 16u, (i & 1u) == 1u);
  if (W_DTYPE == 1u) {
    return bitcast<f32>(half << 16u);
  }
  return unpack2x16float(half).x;
}

fn load_w4(i: u32) -> vec4<f32> {
  return vec4<f32>(load_w(i), load_w(i + 1u), load_w(i + 2u), load_w(i + 3u));
}

fn load_x4(i: u32) -> vec4<f32> {
  return vec4<f32>(x[i], x[i + 1u], x[i + 2u], x[i + 3u]);
}

fn load_logits4(i: u32) -> vec4<f32> {
  return vec4<f32>(logits[i], logits[i + 1u], logits[i + 2u], logits[i + 3u]);
}

// Row r of the chunk as a row of x. Gathered indices are clamped so a bad index cannot read past x;
// the wrapper validates them where it knows them.
fn source_row(r: u32) -> u32 {
  if (GATHER) {
    return min(u32(max(rows_idx[r], 0)), dims.BT - 1u);
  }
  return dims.row0 + r;
}

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

@compute @workgroup_size(8, 8)
fn lm_head_logits(@builtin(global_invocation_id) gid: vec3<u32>) {
  let rows = dims.rows;
  let Vs = dims.Vs;
  let C = dims.C;
  let r0 = gid.y * 4u;
  let n0 = gid.x * 4u;
  if (r0 >= rows || n0 >= Vs) {
    return;
  }
  // Rows and vocab entries past the edge re-read the last valid one and are not written, so the inner
  // loop needs no bounds checks.
  var x_rows: array<u32, 4>;
  var w_rows: array<u32, 4>;
  for (var i = 0u; i < 4u; i++) {
    x_rows[i] = source_row(min(r0 + i, rows - 1u)) * C;
    w_rows[i] = min(n0 + i, Vs - 1u) * C;
  }
  var acc: array<vec4<f32>, 4>;
  var k = 0u;
  for (; k + 4u <= C; k += 4u) {
    let w0 = load_w4(w_rows[0] + k);
    let w1 = load_w4(w_rows[1] + k);
    let w2 = load_w4(w_rows[2] + k);
    let w3 = load_w4(w_rows[3] + k);
    for (var i = 0u; i < 4u; i++) {
      let xv = load_x4(x_rows[i] + k);
      acc[i] += vec4<f32>(dot(xv, w0), dot(xv, w1), dot(xv, w2), dot(xv, w3));
    }
  }
  for (; k < C; k++) {
    let wv = vec4<f32>(load_w(w_rows[0] + k), load_w(w_rows[1] + k), load_w(w_rows[2] + k), load_w(w_rows[3] + k));
    for (var i = 0u; i < 4u; i++) {
      acc[i] += x[x_rows[i] + k] * wv;
    }
  }
  for (var i = 0u; i < 4u; i++) {
    let r = r0 + i;
    if (r >= rows) {
      break;
    }
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + j;
      if (n >= Vs) {
        break;
      }
      logits[r * dims.V + dims.v0 + n] = acc[i][j];
    }
  }
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

@compute @workgroup_size(8, 8)
fn lm_head_dx(@builtin(global_invocation_id) gid: vec3<u32>) {
  let rows = dims.rows;
  let C = dims.C;
  let Vs = dims.Vs;
  let r0 = gid.y * 4u;
  let c0 = gid.x * 4u;
  if (r0 >= rows || c0 >= C) {
    return;
  }
  var dl_rows: array<u32, 4>;
  var cols: array<u32, 4>;
  for (var i = 0u; i < 4u; i++) {
    dl_rows[i] = min(r0 + i, rows - 1u) * dims.V + dims.v0;
    cols[i] = min(c0 + i, C - 1u);
  }
  var acc: array<vec4<f32>, 4>;
  var v = 0u;
  for (; v + 4u <= Vs; v += 4u) {
    var wv: array<vec4<f32>, 4>;
    for (var j = 0u; j < 4u; j++) {
      let w_row = (v + j) * C;
      wv[j] = vec4<f32>(load_w(w_row + cols[0]), load_w(w_row + cols[1]), load_w(w_row + cols[2]), load_w(w_row + cols[3]));
    }
    for (var i = 0u; i < 4u; i++) {
      let d = load_logits4(dl_rows[i] + v);
      acc[i] += d.x * wv[0] + d.y * wv[1] + d.z * wv[2] + d.w * wv[3];
    }
  }
  for (; v < Vs; v++) {
    let w_row = v * C;
    let wv = vec4<f32>(load_w(w_row + cols[0]), load_w(w_row + cols[1]), load_w(w_row + cols[2]), load_w(w_row + cols[3]));
    for (var i = 0u; i < 4u; i++) {
      acc[i] += logits[dl_rows[i] + v] * wv;
    }
  }
  for (var i = 0u; i < 4u; i++) {
    let r = r0 + i;
    if (r >= rows) {
      break;
    }
    let out_row = (dims.row0 + r) * C;
    for (var j = 0u; j < 4u; j++) {
      let c = c0 + j;
      if (c >= C) {
        break;
      }
      dx[out_row + c] += acc[i][j];
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
