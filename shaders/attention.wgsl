// attention.wgsl: causal self-attention with grouped-query heads, forward and backward, tiled with an
// online softmax (FlashAttention-2 style): no T×T score matrix is ever written to memory.
//
//   S[i,j] = scale · q[b,i,h,:]·k[b,j,h/G,:]          G = H / Hkv query heads share one kv head
//   O[b,i,h,:] = Σ_j softmax_j(S[i,:]) · v[b,j,h/G,:]  L[b,h,i] = log Σ_j exp S[i,j]   (sums over visible keys)
//   key j is visible to query i iff j <= p = i + (K − T)   (causal; T < K: a query block after a KV cache)
//                       and j > p − W                (with a sliding window of W positions, p's own included)
//                       and segments[b,j] == segments[b, p] != 0  (with segments; 0 = padding)
//                       or, forward only with segment bit sets (segmented = 2),
//                           segments[b,j] & segments[b, p] != 0  (a tree of candidates: a shared prefix
//                           carries the OR of its branches' bits, each branch its own bit)
//   where K <= Tk is the number of keys in use (k and v may be a KV cache of capacity Tk).
//   A query with no visible key gets O = 0 and L = −∞ (written by bit pattern).
//
// Backward (recomputes P from q, k and L; ACCUMULATES into dq, dk, dv, which the caller clears):
//   Δ[i] = dO_i·O_i,  dP[i,j] = dO_i·v_j,  dS = P ⊙ (dP − Δ)
//   dq_i += scale Σ_j dS[i,j] k_j,   dk_j += scale Σ_i dS[i,j] q_i,   dv_j += Σ_i P[i,j] dO_i
//   Gradients of the G query heads sharing a kv head sum into it inside one thread: no float atomics.
//
// Shapes (row-major f32): q, o, dO, dq [B,T,H,D]; k, v, dk, dv [B,Tk,Hkv,D]; L [B,H,T];
// segments u32 [B,Tk]; stats (L·log2 e, Δ) [B,H,T,2]. D = HEAD_DIM, a multiple of 4: at most 128 on the
// row route (the entry points below, for CPU adapters), at most 256 on the lane route (at the end of the file).
//
// A "row" is one (position t, query head h) pair. The heads of a kv group are interleaved,
// r = t·G + g with h = kvh·G + g, so the G heads of one position sit in neighbouring threads that read
// the same keys (one thread per row for decode is then G threads, not 1).
//
// Row route entry points (in one command encoder; the backward runs stats, then dq and dkdv):
//   attention_fwd       one thread per row, BLOCK_ROWS rows per workgroup; loops over the keys its row
//                       sees, read from k and v directly (no workgroup memory, no barrier), the query
//                       and acc in the HeadRegisters of the prelude that app/gpu/ops/attention.ts puts
//                       in front of this file for HEAD_DIM; running max and sum in base 2, acc rescaled
//                       only when the max grows by more than RESCALE_SLACK.
//                       dispatch (ceil(T·G / BLOCK_ROWS), Hkv, B).
//   attention_bwd_stats one thread per row of L: Δ and L·log2 e. Workgroup 64, dispatch (ceil(T / 64), H, B).
//   attention_bwd_dq    as attention_fwd (keys read directly; query, dO and dq_i in HeadRegisters).
//                       dispatch (ceil(T·G / BLOCK_ROWS), Hkv, B).
//   attention_bwd_dkdv  one thread per key, BLOCK_KEYS keys per workgroup; loops over the rows that see
//                       its key, read from q, dO and stats directly; key, value, dk_j and dv_j in
//                       HeadRegisters. dispatch (ceil(K / BLOCK_KEYS), Hkv, B).
// No workgroup memory and no barrier on the row route: on a CPU adapter each thread reads its keys or rows
// from storage, the same memory a staged tile would be (staging dkdv's rows measured ~1.4x slower at
// aidreams260K's shape, bench/README.md).
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
  // 1 when a segments tensor is bound, 2 when its ids are bit sets (forward only: the key-gradient passes
  // compare ids, so the wrapper refuses bit sets in the backward). A uniform rather than an override: it
  // costs one uniform branch per key or row visited, and halves the pipelines to compile.
  segmented: u32,
  // Sliding window W (a query sees the W positions ending at its own); 0 for the whole prefix.
  window: u32,
}

override HEAD_DIM: u32 = 64u;
override BLOCK_ROWS: u32 = 64u;   // fwd, dq: the workgroup size
override BLOCK_KEYS: u32 = 64u;   // dkdv: the workgroup size
override LANES: u32 = 1u;         // lane route: threads per row or key; the row route is one lane

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

// Whether a query in segment query_segment (not 0) sees a key in key_segment, causality aside: the same
// segment, or with bit sets a shared bit (padding, 0, shares none).
fn segment_visible(query_segment: u32, key_segment: u32) -> bool {
  if (dims.segmented == 2u) {
    return (query_segment & key_segment) != 0u;
  }
  return key_segment == query_segment;
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

// The first key a query at key position last_key sees: the window's start, or 0.
fn first_key_of(last_key: u32) -> u32 {
  if (dims.window == 0u || last_key < dims.window) {
    return 0u;
  }
  return last_key + 1u - dims.window;
}

// The first key any row from row0 on sees (rows are ordered by position), rounded down to a tile of `tile`.
fn key_start_for_rows(row0: u32, tile: u32) -> u32 {
  return first_key_of(row_position(row0) + cache_offset()) / tile * tile;
}

struct RowState {
  in_range: bool,
  b: u32,
  t: u32,
  h: u32,
  // The first and last key positions this row may see.
  first_key: u32,
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
  return RowState(row < rows, wg.z, t, row_head(r, wg.y), first_key_of(last_key), last_key, segment_at(wg.z, last_key));
}

// The head vectors live in HeadRegisters, a struct of HEAD_DIM / 4 vec4 fields that the wrapper's prelude
// declares with its helpers (statically indexed: SwiftShader keeps them in registers, where the private
// arrays of vec4s they replaced went through memory and made this pass 2-3x slower at D = 16). Keys are read
// straight from k and v: on a CPU adapter that is the same memory a staged tile would be, without the
// barriers.
@compute @workgroup_size(BLOCK_ROWS)
fn attention_fwd(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = row_state(wg, lid);
  if (!row.in_range) {
    return;
  }
  let base = query_base(row.b, row.t, row.h);
  // Scores in base 2: exp2 is what exp costs anyway, and log2 e folds into the query once.
  let query = registers_load_query(base, dims.scale * LOG2E);
  var acc = registers_zero();
  var running_max = NEG_BIG;
  var running_sum = 0.0;
  // A query in segment 0 (padding) sees no key.
  if (row.segment != 0u) {
    for (var j = row.first_key; j <= row.last_key; j++) {
      // Only visible keys: a hidden value may hold anything, and 0 · Inf would be NaN.
      if (!segment_visible(row.segment, segment_at(row.b, j))) {
        continue;
      }
      let key = key_base(row.b, j, wg.y);
      let score = registers_dot_key(query, key);
      // Rescale only when the max grows by more than RESCALE_SLACK: exact either way (acc and the
      // sum share the reference), and it makes the divergent rescale branch rare.
      if (score > running_max + RESCALE_SLACK) {
        let rescale = exp2(running_max - score);
        running_sum *= rescale;
        acc = registers_scaled(acc, rescale);
        running_max = score;
      }
      let p = exp2(score - running_max);
      running_sum += p;
      acc = registers_add_value(acc, p, key);
    }
  }
  let lse_index = stats_index(row.b, row.t, row.h);
  if (running_sum > 0.0) {
    registers_store_output(registers_scaled(acc, 1.0 / running_sum), base);
    lse[lse_index] = bitcast<u32>((running_max + log2(running_sum)) * LN2);
  } else {
    registers_store_output(registers_zero(), base);
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
  // Summed in the order the gradient passes sum dO·v (per lane, then over lanes; one lane on the row
  // route), so that a row seeing a single key, where O = v exactly, gets dS = 0 exactly.
  var delta = 0.0;
  for (var lane = 0u; lane < LANES; lane++) {
    var partial = 0.0;
    for (var c = lane; c < head_dim4(); c += LANES) {
      partial += dot(d_o[base + c], o_saved[base + c]);
    }
    delta += partial;
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
  if (!row.in_range || row.segment == 0u) {
    return;
  }
  let base = query_base(row.b, row.t, row.h);
  let query = registers_load_query(base, dims.scale * LOG2E);
  let grad_out = registers_load_grad_out(base);
  let row_stats = stats_saved[stats_index(row.b, row.t, row.h)];
  var acc = registers_zero();
  for (var j = row.first_key; j <= row.last_key; j++) {
    if (segment_at(row.b, j) != row.segment) {
      continue;
    }
    let key = key_base(row.b, j, wg.y);
    let p = exp2(registers_dot_key(query, key) - row_stats.x);
    let ds = p * (registers_dot_value(grad_out, key) - row_stats.y);
    acc = registers_add_key(acc, ds, key);
  }
  registers_add_to_dq(acc, dims.scale, base);
}

// The first row whose position may see key position j: t + K − T >= j.
fn first_visible_row(j: u32) -> u32 {
  let offset = cache_offset();
  return select(0u, (j - offset) * group_size(), j > offset);
}

// One past the last row whose position sees key position j through the window: t + K − T < j + W.
fn visible_row_end(j: u32) -> u32 {
  let rows = dims.T * group_size();
  if (dims.window == 0u) {
    return rows;
  }
  let end = j + dims.window;
  let offset = cache_offset();
  return select(0u, min((end - offset) * group_size(), rows), end > offset);
}

// As attention_bwd_dq with the roles swapped: one thread per key, holding the key, value and both
// gradients in HeadRegisters, reading the rows that see its key straight from q, dO and stats. q is scaled
// by scale·log2 e per vec4 before the dot and the add, as the forward scales its query, so scores and sums
// are those of the staged kernel this replaced, bit for bit.
@compute @workgroup_size(BLOCK_KEYS)
fn attention_bwd_dkdv(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let b = wg.z;
  let kv_head = wg.y;
  let key_position = wg.x * BLOCK_KEYS + lid;
  if (key_position >= dims.keys) {
    return;
  }
  let segment = segment_at(b, key_position);
  // A padding key is seen by no row: its gradients stay as they are.
  if (segment == 0u) {
    return;
  }
  let base = key_base(b, key_position, kv_head);
  let key = registers_load_key(base);
  let value = registers_load_value(base);
  var dk_acc = registers_zero();
  var dv_acc = registers_zero();
  let query_scale = dims.scale * LOG2E;
  // Rows are ordered by position, so the rows that see a key are those from its first_visible_row on.
  let row_end = visible_row_end(key_position);
  for (var r = first_visible_row(key_position); r < row_end; r++) {
    let t = row_position(r);
    if (segment_at(b, t + cache_offset()) != segment) {
      continue;
    }
    let h = row_head(r, kv_head);
    let row_stats = stats_saved[stats_index(b, t, h)];
    let row = query_base(b, t, h);
    let p = exp2(registers_dot_scaled_query(key, row, query_scale) - row_stats.x);
    let ds = p * (registers_dot_grad_out(value, row) - row_stats.y);
    dv_acc = registers_add_grad_out(dv_acc, p, row);
    dk_acc = registers_add_scaled_query(dk_acc, ds, row, query_scale);
  }
  // dk_acc sums ds·q·scale·log2 e, so dk_acc·ln 2 = scale·Σ ds·q.
  registers_add_to_key_grads(dk_acc, dv_acc, LN2, base);
}

// ---------------------------------------------------------------------------------------------------
// Lane route (real GPUs, and head dims past the row route's 128): LANES threads cooperate on
// one row (fwd, dq) or one key (dkdv), lane l holding the head dims' vec4s l, l + LANES, l + 2·LANES, ...
// (at most MAX_LANE4 of them: LANES is the smallest power of two that allows it), so a thread keeps at
// most 4 vectors of 16 floats live (64 floats) at any head dim up to 256. Neighbouring lanes read
// neighbouring vec4s: loads of q, k, v and dO coalesce. Each lane writes its partial dot products for a
// tile of LANE_TILE keys (or rows) to workgroup memory; after a barrier every lane of the row sums the
// same partials in the same order, so all lanes hold bit-identical scores and running statistics.
// Workgroup LANE_THREADS = 64: 64 / LANES rows (or keys). Two barriers per tile.
//   attention_fwd_lanes, attention_bwd_dq_lanes  dispatch (ceil(T·G / (64 / LANES)), Hkv, B)
//   attention_bwd_dkdv_lanes                     dispatch (ceil(K / (64 / LANES)), Hkv, B)
// Workgroup memory: 64·LANE_TILE·4 bytes per partial array (fwd one, dq and dkdv two): 8 KiB at most.

const LANE_THREADS = 64u;
const LANE_TILE = 16u;
const MAX_LANE4 = 4u;

alias LaneVector = array<vec4<f32>, MAX_LANE4>;

var<workgroup> partial_first: array<f32, LANE_THREADS * LANE_TILE>;
var<workgroup> partial_second: array<f32, LANE_THREADS * LANE_TILE>;

fn items_per_group() -> u32 {
  return LANE_THREADS / LANES;
}

// vec4 c of this lane is the head's vec4 lane + c·LANES, present while below head_dim4().
fn lane_has(lane: u32, c: u32) -> bool {
  return lane + c * LANES < head_dim4();
}

fn lane_load_q(base: u32, lane: u32, scale: f32) -> LaneVector {
  var out: LaneVector;
  for (var c = 0u; c < MAX_LANE4; c++) {
    if (lane_has(lane, c)) {
      out[c] = q[base + lane + c * LANES] * scale;
    }
  }
  return out;
}

fn lane_load_grad_out(base: u32, lane: u32) -> LaneVector {
  var out: LaneVector;
  for (var c = 0u; c < MAX_LANE4; c++) {
    if (lane_has(lane, c)) {
      out[c] = d_o[base + lane + c * LANES];
    }
  }
  return out;
}

fn lane_load_key(base: u32, lane: u32) -> LaneVector {
  var out: LaneVector;
  for (var c = 0u; c < MAX_LANE4; c++) {
    if (lane_has(lane, c)) {
      out[c] = k[base + lane + c * LANES];
    }
  }
  return out;
}

fn lane_load_value(base: u32, lane: u32) -> LaneVector {
  var out: LaneVector;
  for (var c = 0u; c < MAX_LANE4; c++) {
    if (lane_has(lane, c)) {
      out[c] = v[base + lane + c * LANES];
    }
  }
  return out;
}

// Dot products of a held vector with this lane's part of a row of k, v, q or dO, read one vec4 at a
// time so that nothing but the held vectors stays live.
fn lane_dot_key(x: ptr<function, LaneVector>, base: u32, lane: u32) -> f32 {
  var sum = 0.0;
  for (var c = 0u; c < MAX_LANE4; c++) {
    if (lane_has(lane, c)) {
      sum += dot((*x)[c], k[base + lane + c * LANES]);
    }
  }
  return sum;
}

fn lane_dot_value(x: ptr<function, LaneVector>, base: u32, lane: u32) -> f32 {
  var sum = 0.0;
  for (var c = 0u; c < MAX_LANE4; c++) {
    if (lane_has(lane, c)) {
      sum += dot((*x)[c], v[base + lane + c * LANES]);
    }
  }
  return sum;
}

fn lane_dot_query(x: ptr<function, LaneVector>, base: u32, lane: u32) -> f32 {
  var sum = 0.0;
  for (var c = 0u; c < MAX_LANE4; c++) {
    if (lane_has(lane, c)) {
      sum += dot((*x)[c], q[base + lane + c * LANES]);
    }
  }
  return sum;
}

fn lane_dot_grad_out(x: ptr<function, LaneVector>, base: u32, lane: u32) -> f32 {
  var sum = 0.0;
  for (var c = 0u; c < MAX_LANE4; c++) {
    if (lane_has(lane, c)) {
      sum += dot((*x)[c], d_o[base + lane + c * LANES]);
    }
  }
  return sum;
}

// Σ over the row's lanes of their partials for tile entry j: the same order in every lane.
fn lane_sum(partials: ptr<workgroup, array<f32, LANE_THREADS * LANE_TILE>>, item: u32, j: u32) -> f32 {
  var sum = 0.0;
  for (var l = 0u; l < LANES; l++) {
    sum += (*partials)[(item * LANES + l) * LANE_TILE + j];
  }
  return sum;
}

struct LaneRow {
  in_range: bool,
  b: u32,
  base: u32,
  stats_index: u32,
  first_key: u32,
  last_key: u32,
  segment: u32,
}

// Rows past the end take the last row's indices, so their loads stay in bounds; they write nothing.
fn lane_row(wg: vec3<u32>, item: u32) -> LaneRow {
  let rows = dims.T * group_size();
  let row = wg.x * items_per_group() + item;
  let r = min(row, rows - 1u);
  let t = row_position(r);
  let h = row_head(r, wg.y);
  let last_key = t + cache_offset();
  return LaneRow(row < rows, wg.z, query_base(wg.z, t, h), stats_index(wg.z, t, h), first_key_of(last_key), last_key, segment_at(wg.z, last_key));
}

fn lane_key_visible(row: LaneRow, key: u32) -> bool {
  return key >= row.first_key && key <= row.last_key && row.segment != 0u && segment_visible(row.segment, segment_at(row.b, key));
}

@compute @workgroup_size(LANE_THREADS)
fn attention_fwd_lanes(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let item = lid / LANES;
  let lane = lid % LANES;
  let row = lane_row(wg, item);
  var query = lane_load_q(row.base, lane, dims.scale * LOG2E);
  var acc: LaneVector;
  var running_max = NEG_BIG;
  var running_sum = 0.0;
  let row0 = wg.x * items_per_group();
  let key_end = min(row_position(min(row0 + items_per_group(), dims.T * group_size()) - 1u) + cache_offset() + 1u, dims.keys);
  for (var k0 = key_start_for_rows(row0, LANE_TILE); k0 < key_end; k0 += LANE_TILE) {
    for (var j = 0u; j < LANE_TILE; j++) {
      partial_first[lid * LANE_TILE + j] = lane_dot_key(&query, key_base(row.b, min(k0 + j, key_end - 1u), wg.y), lane);
    }
    workgroupBarrier();
    let count = min(LANE_TILE, key_end - k0);
    for (var j = 0u; j < count; j++) {
      // Only visible keys: a hidden value may hold anything, and 0 · Inf would be NaN.
      if (!lane_key_visible(row, k0 + j)) {
        continue;
      }
      let score = lane_sum(&partial_first, item, j);
      if (score > running_max + RESCALE_SLACK) {
        let rescale = exp2(running_max - score);
        running_sum *= rescale;
        for (var c = 0u; c < MAX_LANE4; c++) {
          acc[c] *= rescale;
        }
        running_max = score;
      }
      let p = exp2(score - running_max);
      running_sum += p;
      let value = key_base(row.b, k0 + j, wg.y) + lane;
      for (var c = 0u; c < MAX_LANE4; c++) {
        if (lane_has(lane, c)) {
          acc[c] += p * v[value + c * LANES];
        }
      }
    }
    workgroupBarrier();
  }
  if (!row.in_range) {
    return;
  }
  var inverse = 0.0;
  var lse_bits = NEG_INF_BITS;
  if (running_sum > 0.0) {
    inverse = 1.0 / running_sum;
    lse_bits = bitcast<u32>((running_max + log2(running_sum)) * LN2);
  }
  for (var c = 0u; c < MAX_LANE4; c++) {
    if (lane_has(lane, c)) {
      o[row.base + lane + c * LANES] = acc[c] * inverse;
    }
  }
  if (lane == 0u) {
    lse[row.stats_index] = lse_bits;
  }
}

@compute @workgroup_size(LANE_THREADS)
fn attention_bwd_dq_lanes(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let item = lid / LANES;
  let lane = lid % LANES;
  let row = lane_row(wg, item);
  var query = lane_load_q(row.base, lane, dims.scale * LOG2E);
  var grad_out = lane_load_grad_out(row.base, lane);
  let row_stats = stats_saved[row.stats_index];
  var acc: LaneVector;
  let row0 = wg.x * items_per_group();
  let key_end = min(row_position(min(row0 + items_per_group(), dims.T * group_size()) - 1u) + cache_offset() + 1u, dims.keys);
  for (var k0 = key_start_for_rows(row0, LANE_TILE); k0 < key_end; k0 += LANE_TILE) {
    for (var j = 0u; j < LANE_TILE; j++) {
      let base = key_base(row.b, min(k0 + j, key_end - 1u), wg.y);
      partial_first[lid * LANE_TILE + j] = lane_dot_key(&query, base, lane);
      partial_second[lid * LANE_TILE + j] = lane_dot_value(&grad_out, base, lane);
    }
    workgroupBarrier();
    let count = min(LANE_TILE, key_end - k0);
    for (var j = 0u; j < count; j++) {
      if (lane_key_visible(row, k0 + j)) {
        let p = exp2(lane_sum(&partial_first, item, j) - row_stats.x);
        let ds = p * (lane_sum(&partial_second, item, j) - row_stats.y);
        let key = key_base(row.b, k0 + j, wg.y) + lane;
        for (var c = 0u; c < MAX_LANE4; c++) {
          if (lane_has(lane, c)) {
            acc[c] += ds * k[key + c * LANES];
          }
        }
      }
    }
    workgroupBarrier();
  }
  if (!row.in_range) {
    return;
  }
  for (var c = 0u; c < MAX_LANE4; c++) {
    if (lane_has(lane, c)) {
      let index = row.base + lane + c * LANES;
      dq[index] += acc[c] * dims.scale;
    }
  }
}

@compute @workgroup_size(LANE_THREADS)
fn attention_bwd_dkdv_lanes(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let item = lid / LANES;
  let lane = lid % LANES;
  let b = wg.z;
  let kv_head = wg.y;
  let j0 = wg.x * items_per_group();
  let key_position = min(j0 + item, dims.keys - 1u);
  let in_range = j0 + item < dims.keys;
  let segment = segment_at(b, key_position);
  let base = key_base(b, key_position, kv_head);
  var key = lane_load_key(base, lane);
  var value = lane_load_value(base, lane);
  var dk_acc: LaneVector;
  var dv_acc: LaneVector;
  let query_scale = dims.scale * LOG2E;
  let own_first_row = first_visible_row(key_position);
  let own_row_end = visible_row_end(key_position);
  let row_end = visible_row_end(min(j0 + items_per_group(), dims.keys) - 1u);
  for (var r0 = first_visible_row(j0); r0 < row_end; r0 += LANE_TILE) {
    for (var i = 0u; i < LANE_TILE; i++) {
      let r = min(r0 + i, row_end - 1u);
      let row_base = query_base(b, row_position(r), row_head(r, kv_head));
      partial_first[lid * LANE_TILE + i] = lane_dot_query(&key, row_base, lane) * query_scale;
      partial_second[lid * LANE_TILE + i] = lane_dot_grad_out(&value, row_base, lane);
    }
    workgroupBarrier();
    if (in_range && segment != 0u && own_row_end > r0) {
      let count = min(LANE_TILE, own_row_end - r0);
      for (var i = max(own_first_row, r0) - r0; i < count; i++) {
        let r = r0 + i;
        let t = row_position(r);
        if (segment_at(b, t + cache_offset()) == segment) {
          let h = row_head(r, kv_head);
          let row_stats = stats_saved[stats_index(b, t, h)];
          let p = exp2(lane_sum(&partial_first, item, i) - row_stats.x);
          let ds = p * (lane_sum(&partial_second, item, i) - row_stats.y);
          let row_base = query_base(b, t, h) + lane;
          for (var c = 0u; c < MAX_LANE4; c++) {
            if (lane_has(lane, c)) {
              dv_acc[c] += p * d_o[row_base + c * LANES];
              dk_acc[c] += ds * q[row_base + c * LANES];
            }
          }
        }
      }
    }
    workgroupBarrier();
  }
  if (!in_range) {
    return;
  }
  for (var c = 0u; c < MAX_LANE4; c++) {
    if (lane_has(lane, c)) {
      let index = base + lane + c * LANES;
      dk[index] += dk_acc[c] * dims.scale;
      dv[index] += dv_acc[c];
    }
  }
}
