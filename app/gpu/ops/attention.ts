import shaderCode from '../../../shaders/attention.wgsl?raw';
import type { GpuContext } from '../device.ts';
import { ShapeError } from '../errors.ts';
import { createTensor, type GpuTensor } from '../tensor.ts';
import { kernelFamily } from '../kernel-family.ts';
import { MAX_HEAD_DIM, MAX_ROW_HEAD_DIM } from './attention-limits.ts';
import { bindGroup, packUniforms } from './encode.ts';
import { expectBindable, expectDType, expectIndexTensor, expectRank, expectShape, expectWorkgroups } from './checks.ts';

const OP = 'attention';

export { MAX_HEAD_DIM, MAX_ROW_HEAD_DIM };
/** The WebGPU default maxComputeWorkgroupStorageSize: the tiles fit it, so they run on every adapter. */
export const WORKGROUP_MEMORY_BUDGET = 16384;
/** Invocations per workgroup of the row route: one per query row (fwd, dq) or per key (dkdv). */
const THREADS = 64;
const STATS_WORKGROUP = 64;
/** Lane route: invocations per workgroup, and the most vec4s of a head one lane holds (shaders/attention.wgsl). */
const LANE_THREADS = 64;
const MAX_LANE_VEC4S = 4;

/**
 * Inputs of causal grouped-query attention: q [B,T,H,D], k and v [B,Tk,Hkv,D], f32, row-major, as the
 * projections produce them (already rotated by RoPE). Query head h reads kv head h / (H / Hkv).
 * Query t sits at key position t + Tk − T (or t + keyLength − T), so T < Tk is a block of new tokens
 * after a KV cache.
 */
export interface AttentionInputs {
  q: GpuTensor;
  k: GpuTensor;
  v: GpuTensor;
  /**
   * Optional u32 [B,Tk], one id per key position: 0 marks padding that no query attends; other
   * values are segment ids of packed examples, and a query attends only keys of its own segment
   * (the id at its own position). A plain padding mask is 1 for tokens and 0 for padding; a query
   * at a padded position sees no key and gets zeros.
   */
  segments?: GpuTensor;
  /**
   * Reads `segments` as bit sets instead of ids: a query sees a key (causality and window aside) when
   * their ids share a bit, so one row can hold a tree of sequences (evaluation's candidates after a
   * prompt: the shared prompt carries the OR of its branches' bits, each branch one bit, and siblings
   * never see each other). 0 stays padding. Forward only: the backward refuses it (training packs
   * plain segments).
   */
  segmentBits?: boolean;
  /** Score scale; defaults to 1/sqrt(D). */
  scale?: number;
  /**
   * Sliding window (Mistral, Phi-3, Gemma 3's sliding layers): a query at position p sees keys
   * p − window + 1 .. p, its own included. A positive integer; the whole prefix when absent.
   */
  window?: number;
  /**
   * When k and v are a KV cache of capacity Tk: the keys in use, positions [0, keyLength), so the
   * queries sit at positions keyLength − T .. keyLength − 1 and later slots are never read into a
   * result. T <= keyLength <= Tk; defaults to Tk.
   */
  keyLength?: number;
}

/** What the forward writes and the backward reads: o [B,T,H,D] and the logsumexp L [B,H,T] (−∞ for a row with no visible key). */
export interface AttentionSaved {
  o: GpuTensor;
  logsumexp: GpuTensor;
}

/** Gradients the backward ACCUMULATES into: dq [B,T,H,D], dk and dv [B,Tk,Hkv,D]. */
export interface AttentionGradients {
  dq: GpuTensor;
  dk: GpuTensor;
  dv: GpuTensor;
}

/** Scratch of the backward: per row (L·log2 e, Δ = dO·O), [B,H,T,2]. Linear in T: no T×T buffer anywhere. */
export interface AttentionScratch {
  stats: GpuTensor;
}

export interface AttentionDims {
  B: number;
  T: number;
  Tk: number;
  H: number;
  Hkv: number;
  D: number;
  /** Keys in use (AttentionInputs.keyLength); Tk unless k and v are a partly filled cache. */
  keyLength: number;
  /** Sliding window (AttentionInputs.window); 0 for the whole prefix. */
  window: number;
}

/**
 * How the kernel spreads a row over threads. 'rows': one thread per query row (fwd, dq) or key (dkdv),
 * holding whole head vectors in registers and reading keys or rows straight from storage: fastest on CPU
 * adapters, and limited to MAX_ROW_HEAD_DIM. 'lanes': `lanes`
 * threads share a row, each holding at most 4 vec4s of every head vector (64 live floats at most, at
 * any head dim up to MAX_HEAD_DIM), with coalesced loads: the route for real GPUs, whose registers
 * would spill a whole row.
 */
export type AttentionRoute = { kind: 'rows' } | { kind: 'lanes'; lanes: number };

/** The route a context runs head dim D on: rows on CPU adapters while D allows, lanes otherwise. */
export function attentionRoute(ctx: Pick<GpuContext, 'info'>, D: number): AttentionRoute {
  if (kernelFamily(ctx) === 'cpu' && D <= MAX_ROW_HEAD_DIM) return { kind: 'rows' };
  return { kind: 'lanes', lanes: lanesFor(D) };
}

/** The fewest lanes (a power of two, so rows fill the 64-thread workgroup) that hold D in 4 vec4s each. */
export function lanesFor(D: number): number {
  let lanes = 1;
  while (Math.ceil(D / 4 / lanes) > MAX_LANE_VEC4S) lanes *= 2;
  return lanes;
}

/** Tile sizes of one pass: `rows` query rows and `keys` keys; one of them is the workgroup size. */
export interface AttentionTile {
  rows: number;
  keys: number;
  workgroupBytes: number;
}

/**
 * Tiles of the row route, the same for every head dim. fwd and dq: 64 threads own 64 query rows and
 * stage no keys (keys: 0); dkdv: 64 threads own 64 keys and stage no rows (rows: 0). On a CPU adapter each
 * thread reads what it needs from storage, the same memory a staged tile would be: staging only added
 * barriers (dkdv's staged rows were ~1.4x slower at aidreams260K's shape, bench/README.md).
 */
export function attentionTiles(): { forward: AttentionTile; keyGradients: AttentionTile } {
  return {
    forward: { rows: THREADS, keys: 0, workgroupBytes: 0 },
    keyGradients: { rows: 0, keys: THREADS, workgroupBytes: 0 },
  };
}

/** Shapes of the scratch tensors the backward needs, for the caller to allocate once. */
export function attentionScratchShapes({ B, H, T }: Pick<AttentionDims, 'B' | 'H' | 'T'>): { stats: number[] } {
  return { stats: [B, H, T, 2] };
}

/** Checks q, k, v, segments and scale; returns the dimensions. Throws before anything is encoded. */
export function checkAttentionInputs(ctx: Pick<GpuContext, 'device' | 'info'>, inputs: AttentionInputs): AttentionDims {
  const { device } = ctx;
  const { q, k, v, segments, scale, keyLength, window } = inputs;
  expectRank(OP, q, 4, 'B, T, H, D');
  expectRank(OP, k, 4, 'B, Tk, Hkv, D');
  const [B, T, H, D] = q.shape as [number, number, number, number];
  const [, Tk, Hkv] = k.shape as [number, number, number, number];
  expectShape(OP, k, [B, Tk, Hkv, D], 'B, Tk, Hkv, D');
  expectShape(OP, v, [B, Tk, Hkv, D], 'B, Tk, Hkv, D');
  for (const tensor of [q, k, v]) expectDType(OP, tensor, ['f32']);
  if (H % Hkv !== 0) {
    throw new ShapeError(`${OP}: H=${H} query heads cannot share Hkv=${Hkv} kv heads: H must be a multiple of Hkv`, { op: OP, H, Hkv });
  }
  if (Tk < T) {
    throw new ShapeError(`${OP}: tensor "${k.name}" has Tk=${Tk} keys, fewer than the T=${T} queries that must see themselves`, { op: OP, T, Tk });
  }
  if (keyLength !== undefined && !(Number.isInteger(keyLength) && keyLength >= T && keyLength <= Tk)) {
    throw new ShapeError(`${OP}: keyLength=${keyLength} must be an integer from T=${T} to Tk=${Tk}`, { op: OP, keyLength, T, Tk });
  }
  if (D % 4 !== 0 || D > MAX_HEAD_DIM) {
    throw new ShapeError(`${OP}: head dim D=${D} must be a multiple of 4 and at most ${MAX_HEAD_DIM}`, { op: OP, D, max: MAX_HEAD_DIM });
  }
  if (segments) {
    expectIndexTensor(OP, device, segments, 'u32', [B, Tk], 'B, Tk');
  } else if (inputs.segmentBits) {
    throw new ShapeError(`${OP}: segmentBits asks to read segment bit sets, but no segments tensor is given`, { op: OP });
  }
  if (scale !== undefined && !Number.isFinite(scale)) {
    throw new ShapeError(`${OP}: scale must be a finite number, got ${scale}`, { op: OP, scale });
  }
  if (window !== undefined && !(Number.isSafeInteger(window) && window >= 1)) {
    throw new ShapeError(`${OP}: sliding window must be a positive integer number of positions, got ${window}`, { op: OP, window });
  }
  for (const tensor of [q, k, v, segments]) if (tensor) expectBindable(OP, device, tensor);
  const dims = { B, T, Tk, H, Hkv, D, keyLength: keyLength ?? Tk, window: window ?? 0 };
  const route = attentionRoute(ctx, D);
  expectWorkgroups(OP, device, rowGrid(dims, route));
  expectWorkgroups(OP, device, keyGrid(dims, route));
  expectWorkgroups(OP, device, statsGrid(dims));
  return dims;
}

function checkSaved(device: GPUDevice, { B, T, H, D }: AttentionDims, { o, logsumexp }: AttentionSaved): void {
  expectShape(OP, o, [B, T, H, D], 'B, T, H, D');
  expectShape(OP, logsumexp, [B, H, T], 'B, H, T');
  for (const tensor of [o, logsumexp]) {
    expectDType(OP, tensor, ['f32']);
    expectBindable(OP, device, tensor);
  }
}

/**
 * Encodes O = softmax(scale·q·kᵀ, causal and segment masked)·v and the logsumexp L into `encoder`
 * (one dispatch). Validates first; allocates nothing.
 */
export function encodeAttentionForward(ctx: GpuContext, encoder: GPUCommandEncoder, inputs: AttentionInputs, saved: AttentionSaved): void {
  const { device } = ctx;
  const dims = checkAttentionInputs(ctx, inputs);
  checkSaved(device, dims, saved);
  const route = attentionRoute(ctx, dims.D);
  const pipeline = getPipeline(ctx, dims.D, entryPoint('attention_fwd', route), constants(dims, route, attentionTiles().forward));
  const pass = encoder.beginComputePass({ label: `${OP} forward` });
  pass.setPipeline(pipeline);
  pass.setBindGroup(
    0,
    bindGroup(device, pipeline, [...inputBindings(ctx, dims, inputs), [5, saved.o.buffer], [6, saved.logsumexp.buffer]]),
  );
  pass.dispatchWorkgroups(...rowGrid(dims, route));
  pass.end();
}

/**
 * Encodes the backward of encodeAttentionForward given dO: three dispatches (per-row statistics,
 * dq over query rows, dk and dv over keys), recomputing the probabilities from q, k and L.
 * ACCUMULATES into `gradients` (the caller clears them). Validates first; allocates nothing.
 */
export function encodeAttentionBackward(
  ctx: GpuContext,
  encoder: GPUCommandEncoder,
  inputs: AttentionInputs,
  saved: AttentionSaved,
  dO: GpuTensor,
  gradients: AttentionGradients,
  scratch: AttentionScratch,
): void {
  const { device } = ctx;
  if (inputs.segmentBits) {
    throw new ShapeError(`${OP}: the backward has no segment bit sets (segmentBits); it is a forward-only mask for evaluation's candidate trees`, { op: OP });
  }
  const dims = checkAttentionInputs(ctx, inputs);
  checkSaved(device, dims, saved);
  const { B, T, Tk, H, Hkv, D } = dims;
  const route = attentionRoute(ctx, D);
  expectShape(OP, dO, [B, T, H, D], 'B, T, H, D');
  expectShape(OP, gradients.dq, [B, T, H, D], 'B, T, H, D');
  expectShape(OP, gradients.dk, [B, Tk, Hkv, D], 'B, Tk, Hkv, D');
  expectShape(OP, gradients.dv, [B, Tk, Hkv, D], 'B, Tk, Hkv, D');
  expectShape(OP, scratch.stats, attentionScratchShapes(dims).stats, 'B, H, T, 2');
  for (const tensor of [dO, gradients.dq, gradients.dk, gradients.dv, scratch.stats]) {
    expectDType(OP, tensor, ['f32']);
    expectBindable(OP, device, tensor);
  }

  const tiles = attentionTiles();
  const inputsBound = inputBindings(ctx, dims, inputs);
  const pass = encoder.beginComputePass({ label: `${OP} backward` });

  const stats = getPipeline(ctx, D, 'attention_bwd_stats', { HEAD_DIM: D, LANES: route.kind === 'lanes' ? route.lanes : 1 });
  pass.setPipeline(stats);
  pass.setBindGroup(
    0,
    bindGroup(device, stats, [
      [0, dimsBuffer(ctx, dims, inputs)],
      [7, saved.o.buffer],
      [8, dO.buffer],
      [9, saved.logsumexp.buffer],
      [10, scratch.stats.buffer],
    ]),
  );
  pass.dispatchWorkgroups(...statsGrid(dims));

  const dq = getPipeline(ctx, D, entryPoint('attention_bwd_dq', route), constants(dims, route, tiles.forward));
  pass.setPipeline(dq);
  pass.setBindGroup(0, bindGroup(device, dq, [...inputsBound, [8, dO.buffer], [11, scratch.stats.buffer], [12, gradients.dq.buffer]]));
  pass.dispatchWorkgroups(...rowGrid(dims, route));

  const dkdv = getPipeline(ctx, D, entryPoint('attention_bwd_dkdv', route), constants(dims, route, tiles.keyGradients));
  pass.setPipeline(dkdv);
  pass.setBindGroup(
    0,
    bindGroup(device, dkdv, [
      ...inputsBound,
      [8, dO.buffer],
      [11, scratch.stats.buffer],
      [13, gradients.dk.buffer],
      [14, gradients.dv.buffer],
    ]),
  );
  pass.dispatchWorkgroups(...keyGrid(dims, route));
  pass.end();
}

/** Convenience for one-off calls: allocates o and L, encodes, submits. */
export function attentionForward(ctx: GpuContext, inputs: AttentionInputs): AttentionSaved {
  const [B, T, H, D] = inputs.q.shape as [number, number, number, number];
  const saved = {
    o: createTensor(ctx.device, 'attention:o', [B, T, H, D], 'f32'),
    logsumexp: createTensor(ctx.device, 'attention:L', [B, H, T], 'f32'),
  };
  try {
    const encoder = ctx.device.createCommandEncoder({ label: `${OP} forward` });
    encodeAttentionForward(ctx, encoder, inputs, saved);
    ctx.device.queue.submit([encoder.finish()]);
  } catch (error) {
    saved.o.buffer.destroy();
    saved.logsumexp.buffer.destroy();
    throw error;
  }
  return saved;
}

/** Convenience for one-off calls: allocates zeroed gradients and the scratch, encodes, submits. */
export function attentionBackward(ctx: GpuContext, inputs: AttentionInputs, saved: AttentionSaved, dO: GpuTensor): AttentionGradients {
  const gradients = {
    dq: createTensor(ctx.device, 'attention:dq', inputs.q.shape, 'f32'),
    dk: createTensor(ctx.device, 'attention:dk', inputs.k.shape, 'f32'),
    dv: createTensor(ctx.device, 'attention:dv', inputs.v.shape, 'f32'),
  };
  const [B, T, H] = inputs.q.shape as [number, number, number, number];
  const shapes = attentionScratchShapes({ B, T, H });
  const scratch = { stats: createTensor(ctx.device, 'attention:stats', shapes.stats, 'f32') };
  try {
    const encoder = ctx.device.createCommandEncoder({ label: `${OP} backward` });
    encodeAttentionBackward(ctx, encoder, inputs, saved, dO, gradients, scratch);
    ctx.device.queue.submit([encoder.finish()]);
  } catch (error) {
    for (const tensor of Object.values(gradients)) tensor.buffer.destroy();
    throw error;
  } finally {
    // Destroying after submit is safe: the queued work keeps using the memory until it completes.
    scratch.stats.buffer.destroy();
  }
  return gradients;
}

function dimsBuffer(ctx: GpuContext, dims: AttentionDims, inputs: AttentionInputs): GPUBuffer {
  const scale = inputs.scale ?? 1 / Math.sqrt(dims.D);
  return ctx.uniforms.get(`${OP}:dims`, dimsUniform(dims, scale, segmentMode(inputs)));
}

function inputBindings(ctx: GpuContext, dims: AttentionDims, inputs: AttentionInputs): [number, GPUBuffer][] {
  // The segments binding must exist even when the shader, told there are none, never reads it.
  return [
    [0, dimsBuffer(ctx, dims, inputs)],
    [1, inputs.q.buffer],
    [2, inputs.k.buffer],
    [3, inputs.v.buffer],
    [4, inputs.segments?.buffer ?? ctx.placeholder],
  ];
}

/** A pipeline of the attention module for head dim D: shaders/attention.wgsl after D's registers prelude. */
function getPipeline(ctx: GpuContext, D: number, entry: string, overrides: Record<string, number>): GPUComputePipeline {
  return ctx.pipelines.get(`${OP}:D${D}`, headRegistersPrelude(D) + shaderCode, entry, overrides);
}

/**
 * WGSL put in front of shaders/attention.wgsl: `HeadRegisters`, a head vector of D floats as D / 4 vec4
 * fields, and the helpers the row route's passes use on it (fwd and dq: load a query or dO, dot with a key or
 * value, scale, add a weighted value or key, store an output, add into dq; dkdv: load a key or value, dot
 * with a scaled query row or a dO row, add a weighted one, add into dk and dv), written out field by field.
 * Every index is static, so SwiftShader
 * keeps the fields in registers; the loops over a private array's vec4s, whose index it cannot resolve
 * at compile time, went through memory and took 2-3x as long at D = 16 (bench/README.md).
 */
export function headRegistersPrelude(D: number): string {
  const fields = Array.from({ length: D / 4 }, (_, c) => c);
  const each = (term: (c: number) => string, separator: string) => fields.map(term).join(separator);
  return [
    `// head registers prelude (app/gpu/ops/attention.ts): D = ${D} as ${D / 4} vec4 fields`,
    `struct HeadRegisters {\n${each((c) => `  c${c}: vec4<f32>,`, '\n')}\n}`,
    `fn registers_zero() -> HeadRegisters {\n  return HeadRegisters(${each(() => 'vec4<f32>(0.0)', ', ')});\n}`,
    `fn registers_load_query(base: u32, scale: f32) -> HeadRegisters {\n  return HeadRegisters(${each((c) => `q[base + ${c}u] * scale`, ', ')});\n}`,
    `fn registers_dot_key(x: HeadRegisters, base: u32) -> f32 {\n  return ${each((c) => `dot(x.c${c}, k[base + ${c}u])`, ' + ')};\n}`,
    `fn registers_scaled(x: HeadRegisters, scale: f32) -> HeadRegisters {\n  return HeadRegisters(${each((c) => `x.c${c} * scale`, ', ')});\n}`,
    `fn registers_add_value(x: HeadRegisters, p: f32, base: u32) -> HeadRegisters {\n  return HeadRegisters(${each((c) => `x.c${c} + p * v[base + ${c}u]`, ', ')});\n}`,
    `fn registers_store_output(x: HeadRegisters, base: u32) {\n${each((c) => `  o[base + ${c}u] = x.c${c};`, '\n')}\n}`,
    `fn registers_load_grad_out(base: u32) -> HeadRegisters {\n  return HeadRegisters(${each((c) => `d_o[base + ${c}u]`, ', ')});\n}`,
    `fn registers_dot_value(x: HeadRegisters, base: u32) -> f32 {\n  return ${each((c) => `dot(x.c${c}, v[base + ${c}u])`, ' + ')};\n}`,
    `fn registers_add_key(x: HeadRegisters, ds: f32, base: u32) -> HeadRegisters {\n  return HeadRegisters(${each((c) => `x.c${c} + ds * k[base + ${c}u]`, ', ')});\n}`,
    `fn registers_add_to_dq(x: HeadRegisters, scale: f32, base: u32) {\n${each((c) => `  dq[base + ${c}u] += x.c${c} * scale;`, '\n')}\n}`,
    `fn registers_load_key(base: u32) -> HeadRegisters {\n  return HeadRegisters(${each((c) => `k[base + ${c}u]`, ', ')});\n}`,
    `fn registers_load_value(base: u32) -> HeadRegisters {\n  return HeadRegisters(${each((c) => `v[base + ${c}u]`, ', ')});\n}`,
    `fn registers_dot_scaled_query(x: HeadRegisters, base: u32, scale: f32) -> f32 {\n  return ${each((c) => `dot(x.c${c}, q[base + ${c}u] * scale)`, ' + ')};\n}`,
    `fn registers_add_scaled_query(x: HeadRegisters, ds: f32, base: u32, scale: f32) -> HeadRegisters {\n  return HeadRegisters(${each((c) => `x.c${c} + ds * (q[base + ${c}u] * scale)`, ', ')});\n}`,
    `fn registers_dot_grad_out(x: HeadRegisters, base: u32) -> f32 {\n  return ${each((c) => `dot(x.c${c}, d_o[base + ${c}u])`, ' + ')};\n}`,
    `fn registers_add_grad_out(x: HeadRegisters, p: f32, base: u32) -> HeadRegisters {\n  return HeadRegisters(${each((c) => `x.c${c} + p * d_o[base + ${c}u]`, ', ')});\n}`,
    `fn registers_add_to_key_grads(dk_acc: HeadRegisters, dv_acc: HeadRegisters, dk_scale: f32, base: u32) {\n${each((c) => `  dk[base + ${c}u] += dk_acc.c${c} * dk_scale;\n  dv[base + ${c}u] += dv_acc.c${c};`, '\n')}\n}`,
    '',
  ].join('\n\n');
}

function entryPoint(name: string, route: AttentionRoute): string {
  return route.kind === 'lanes' ? `${name}_lanes` : name;
}

/** Override constants of a pass: the head dim, and on the row route its workgroup size (BLOCK_ROWS rows for fwd and dq, BLOCK_KEYS keys for dkdv). */
function constants({ D }: AttentionDims, route: AttentionRoute, tile: AttentionTile): Record<string, number> {
  if (route.kind === 'lanes') return { HEAD_DIM: D, LANES: route.lanes };
  return tile.rows > 0 ? { HEAD_DIM: D, BLOCK_ROWS: tile.rows } : { HEAD_DIM: D, BLOCK_KEYS: tile.keys };
}

/** Rows (rows route) or keys (dkdv) one workgroup owns. */
function itemsPerWorkgroup(route: AttentionRoute, tile: number): number {
  return route.kind === 'lanes' ? LANE_THREADS / route.lanes : tile;
}

/** fwd and dq: workgroups over the T·G rows of each kv head. */
function rowGrid({ B, T, H, Hkv }: AttentionDims, route: AttentionRoute): [number, number, number] {
  return [Math.ceil((T * (H / Hkv)) / itemsPerWorkgroup(route, attentionTiles().forward.rows)), Hkv, B];
}

/** dkdv: workgroups over the keys in use of each kv head. */
function keyGrid({ B, Hkv, keyLength }: AttentionDims, route: AttentionRoute): [number, number, number] {
  return [Math.ceil(keyLength / itemsPerWorkgroup(route, attentionTiles().keyGradients.keys)), Hkv, B];
}

function statsGrid({ B, T, H }: AttentionDims): [number, number, number] {
  return [Math.ceil(T / STATS_WORKGROUP), H, B];
}

/** The shader's `segmented`: 0 without segments, 1 for segment ids, 2 for segment bit sets. */
function segmentMode({ segments, segmentBits }: AttentionInputs): number {
  if (!segments) return 0;
  return segmentBits ? 2 : 1;
}

function dimsUniform({ B, T, Tk, keyLength, H, Hkv, window }: AttentionDims, scale: number, segmented: number): ArrayBuffer {
  return packUniforms([
    ['u32', B],
    ['u32', T],
    ['u32', Tk],
    ['u32', keyLength],
    ['u32', H],
    ['u32', Hkv],
    ['f32', scale],
    ['u32', segmented],
    ['u32', window],
  ]);
}

