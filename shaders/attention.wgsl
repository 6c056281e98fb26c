// attention.wgsl: causal self-attention with grouped-query heads, forward and backward, tiled with an
// online softmax (FlashAttention-2 style): no T×T score matrix is ever written to memory.
//
//   S[i,j] = scale · q[b,i,h,:]·k[b,j,h/G,:]          G = H / Hkv query heads share one kv head
//   O[b,i,h,:] = Σ_j softmax_j(S[i,:]) · v[b,j,h/G,:]  L[b,h,i] = log Σ_j exp S[i,j]   (sums over visible keys)
//   key j is visible to query i iff j <= i + (K − T)   (causal; T < K: a query block after a KV cache)
//                       and segments[b,j] == segments[b, i + K − T] != 0  (with segments; 0 = padding)
//   where K <= Tk is the number of keys in use (k and v may be a KV cache of capacity Tk).
//   A query with no visible key gets O = 0 and L = −∞ (written by bit pattern).
//
// Backward (recomputes P from q, k and L; ACCUMULATES into dq, dk, dv, which the caller clears):
//   Δ[i] = dO_i·O_i,  dP[i,j] = dO_i·v_j,  dS = P ⊙ (dP − Δ)
//   dq_i += scale Σ_j dS[i,j] k_j,   dk_j += scale Σ_i dS[i,j] q_i,   dv_j += Σ_i P[i,j] dO_i
//   Gradients of the G query heads sharing a kv head sum into it inside one thread: no float atomics.
//
// Shapes (row-major f32): q, o, dO, dq [B,T,H,D]; k, v, dk, dv [B,Tk,Hkv,D]; L [B,H,T];
// segments u32 [B,Tk]; stats (L·log2 e, Δ) [B,H,T,2]. D = HEAD_DIM, a multiple of 4, at most 128.
//
// A "row" is one (position t, query head h) pair. The heads of a kv group are interleaved,
// r = t·G + g with h = kvh·G + g, so a workgroup that owns rows of one kv head reads each key tile
// once for all G heads (one thread per row for decode is then G threads, not 1).
//
// Entry points (in one command encoder; the backward runs stats, then dq and dkdv):
//   attention_fwd       one thread per row, BLOCK_ROWS rows per workgroup; loops over tiles of
//                       BLOCK_KEYS keys and values staged in workgroup memory, skipping tiles past the
//                       causal edge; running max and sum in base 2, acc rescaled only when the max
//                       grows by more than RESCALE_SLACK. dispatch (ceil(T·G / BLOCK_ROWS), Hkv, B).
//   attention_bwd_stats one thread per row of L: Δ and L·log2 e. Workgroup 64, dispatch (ceil(T / 64), H, B).
//   attention_bwd_dq    as attention_fwd, accumulating dq_i in registers.
//                       dispatch (ceil(T·G / BLOCK_ROWS), Hkv, B).
//   attention_bwd_dkdv  one thread per key, BLOCK_KEYS keys per workgroup; loops over tiles of
//                       BLOCK_ROWS rows of q, dO and stats staged in workgroup memory, from the first
//                       row that sees the workgroup's keys. dispatch (ceil(K / BLOCK_KEYS), Hkv, B).
// Workgroup memory: BLOCK_KEYS·(8·D + 4) bytes (fwd, dq) or BLOCK_ROWS·(8·D + 12) (dkdv), within 16 KiB.
// The wrapper stages at most 16 keys or rows: a workgroup reads every key of its kv head once whatever
// the tile, so larger tiles would only save barriers, while smaller ones leave room for more resident
// workgroups (and SwiftShader compiles ~4 s per 16 KiB of workgroup memory, zero-initialising it).
// Two barriers per tile, none inside the inner loops.
// Bindings: 0 dims; 1 q, 2 k, 3 v, 4 segments; 5 o, 6 L (written); 7 o, 8 dO, 9 L (read);
// 10 stats (written), 11 stats (read); 12 dq, 13 dk, 14 dv. At most 8 storage bindings per entry point.

struct Dims {
  B: u32,
  T: u32,
  // Positions per sequence in k, v, dk, dv and segments (a KV cache's capacity).
  Tk: u32,
  // Keys in use, positions [0, keys): query t sits at position t + keys − T. At most Tk.
  keys: u32,
  H: u32,
  Hkv: u32,
  scale: f32,
  // 1 when a segments tensor is bound. A uniform rather than an override: it costs a branch per
  // staged key or row, not per score, and halves the pipelines to compile.
  segmented: u32,
}

override HEAD_DIM: u32 = 64u;
override BLOCK_ROWS: u32 = 64u;   // fwd, dq: the workgroup size; dkdv: rows per staged tile
override BLOCK_KEYS: u32 = 16u;   // fwd, dq: keys per staged tile; dkdv: the workgroup size

// Per-thread vectors (a query, a key, their accumulators) are private arrays of this many vec4s.
const MAX_HEAD_DIM4 = 32u;
const LOG2E = 1.4426950408889634;
const LN2 = 0.6931471805599453;
// A finite stand-in for −∞ as the running max: WGSL compilers may assume no infinities.
const NEG_BIG = -3.0e38;
// Terms exp2(score − max) may reach 2^RESCALE_SLACK before the running max moves: far from overflow.
const RESCALE_SLACK = 8.0;
const NEG_INF_BITS = 0xff800000u;
const STATS_WORKGROUP = 64u;

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> v: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> segments: array<u32>;
@group(0) @binding(5) var<storage, read_write> o: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> lse: array<u32>;
@group(0) @binding(7) var<storage, read> o_saved: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read> d_o: array<vec4<f32>>;
@group(0) @binding(9) var<storage, read> lse_saved: array<u32>;
@group(0) @binding(10) var<storage, read_write> stats: array<vec2<f32>>;
@group(0) @binding(11) var<storage, read> stats_saved: array<vec2<f32>>;
@group(0) @binding(12) var<storage, read_write> dq: array<vec4<f32>>;
@group(0) @binding(13) var<storage, read_write> dk: array<vec4<f32>>;
@group(0) @binding(14) var<storage, read_write> dv: array<vec4<f32>>;

// Key tiles (attention_fwd, attention_bwd_dq).
var<workgroup> key_tile: array<vec4<f32>, BLOCK_KEYS * HEAD_DIM / 4u>;
var<workgroup> value_tile: array<vec4<f32>, BLOCK_KEYS * HEAD_DIM / 4u>;
var<workgroup> key_segment_tile: array<u32, BLOCK_KEYS>;
// Row tiles (attention_bwd_dkdv).
var<workgroup> query_tile: array<vec4<f32>, BLOCK_ROWS * HEAD_DIM / 4u>;
var<workgroup> grad_tile: array<vec4<f32>, BLOCK_ROWS * HEAD_DIM / 4u>;
var<workgroup> stats_tile: array<vec2<f32>, BLOCK_ROWS>;
var<workgroup> row_segment_tile: array<u32, BLOCK_ROWS>;

alias HeadVector = array<vec4<f32>, MAX_HEAD_DIM4>;

fn head_dim4() -> u32 {
  return HEAD_DIM / 4u;
}

fn group_size() -> u32 {
  return dims.H / dims.Hkv;
}

// How many more keys than queries: query t sits at key position t + cache_offset().
fn cache_offset() -> u32 {
  return dims.keys - dims.T;
}

// Without segments every position is in segment 1, so the visibility test reduces to causality.
fn segment_at(b: u32, position: u32) -> u32 {
  if (dims.segmented != 0u) {
    return segments[b * dims.Tk + position];
  }
  return 1u;
}

// First vec4 of row (t, h) in q, o, dO or dq.
fn query_base(b: u32, t: u32, h: u32) -> u32 {
  return ((b * dims.T + t) * dims.H + h) * head_dim4();
}

// First vec4 of key position j in k, v, dk or dv.
fn key_base(b: u32, j: u32, kv_head: u32) -> u32 {
  return ((b * dims.Tk + j) * dims.Hkv + kv_head) * head_dim4();
}

fn stats_index(b: u32, t: u32, h: u32) -> u32 {
  return (b * dims.H + h) * dims.T + t;
}

// Position and query head of row r of kv head kv_head.
fn row_position(r: u32) -> u32 {
  return r / group_size();
}

fn row_head(r: u32, kv_head: u32) -> u32 {
  return kv_head * group_size() + r % group_size();
}

fn load_query(base: u32, scale: f32) -> HeadVector {
  var out: HeadVector;
  for (var c = 0u; c < head_dim4(); c++) {
    out[c] = q[base + c] * scale;
  }
  return out;
}

fn load_grad_out(base: u32) -> HeadVector {
  var out: HeadVector;
  for (var c = 0u; c < head_dim4(); c++) {
    out[c] = d_o[base + c];
  }
  return out;
}

fn load_key(base: u32) -> HeadVector {
  var out: HeadVector;
  for (var c = 0u; c < head_dim4(); c++) {
    out[c] = k[base + c];
  }
  return out;
}

fn load_value(base: u32) -> HeadVector {
  var out: HeadVector;
  for (var c = 0u; c < head_dim4(); c++) {
    out[c] = v[base + c];
  }
  return out;
}

fn dot_key_tile(x: ptr<function, HeadVector>, key: u32) -> f32 {
  let base = key * head_dim4();
  var sum = 0.0;
  for (var c = 0u; c < head_dim4(); c++) {
    sum += dot((*x)[c], key_tile[base + c]);
  }
  return sum;
}

fn dot_value_tile(x: ptr<function, HeadVector>, key: u32) -> f32 {
  let base = key * head_dim4();
  var sum = 0.0;
  for (var c = 0u; c < head_dim4(); c++) {
    sum += dot((*x)[c], value_tile[base + c]);
  }
  return sum;
}

// Stages keys k0 .. k0 + BLOCK_KEYS − 1 of kv head kv_head; `threads` invocations share the copy.
// Keys past the last in use re-read it: causality already hides them from every query.
fn stage_keys(b: u32, kv_head: u32, k0: u32, lid: u32, threads: u32) {
  let d4 = head_dim4();
  let last = dims.keys - 1u;
  for (var i = lid; i < BLOCK_KEYS * d4; i += threads) {
    let source = key_base(b, min(k0 + i / d4, last), kv_head) + i % d4;
    key_tile[i] = k[source];
    value_tile[i] = v[source];
  }
  for (var i = lid; i < BLOCK_KEYS; i += threads) {
    key_segment_tile[i] = segment_at(b, min(k0 + i, last));
  }
}

// Keys [0, end) are the only ones any row of the workgroup starting at row0 can see.
fn key_end_for_rows(row0: u32, rows: u32) -> u32 {
  let last_row = min(row0 + BLOCK_ROWS, rows) - 1u;
  return row_position(last_row) + cache_offset() + 1u;
}

struct RowState {
  in_range: bool,
  b: u32,
  t: u32,
  h: u32,
  // The last key position this row may see.
  last_key: u32,
  segment: u32,
}

// Rows past the end take the last row's indices, so their loads stay in bounds; they write nothing.
fn row_state(wg: vec3<u32>, lid: u32) -> RowState {
  let rows = dims.T * group_size();
  let row = wg.x * BLOCK_ROWS + lid;
  let r = min(row, rows - 1u);
  let t = row_position(r);
  let last_key = t + cache_offset();
  return RowState(row < rows, wg.z, t, row_head(r, wg.y), last_key, segment_at(wg.z, last_key));
}

fn key_visible(row: RowState, key: u32) -> bool {
  return key_segment_tile[key] == row.segment && row.segment != 0u;
}

@compute @workgroup_size(BLOCK_ROWS)
fn attention_fwd(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = row_state(wg, lid);
  let base = query_base(row.b, row.t, row.h);
  // Scores in base 2: exp2 is what exp costs anyway, and log2 e folds into the query once.
  var query = load_query(base, dims.scale * LOG2E);
  var acc: HeadVector;
  var running_max = NEG_BIG;
  var running_sum = 0.0;
  let d4 = head_dim4();
  let key_end = key_end_for_rows(wg.x * BLOCK_ROWS, dims.T * group_size());
  for (var k0 = 0u; k0 < key_end; k0 += BLOCK_KEYS) {
    stage_keys(row.b, wg.y, k0, lid, BLOCK_ROWS);
    workgroupBarrier();
    if (row.in_range && k0 <= row.last_key) {
      let count = min(BLOCK_KEYS, row.last_key + 1u - k0);
      for (var j = 0u; j < count; j++) {
        // Only visible keys: a hidden value may hold anything, and 0 · Inf would be NaN.
        if (!key_visible(row, j)) {
          continue;
        }
        let score = dot_key_tile(&query, j);
        // Rescale only when the max grows by more than RESCALE_SLACK: exact either way (acc and the
        // sum share the reference), and it makes the divergent rescale branch rare.
        if (score > running_max + RESCALE_SLACK) {
          let rescale = exp2(running_max - score);
          running_sum *= rescale;
          for (var c = 0u; c < d4; c++) {
            acc[c] *= rescale;
          }
          running_max = score;
        }
        let p = exp2(score - running_max);
        running_sum += p;
        let value = j * d4;
        for (var c = 0u; c < d4; c++) {
          acc[c] += p * value_tile[value + c];
        }
      }
    }
    workgroupBarrier();
  }
  if (!row.in_range) {
    return;
  }
  let lse_index = stats_index(row.b, row.t, row.h);
  if (running_sum > 0.0) {
    let inverse = 1.0 / running_sum;
    for (var c = 0u; c < d4; c++) {
      o[base + c] = acc[c] * inverse;
    }
    lse[lse_index] = bitcast<u32>((running_max + log2(running_sum)) * LN2);
  } else {
    for (var c = 0u; c < d4; c++) {
      o[base + c] = vec4<f32>(0.0);
    }
    lse[lse_index] = NEG_INF_BITS;
  }
}

@compute @workgroup_size(STATS_WORKGROUP)
fn attention_bwd_stats(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = gid.x;
  let h = gid.y;
  let b = gid.z;
  if (t >= dims.T) {
    return;
  }
  let base = query_base(b, t, h);
  var delta = 0.0;
  for (var c = 0u; c < head_dim4(); c++) {
    delta += dot(d_o[base + c], o_saved[base + c]);
  }
  let index = stats_index(b, t, h);
  let bits = lse_saved[index];
  // A row with L = −∞ sees no key, so the gradient passes never read its L: keep it finite.
  var lse_base2 = 0.0;
  if (bits != NEG_INF_BITS) {
    lse_base2 = bitcast<f32>(bits) * LOG2E;
  }
  stats[index] = vec2<f32>(lse_base2, delta);
}

@compute @workgroup_size(BLOCK_ROWS)
fn attention_bwd_dq(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = row_state(wg, lid);
  let base = query_base(row.b, row.t, row.h);
  var query = load_query(base, dims.scale * LOG2E);
  var grad_out = load_grad_out(base);
  let row_stats = stats_saved[stats_index(row.b, row.t, row.h)];
  var acc: HeadVector;
  let d4 = head_dim4();
  let key_end = key_end_for_rows(wg.x * BLOCK_ROWS, dims.T * group_size());
  for (var k0 = 0u; k0 < key_end; k0 += BLOCK_KEYS) {
    stage_keys(row.b, wg.y, k0, lid, BLOCK_ROWS);
    workgroupBarrier();
    if (row.in_range && k0 <= row.last_key) {
      let count = min(BLOCK_KEYS, row.last_key + 1u - k0);
      for (var j = 0u; j < count; j++) {
        if (key_visible(row, j)) {
          let p = exp2(dot_key_tile(&query, j) - row_stats.x);
          let ds = p * (dot_value_tile(&grad_out, j) - row_stats.y);
          let key = j * d4;
          for (var c = 0u; c < d4; c++) {
            acc[c] += ds * key_tile[key + c];
          }
        }
      }
    }
    workgroupBarrier();
  }
  if (!row.in_range) {
    return;
  }
  for (var c = 0u; c < d4; c++) {
    dq[base + c] += acc[c] * dims.scale;
  }
}

// Stages rows r0 .. r0 + BLOCK_ROWS − 1 of kv head kv_head: q (scaled like the forward's scores),
// dO, stats and segment. Rows past the end re-read the last row; no key sees them.
fn stage_rows(b: u32, kv_head: u32, r0: u32, lid: u32) {
  let d4 = head_dim4();
  let last = dims.T * group_size() - 1u;
  let query_scale = dims.scale * LOG2E;
  for (var i = lid; i < BLOCK_ROWS * d4; i += BLOCK_KEYS) {
    let r = min(r0 + i / d4, last);
    let source = query_base(b, row_position(r), row_head(r, kv_head)) + i % d4;
    query_tile[i] = q[source] * query_scale;
    grad_tile[i] = d_o[source];
  }
  for (var i = lid; i < BLOCK_ROWS; i += BLOCK_KEYS) {
    let r = min(r0 + i, last);
    let t = row_position(r);
    stats_tile[i] = stats_saved[stats_index(b, t, row_head(r, kv_head))];
    row_segment_tile[i] = segment_at(b, t + cache_offset());
  }
}

fn dot_query_tile(x: ptr<function, HeadVector>, row: u32) -> f32 {
  let base = row * head_dim4();
  var sum = 0.0;
  for (var c = 0u; c < head_dim4(); c++) {
    sum += dot((*x)[c], query_tile[base + c]);
  }
  return sum;
}

fn dot_grad_tile(x: ptr<function, HeadVector>, row: u32) -> f32 {
  let base = row * head_dim4();
  var sum = 0.0;
  for (var c = 0u; c < head_dim4(); c++) {
    sum += dot((*x)[c], grad_tile[base + c]);
  }
  return sum;
}

// The first row whose position may see key position j: t + K − T >= j.
fn first_visible_row(j: u32) -> u32 {
  let offset = cache_offset();
  return select(0u, (j - offset) * group_size(), j > offset);
}

@compute @workgroup_size(BLOCK_KEYS)
fn attention_bwd_dkdv(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let b = wg.z;
  let kv_head = wg.y;
  let j0 = wg.x * BLOCK_KEYS;
  let key_position = min(j0 + lid, dims.keys - 1u);
  let in_range = j0 + lid < dims.keys;
  let segment = segment_at(b, key_position);
  let base = key_base(b, key_position, kv_head);
  var key = load_key(base);
  var value = load_value(base);
  var dk_acc: HeadVector;
  var dv_acc: HeadVector;
  let d4 = head_dim4();
  let rows = dims.T * group_size();
  // Rows are ordered by position, so the rows that see a key are those from its first_visible_row on.
  let first_row = first_visible_row(j0);
  let own_first_row = first_visible_row(key_position);
  for (var r0 = first_row; r0 < rows; r0 += BLOCK_ROWS) {
    stage_rows(b, kv_head, r0, lid);
    workgroupBarrier();
    if (in_range && segment != 0u) {
      let count = min(BLOCK_ROWS, rows - r0);
      for (var i = max(own_first_row, r0) - r0; i < count; i++) {
        if (row_segment_tile[i] == segment) {
          let row_stats = stats_tile[i];
          let p = exp2(dot_query_tile(&key, i) - row_stats.x);
          let ds = p * (dot_grad_tile(&value, i) - row_stats.y);
          let row = i * d4;
          for (var c = 0u; c < d4; c++) {
            dv_acc[c] += p * grad_tile[row + c];
            dk_acc[c] += ds * query_tile[row + c];
          }
        }
      }
    }
    workgroupBarrier();
  }
  if (!in_range) {
    return;
  }
  // query_tile holds q·scale·log2 e, so ds·query_tile·ln 2 = scale·ds·q.
  for (var c = 0u; c < d4; c++) {
    dk[base + c] += dk_acc[c] * LN2;
    dv[base + c] += dv_acc[c];
  }
}
