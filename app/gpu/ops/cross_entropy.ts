import shaderCode from '../../../shaders/cross_entropy.wgsl?raw';
import type { GpuContext } from '../device.ts';
import { LimitError, ShapeError } from '../errors.ts';
import { createIndexTensor, createTensor, readTensor, type GpuTensor } from '../tensor.ts';
import { bindGroup, packUniforms } from './encode.ts';
import { expectBindable, expectDType, expectIndexTensor, expectRank, expectShape, expectWorkgroups } from './checks.ts';
import { kernelFamily } from '../kernel-family.ts';
import { hasWeightPrelude } from '../wgsl.ts';
import { cpuFamilyRoute, dispatchProduct, matmulTarget, type MatmulLayout, type MatmulRoute, type ProductCall } from './matmul.ts';
import { GEMM_WORKGROUP_BYTES, gemmWorkgroups, gemvKernel, GEMV_MAX_ROWS, GPU_KERNEL_INVOCATIONS } from './matmul_gpu.ts';

const OP = 'cross_entropy';

/** Hugging Face's label for positions that carry no loss. */
export const IGNORE_INDEX = -100;

/** Scratch for one chunk of logits when the caller names no budget: 64 MiB (341 rows at V = 49,152). */
export const DEFAULT_SCRATCH_BYTES = 64 * 1024 * 1024;

export interface CrossEntropyInputs {
  /** Final hidden states after the last norm, [BT, C] f32. */
  x: GpuTensor;
  /**
   * The LM head [V, C] (f32, bf16 or f16; tied to the embedding or not), or its vocab shards [V_i, C]
   * in order when one binding cannot hold it (a 151,936 × 896 bf16 head is 272 MB).
   */
  w: GpuTensor | readonly GpuTensor[];
  /** Targets [BT] i32, IGNORE_INDEX for no loss. Label t is the target of position t: the caller shifts. */
  labels: GpuTensor;
  /** Final-logit soft-cap (Gemma's final_logit_softcapping): the loss sees cap·tanh(logit / cap). Null or absent: none. */
  softcap?: number | null;
}

export interface CrossEntropyOutputs {
  /** [3] f32, ACCUMULATED: loss sum, labelled rows, labels that are neither IGNORE_INDEX nor in [0, V). */
  stats: GpuTensor;
  /** [BT] f32, written: −log softmax(logits)[label] per row, 0 where ignored (label scoring reads it). */
  rowLoss: GpuTensor;
  /**
   * Leave out for the loss alone (evaluation). dX [BT, C] f32 is ACCUMULATED with
   * dlogits = (softmax − onehot)·gradScale; gradScale = 1 / (labelled positions of the whole step).
   */
  backward?: { dx: GpuTensor; gradScale: number };
}

interface Shard {
  tensor: GpuTensor;
  v0: number;
  Vs: number;
}

export interface CrossEntropyDims {
  BT: number;
  C: number;
  V: number;
  /** Rows per chunk: the scratch's first dimension, at most BT. */
  chunkRows: number;
}

/**
 * Rows per chunk for a scratch of [rows, V] f32 within `budgetBytes` and the device's binding and
 * buffer limits; allocate the scratch with this many rows.
 */
export function crossEntropyChunkRows(
  device: { readonly limits: Pick<GPUSupportedLimits, 'maxStorageBufferBindingSize' | 'maxBufferSize' | 'maxComputeWorkgroupsPerDimension'> },
  BT: number,
  V: number,
  budgetBytes = DEFAULT_SCRATCH_BYTES,
): number {
  const { maxStorageBufferBindingSize, maxBufferSize, maxComputeWorkgroupsPerDimension } = device.limits;
  const bytes = Math.min(budgetBytes, maxStorageBufferBindingSize, maxBufferSize);
  const rows = Math.floor(bytes / (V * 4));
  if (rows < 1) {
    throw new LimitError(
      `${OP}: one row of logits needs ${V * 4} bytes (V = ${V}), over the scratch budget of ${bytes} bytes ` +
        `(the smallest of the budget, maxStorageBufferBindingSize and maxBufferSize)`,
      { op: OP, V, bytes, limit: 'maxStorageBufferBindingSize' },
    );
  }
  return Math.min(BT, rows, maxComputeWorkgroupsPerDimension);
}

function lmHeadShards(w: GpuTensor | readonly GpuTensor[], C: number): Shard[] {
  const tensors = Array.isArray(w) ? (w as readonly GpuTensor[]) : [w as GpuTensor];
  if (tensors.length === 0) throw new ShapeError(`${OP}: the LM head has no shards`, { op: OP });
  const shards: Shard[] = [];
  let v0 = 0;
  for (const tensor of tensors) {
    expectRank(OP, tensor, 2, 'V, C');
    expectShape(OP, tensor, [tensor.shape[0]!, C], 'V, C');
    expectDType(OP, tensor, ['f32', 'bf16', 'f16']);
    if (tensor.dtype !== tensors[0]!.dtype) {
      throw new ShapeError(`${OP}: LM head shard "${tensor.name}" is ${tensor.dtype}, shard "${tensors[0]!.name}" is ${tensors[0]!.dtype}; shards share one dtype`, {
        op: OP,
        tensor: tensor.name,
      });
    }
    shards.push({ tensor, v0, Vs: tensor.shape[0]! });
    v0 += tensor.shape[0]!;
  }
  return shards;
}

function checkGridLimits(device: GPUDevice, shards: readonly Shard[], rows: number, C: number, backward: boolean): void {
  for (const { Vs } of shards) expectWorkgroups(OP, device, [Math.ceil(Vs / 32), Math.ceil(rows / 32)]);
  expectWorkgroups(OP, device, [rows]);
  if (backward) expectWorkgroups(OP, device, [Math.ceil(C / 32), Math.ceil(rows / 32)]);
}

function checkSoftcap(softcap: number | null | undefined): void {
  if (softcap === undefined || softcap === null) return;
  if (!Number.isFinite(softcap) || softcap <= 0) throw new ShapeError(`${OP}: softcap must be a positive finite number or null, got ${softcap}`, { op: OP, softcap });
}

/** The SOFTCAP override: 0 means no cap. */
const softcapConstant = (softcap: number | null | undefined): number => softcap ?? 0;

/** Checks every shape, dtype and limit; returns the dimensions. Throws before anything is encoded. */
export function checkCrossEntropy(device: GPUDevice, inputs: CrossEntropyInputs, outputs: CrossEntropyOutputs, scratch: GpuTensor): CrossEntropyDims & { shards: Shard[] } {
  const { x, labels } = inputs;
  expectRank(OP, x, 2, 'BT, C');
  expectDType(OP, x, ['f32']);
  const [BT, C] = x.shape as [number, number];
  const shards = lmHeadShards(inputs.w, C);
  const V = shards.reduce((sum, shard) => sum + shard.Vs, 0);
  expectIndexTensor(OP, device, labels, 'i32', [BT], 'BT');
  expectShape(OP, outputs.stats, [3], '3');
  expectShape(OP, outputs.rowLoss, [BT], 'BT');
  expectRank(OP, scratch, 2, 'chunk rows, V');
  expectShape(OP, scratch, [scratch.shape[0]!, V], 'chunk rows, V');
  checkSoftcap(inputs.softcap);
  const { backward } = outputs;
  if (backward) {
    expectShape(OP, backward.dx, [BT, C], 'BT, C');
    if (!Number.isFinite(backward.gradScale)) {
      throw new ShapeError(`${OP}: gradScale must be a finite number, got ${backward.gradScale}`, { op: OP, gradScale: backward.gradScale });
    }
  }
  for (const tensor of [outputs.stats, outputs.rowLoss, scratch, backward?.dx]) if (tensor) expectDType(OP, tensor, ['f32']);
  for (const tensor of [x, outputs.stats, outputs.rowLoss, scratch, backward?.dx, ...shards.map((s) => s.tensor)]) {
    if (tensor) expectBindable(OP, device, tensor);
  }
  const chunkRows = Math.min(scratch.shape[0]!, BT);
  checkGridLimits(device, shards, chunkRows, C, backward !== undefined);
  return { BT, C, V, chunkRows, shards };
}

/**
 * Whether the LM head's two products (logits = x·Wᵀ, dX += dlogits·W) run on the GPU family's GEMM core
 * (shaders/matmul_gpu.wgsl, the kernel of matmul's 'gemm' route) rather than the CPU family's core
 * (shaders/matmul.wgsl's tiled and skinny kernels): on a context of the 'gpu' family
 * (app/gpu/kernel-family.ts) whose device has the core's workgroup memory and size, when C, V and every
 * shard's rows and start are multiples of 4 (its vec4 loads). The CPU family's core takes any shape.
 */
export function lmHeadOnGemmCore(ctx: Pick<GpuContext, 'info'>, C: number, shards: readonly Pick<Shard, 'v0' | 'Vs' | 'tensor'>[]): boolean {
  if (kernelFamily(ctx) !== 'gpu') return false;
  const target = matmulTarget(ctx);
  if (target.maxWorkgroupStorageBytes < GEMM_WORKGROUP_BYTES || target.maxInvocationsPerWorkgroup < GPU_KERNEL_INVOCATIONS) return false;
  const V = shards.reduce((sum, shard) => sum + shard.Vs, 0);
  return C % 4 === 0 && V % 4 === 0 && shards.every((shard) => shard.v0 % 4 === 0 && shard.Vs % 4 === 0 && hasWeightPrelude(shard.tensor.dtype));
}

/**
 * The route of one LM-head product OUT[rows, cols] over `inner`: the GPU family's gemm (gemv for a few
 * gathered rows) where lmHeadOnGemmCore says so, else the CPU family's tiled or skinny kernel.
 */
function lmHeadRoute(ctx: GpuContext, onGemmCore: boolean, layout: MatmulLayout, rows: number, cols: number, inner: number, gathered = false): MatmulRoute {
  if (!onGemmCore) return cpuFamilyRoute(rows, cols, inner, matmulTarget(ctx));
  const kernel = layout === 'nt' && gathered && rows <= GEMV_MAX_ROWS ? gemvKernel(ctx) : 'gemm';
  return { kernel, split: 1, workgroups: gemmWorkgroups(kernel, rows, cols, ctx.info.limits.maxComputeWorkgroupsPerDimension ?? 65535) };
}

/** One LM-head product on its route (see lmHeadRoute), in an open pass. */
function dispatchLmHead(ctx: GpuContext, pass: GPUComputePassEncoder, onGemmCore: boolean, call: Omit<ProductCall, 'route' | 'accumulate' | 'scale'> & { accumulate: boolean }): void {
  dispatchProduct(ctx, pass, { ...call, scale: 1, route: lmHeadRoute(ctx, onGemmCore, call.layout, call.rows, call.cols, call.inner, call.lhs.gather !== undefined) });
}

/**
 * Encodes the fused LM head + cross-entropy into `encoder`: for each chunk of `scratch.shape[0]` rows,
 * logits into the scratch, softmax / row loss / dlogits in place, then dX += dlogits·W; finally the
 * loss sum and label counts are added to `stats`. Validates first. Nothing is allocated but bind groups.
 */
export function encodeCrossEntropy(
  ctx: GpuContext,
  encoder: GPUCommandEncoder,
  inputs: CrossEntropyInputs,
  outputs: CrossEntropyOutputs,
  scratch: GpuTensor,
): void {
  const { device } = ctx;
  const { BT, C, V, chunkRows, shards } = checkCrossEntropy(device, inputs, outputs, scratch);
  const { backward } = outputs;
  const gradScale = backward?.gradScale ?? 0;
  const constants = { BACKWARD: backward ? 1 : 0 };
  const softmaxPipeline = ctx.pipelines.get(OP, shaderCode, 'softmax_xent', { ...constants, SOFTCAP: softcapConstant(inputs.softcap) });
  const reducePipeline = ctx.pipelines.get(OP, shaderCode, 'reduce_stats', constants);
  const uniform = (rows: number, row0: number): GPUBuffer => ctx.uniforms.get(`${OP}:dims`, dimsUniform({ rows, row0, BT, V, gradScale }));

  const onGemmCore = lmHeadOnGemmCore(ctx, C, shards);
  const pass = encoder.beginComputePass({ label: OP });
  for (let row0 = 0; row0 < BT; row0 += chunkRows) {
    const rows = Math.min(chunkRows, BT - row0);
    for (const shard of shards) {
      // The shard's logits are columns v0 .. v0+Vs of the [rows, V] scratch.
      dispatchLmHead(ctx, pass, onGemmCore, {
        layout: 'nt',
        rows,
        cols: shard.Vs,
        inner: C,
        lhs: { buffer: inputs.x.buffer, stride: C, offset: row0 * C },
        rhs: shard.tensor,
        out: { buffer: scratch.buffer, stride: V, offset: shard.v0 },
        accumulate: false,
      });
    }
    pass.setPipeline(softmaxPipeline);
    pass.setBindGroup(
      0,
      bindGroup(device, softmaxPipeline, [
        [0, uniform(rows, row0)],
        [3, scratch.buffer],
        [4, inputs.labels.buffer],
        [5, outputs.rowLoss.buffer],
      ]),
    );
    pass.dispatchWorkgroups(rows);
    if (backward) {
      for (const shard of shards) {
        // dX[row0 .., :] += dlogits[:, v0 .. v0+Vs]·W_shard: the scratch now holds dlogits.
        dispatchLmHead(ctx, pass, onGemmCore, {
          layout: 'nn',
          rows,
          cols: C,
          inner: shard.Vs,
          lhs: { buffer: scratch.buffer, stride: V, offset: shard.v0 },
          rhs: shard.tensor,
          out: { buffer: backward.dx.buffer, stride: C, offset: row0 * C },
          accumulate: true,
        });
      }
    }
  }
  pass.setPipeline(reducePipeline);
  pass.setBindGroup(
    0,
    bindGroup(device, reducePipeline, [
      [0, uniform(BT, 0)],
      [4, inputs.labels.buffer],
      [5, outputs.rowLoss.buffer],
      [7, outputs.stats.buffer],
    ]),
  );
  pass.dispatchWorkgroups(1);
  pass.end();
}

export interface SelectedLogitsInputs {
  /** Hidden states [BT, C] f32. */
  x: GpuTensor;
  /** The LM head [V, C] or its vocab shards, as for encodeCrossEntropy. */
  w: GpuTensor | readonly GpuTensor[];
  /** Rows of x to project, [P] i32, each in [0, BT) (out-of-range indices are clamped into x). */
  rows: GpuTensor;
  /** Final-logit soft-cap, as for encodeCrossEntropy: the logits written are cap·tanh(logit / cap). */
  softcap?: number | null;
}

/** Checks the selected-logits call; returns P and the shards. Throws before anything is encoded. */
export function checkSelectedLogits(device: GPUDevice, inputs: SelectedLogitsInputs, logits: GpuTensor): { P: number; shards: Shard[] } {
  const { x, rows } = inputs;
  expectRank(OP, x, 2, 'BT, C');
  expectDType(OP, x, ['f32']);
  const C = x.shape[1]!;
  const shards = lmHeadShards(inputs.w, C);
  const V = shards.reduce((sum, shard) => sum + shard.Vs, 0);
  expectRank(OP, rows, 1, 'P');
  expectDType(OP, rows, ['i32']);
  const P = rows.shape[0]!;
  expectShape(OP, logits, [P, V], 'P, V');
  expectDType(OP, logits, ['f32']);
  checkSoftcap(inputs.softcap);
  for (const tensor of [x, rows, logits, ...shards.map((s) => s.tensor)]) expectBindable(OP, device, tensor);
  for (const { Vs } of shards) expectWorkgroups(OP, device, [Math.ceil(Vs / 32), Math.ceil(P / 32)]);
  if (inputs.softcap) expectWorkgroups(OP, device, [Math.ceil(V / 256), P]);
  return { P, shards };
}

/**
 * Encodes logits[p, :] = x[rows[p], :]·Wᵀ into `logits` [P, V] (soft-capped when `softcap` is set): the last
 * position of each sequence in generation, label words in scoring.
 */
export function encodeSelectedLogits(ctx: GpuContext, encoder: GPUCommandEncoder, inputs: SelectedLogitsInputs, logits: GpuTensor): void {
  const { device } = ctx;
  const { P, shards } = checkSelectedLogits(device, inputs, logits);
  const [BT, C] = inputs.x.shape as [number, number];
  const V = logits.shape[1]!;
  const onGemmCore = lmHeadOnGemmCore(ctx, C, shards);
  const pass = encoder.beginComputePass({ label: `${OP}:selected` });
  for (const shard of shards) {
    // Decoding (P <= 8) takes the GPU core's gemv (by subgroups where the device has them), larger batches its gemm (or the CPU core's kernels); all read x through the gathered rows.
    dispatchLmHead(ctx, pass, onGemmCore, {
      layout: 'nt',
      rows: P,
      cols: shard.Vs,
      inner: C,
      lhs: { buffer: inputs.x.buffer, stride: C, offset: 0, gather: inputs.rows.buffer },
      rhs: shard.tensor,
      out: { buffer: logits.buffer, stride: V, offset: shard.v0 },
      accumulate: false,
    });
  }
  if (inputs.softcap) {
    // After every shard's logits: the cap applies to the whole row in place.
    const capPipeline = ctx.pipelines.get(OP, shaderCode, 'softcap_logits', { BACKWARD: 0, SOFTCAP: inputs.softcap });
    pass.setPipeline(capPipeline);
    pass.setBindGroup(
      0,
      bindGroup(device, capPipeline, [
        [0, ctx.uniforms.get(`${OP}:dims`, dimsUniform({ rows: P, row0: 0, BT, V, gradScale: 0 }))],
        [3, logits.buffer],
      ]),
    );
    pass.dispatchWorkgroups(Math.ceil(V / 256), P);
  }
  pass.end();
}

export interface CrossEntropyStats {
  lossSum: number;
  labelCount: number;
  /** Labels that are neither IGNORE_INDEX nor a token id: a data bug the trainer must report. */
  invalidLabels: number;
}

export async function readCrossEntropyStats(device: GPUDevice, stats: GpuTensor): Promise<CrossEntropyStats> {
  return crossEntropyStatsOf(await readTensor(device, stats));
}

/** The stats from their three words as read back. */
export function crossEntropyStatsOf(words: Float32Array): CrossEntropyStats {
  const [lossSum, labelCount, invalidLabels] = words;
  return { lossSum: lossSum!, labelCount: labelCount!, invalidLabels: invalidLabels! };
}

/** Labelled positions of a micro-batch: the step's gradScale is 1 / (the sum of these over the step). */
export function countLabels(labels: ArrayLike<number>, V: number): number {
  let count = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i]! >= 0 && labels[i]! < V) count++;
  return count;
}

/**
 * One-shot convenience (tests, scoring): allocates zeroed outputs and a scratch of `chunkRows` rows,
 * encodes, submits. With `gradScale` it also computes dX. The caller destroys the returned tensors.
 */
export function crossEntropy(
  ctx: GpuContext,
  inputs: CrossEntropyInputs,
  options: { gradScale?: number; chunkRows?: number } = {},
): { stats: GpuTensor; rowLoss: GpuTensor; dx?: GpuTensor } {
  const [BT, C] = inputs.x.shape as [number, number];
  const shards = Array.isArray(inputs.w) ? (inputs.w as readonly GpuTensor[]) : [inputs.w as GpuTensor];
  const V = shards.reduce((sum, shard) => sum + (shard.shape[0] ?? 0), 0);
  const chunkRows = options.chunkRows ?? crossEntropyChunkRows(ctx.device, BT, V);
  const stats = createTensor(ctx.device, 'loss stats', [3], 'f32');
  const rowLoss = createTensor(ctx.device, 'row loss', [BT], 'f32');
  const dx = options.gradScale === undefined ? undefined : createTensor(ctx.device, 'dX', [BT, C], 'f32');
  const scratch = createTensor(ctx.device, `${OP}:logits chunk`, [chunkRows, V], 'f32');
  try {
    const encoder = ctx.device.createCommandEncoder({ label: OP });
    const backward = dx ? { dx, gradScale: options.gradScale! } : undefined;
    encodeCrossEntropy(ctx, encoder, inputs, { stats, rowLoss, ...(backward ? { backward } : {}) }, scratch);
    ctx.device.queue.submit([encoder.finish()]);
  } catch (error) {
    for (const tensor of [stats, rowLoss, dx]) tensor?.buffer.destroy();
    throw error;
  } finally {
    scratch.buffer.destroy();
  }
  return { stats, rowLoss, ...(dx ? { dx } : {}) };
}

/** One-shot selected logits with indices known on the CPU, which are checked against BT first. */
export function selectedLogits(ctx: GpuContext, x: GpuTensor, w: GpuTensor | readonly GpuTensor[], rows: readonly number[], softcap?: number | null): GpuTensor {
  const BT = x.shape[0] ?? 0;
  const bad = rows.findIndex((row) => !Number.isInteger(row) || row < 0 || row >= BT);
  if (bad >= 0) throw new ShapeError(`${OP}: selected row ${rows[bad]} (at ${bad}) is outside [0, ${BT})`, { op: OP, row: rows[bad], BT });
  const shards = Array.isArray(w) ? (w as readonly GpuTensor[]) : [w as GpuTensor];
  const V = shards.reduce((sum, shard) => sum + (shard.shape[0] ?? 0), 0);
  const index = createIndexTensor(ctx.device, 'selected rows', [rows.length], 'i32', rows);
  const logits = createTensor(ctx.device, 'selected logits', [rows.length, V], 'f32');
  try {
    const encoder = ctx.device.createCommandEncoder({ label: `${OP}:selected` });
    encodeSelectedLogits(ctx, encoder, { x, w, rows: index, softcap }, logits);
    ctx.device.queue.submit([encoder.finish()]);
  } catch (error) {
    logits.buffer.destroy();
    throw error;
  } finally {
    index.buffer.destroy();
  }
  return logits;
}

function dimsUniform(d: { rows: number; row0: number; BT: number; V: number; gradScale: number }): ArrayBuffer {
  return packUniforms([
    ['u32', d.rows],
    ['u32', d.row0],
    ['u32', d.BT],
    ['u32', d.V],
    ['f32', d.gradScale],
  ]);
}
