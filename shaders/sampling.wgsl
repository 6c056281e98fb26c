// sampling.wgsl: next-token choice for generation, one row of logits per workgroup.
//
//   argmax_rows     tokens[r] = argmax_v logits[r, v], ties to the lowest index (as torch.argmax).
//   sample_top_p    q[v] = exp((logits[r, v] − max) / T)                    (softmax at temperature T, unnormalized)
//                   nucleus: the shortest prefix of the tokens ordered by (q descending, index ascending)
//                   whose mass reaches top_p·Σq (every token when top_p >= 1);
//                   tokens[r] = the first nucleus token v, in index order, whose cumulative nucleus mass
//                   exceeds u[r]·(nucleus mass), or the last nucleus token if rounding leaves none.
//                   u[r] in [0, 1) comes from the caller's seeded Random, so the CPU reference repeats the choice.
//
// No sort: with τ the q of the last token in the nucleus, the nucleus is {q > τ} plus the first c tokens
// (by index) with q = τ. τ is the largest float t with F(t) = Σ_{q >= t} q >= top_p·Σq. Non-negative
// floats order like their bit patterns, so τ's bits are found 4 at a time, high to low: each of 8 passes
// over the row evaluates F at the 16 candidates prefix | j << shift and keeps the largest j that still
// reaches the target. The inverse-CDF pass gives each thread a contiguous block of the row, so block
// sums taken in order give the cumulative mass in index order.
//
// Reductions write one partial per thread, then thread 0 combines them in a fixed order and shares the
// result through workgroupUniformLoad: two barriers per reduction instead of a log-depth tree, which
// matters where barriers are expensive (SwiftShader) and keeps every thread's view bit-identical.
//
// Workgroup 64; dispatch (R) for both. Bindings: 0 params (uniform), 1 logits [R, V] f32, 2 u [R] f32,
// 3 tokens [R] i32 (written).

struct Params {
  V: u32,
  inv_temperature: f32,
  top_p: f32,
}

const WG: u32 = 64u;
const DIGITS: u32 = 16u;               // candidates per search pass: 4 bits of τ
const FIRST_SHIFT: u32 = 28u;          // 8 passes cover the 32 bits of τ
const NONE: u32 = 0xffffffffu;
const ABOVE_ONE_BITS: u32 = 0x3f800001u; // the float after 1.0: no q reaches it (q <= 1)

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> u: array<f32>;
@group(0) @binding(3) var<storage, read_write> tokens: array<i32>;

var<workgroup> wg_value: array<f32, WG>;
var<workgroup> wg_index: array<u32, WG>;
var<workgroup> wg_mass: array<array<f32, DIGITS>, WG>;
var<workgroup> wg_shared_f32: f32;
var<workgroup> wg_shared_u32: u32;
var<workgroup> wg_target: f32;

// b beats a: larger value, or the same value at a lower index. NONE marks "no element yet".
fn better(b_value: f32, b_index: u32, a_value: f32, a_index: u32) -> bool {
  if (b_index == NONE) {
    return false;
  }
  return a_index == NONE || b_value > a_value || (b_value == a_value && b_index < a_index);
}

// The row's argmax (lowest index among ties) in every thread; its value is left in wg_shared_f32.
fn row_argmax(base: u32, t: u32) -> u32 {
  var best = 0.0;
  var best_index = NONE;
  for (var v = t; v < params.V; v += WG) {
    let l = logits[base + v];
    if (better(l, v, best, best_index)) {
      best = l;
      best_index = v;
    }
  }
  wg_value[t] = best;
  wg_index[t] = best_index;
  workgroupBarrier();
  if (t == 0u) {
    for (var i = 1u; i < WG; i++) {
      if (better(wg_value[i], wg_index[i], best, best_index)) {
        best = wg_value[i];
        best_index = wg_index[i];
      }
    }
    wg_shared_f32 = best;
    wg_shared_u32 = best_index;
  }
  return workgroupUniformLoad(&wg_shared_u32);
}

@compute @workgroup_size(WG)
fn argmax_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let token = row_argmax(wid.x * params.V, lid.x);
  if (lid.x == 0u) {
    tokens[wid.x] = i32(token);
  }
}

// One helper for every pass, so a token's q is bit-identical wherever it is compared with τ.
fn prob(l: f32, row_max: f32) -> f32 {
  return exp((l - row_max) * params.inv_temperature);
}

fn candidate(prefix: u32, digit: u32, shift: u32) -> f32 {
  return bitcast<f32>(min(prefix | (digit << shift), ABOVE_ONE_BITS));
}

// One search pass: the largest digit j with F(prefix | j << shift) >= target, as the new prefix. The
// first pass also sets the target, top_p·Σq, from its candidate 0 (threshold 0.0: every token).
fn search_pass(base: u32, row_max: f32, prefix: u32, shift: u32, t: u32) -> u32 {
  var mass: array<f32, DIGITS>;
  for (var v = t; v < params.V; v += WG) {
    let q = prob(logits[base + v], row_max);
    for (var j = 0u; j < DIGITS; j++) {
      if (q >= candidate(prefix, j, shift)) {
        mass[j] += q;
      }
    }
  }
  wg_mass[t] = mass;
  workgroupBarrier();
  if (t == 0u) {
    var totals: array<f32, DIGITS>;
    for (var i = 0u; i < WG; i++) {
      for (var j = 0u; j < DIGITS; j++) {
        totals[j] += wg_mass[i][j];
      }
    }
    if (shift == FIRST_SHIFT) {
      wg_target = params.top_p * totals[0];
    }
    var next = prefix;
    for (var j = 1u; j < DIGITS; j++) {
      if (totals[j] >= wg_target) {
        next = prefix | (j << shift);
      }
    }
    wg_shared_u32 = next;
  }
  return workgroupUniformLoad(&wg_shared_u32);
}

// Σ q over q > tau in the return value, and the number of tokens with q == tau in wg_shared_u32.
fn mass_above_and_ties(base: u32, row_max: f32, tau: f32, t: u32) -> f32 {
  var sum = 0.0;
  var ties = 0u;
  for (var v = t; v < params.V; v += WG) {
    let q = prob(logits[base + v], row_max);
    if (q > tau) {
      sum += q;
    } else if (q == tau) {
      ties += 1u;
    }
  }
  wg_value[t] = sum;
  wg_index[t] = ties;
  workgroupBarrier();
  if (t == 0u) {
    sum = 0.0;
    ties = 0u;
    for (var i = 0u; i < WG; i++) {
      sum += wg_value[i];
      ties += wg_index[i];
    }
    wg_shared_f32 = sum;
    wg_shared_u32 = ties;
  }
  return workgroupUniformLoad(&wg_shared_f32);
}

@compute @workgroup_size(WG)
fn sample_top_p(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let V = params.V;
  let r = wid.x;
  let base = r * V;
  let t = lid.x;
  row_argmax(base, t);
  let row_max = workgroupUniformLoad(&wg_shared_f32);

  // The nucleus as (tau, ties_taken): q > tau, plus the first ties_taken tokens with q == tau.
  var tau = 0.0;
  var ties_taken = V;
  if (params.top_p < 1.0) {
    var prefix = 0u;
    for (var shift = i32(FIRST_SHIFT); shift >= 0i; shift -= 4i) {
      prefix = search_pass(base, row_max, prefix, u32(shift), t);
    }
    let target_mass = workgroupUniformLoad(&wg_target);
    tau = bitcast<f32>(prefix);
    let above = mass_above_and_ties(base, row_max, tau, t);
    let ties = workgroupUniformLoad(&wg_shared_u32);
    // Clamped in float: rounding can make target_mass − above <= 0, and a negative f32 has no u32.
    ties_taken = u32(clamp(ceil((target_mass - above) / tau), 1.0, f32(max(ties, 1u))));
  }

  // Contiguous blocks: thread t owns [t·block, (t + 1)·block). First each block's rank among the ties.
  let block = (V + WG - 1u) / WG;
  let begin = min(t * block, V);
  let end = min(begin + block, V);
  var ties_in_block = 0u;
  for (var v = begin; v < end; v++) {
    ties_in_block += select(0u, 1u, prob(logits[base + v], row_max) == tau);
  }
  wg_index[t] = ties_in_block;
  workgroupBarrier();
  if (t == 0u) {
    var before = 0u;
    for (var i = 0u; i < WG; i++) {
      let count = wg_index[i];
      wg_index[i] = before;
      before += count;
    }
  }
  workgroupBarrier();
  // Nucleus mass of this block, summed in index order (the inverse-CDF scan below repeats this order).
  var tie_rank = wg_index[t];
  var block_mass = 0.0;
  for (var v = begin; v < end; v++) {
    let q = prob(logits[base + v], row_max);
    if (q > tau || (q == tau && tie_rank < ties_taken)) {
      block_mass += q;
    }
    tie_rank += select(0u, 1u, q == tau);
  }
  wg_value[t] = block_mass;
  workgroupBarrier();
  if (t == 0u) {
    var nucleus_mass = 0.0;
    for (var i = 0u; i < WG; i++) {
      nucleus_mass += wg_value[i];
    }
    let target_cdf = u[r] * nucleus_mass;
    var running = 0.0;
    var chosen = NONE;
    var last_nonempty = 0u;
    for (var i = 0u; i < WG; i++) {
      let mass = wg_value[i];
      if (mass > 0.0) {
        last_nonempty = i;
        if (running + mass > target_cdf) {
          chosen = i;
          wg_shared_f32 = target_cdf - running;
          break;
        }
      }
      running += mass;
    }
    if (chosen == NONE) {
      chosen = last_nonempty;
      wg_shared_f32 = 3.0e38;
    }
    wg_shared_u32 = chosen;
  }
  let chosen_block = workgroupUniformLoad(&wg_shared_u32);
  if (t == chosen_block) {
    // Mass still to pass inside this block; block_mass exceeds it, so the scan below stops in the block.
    let remaining = wg_shared_f32;
    tie_rank = wg_index[t];
    var cumulative = 0.0;
    var token = NONE;
    for (var v = begin; v < end; v++) {
      let q = prob(logits[base + v], row_max);
      let member = q > tau || (q == tau && tie_rank < ties_taken);
      tie_rank += select(0u, 1u, q == tau);
      if (member) {
        cumulative += q;
        token = v;
        if (cumulative > remaining) {
          break;
        }
      }
    }
    tokens[r] = i32(token);
  }
}
