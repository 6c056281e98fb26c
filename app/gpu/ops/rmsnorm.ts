import shaderCode from '../../../shaders/rmsnorm.wgsl?raw';
import type { GpuContext } from '../device.ts';
import { ShapeError } from '../errors.ts';
import { kernelFamily, type KernelFamily } from '../kernel-family.ts';
import type { GpuTensor } from '../tensor.ts';
import { bindGroup, packUniforms } from './encode.ts';
import { expectBindable, expectDType, expectRank, expectSeparateBuffers, expectShape, expectWorkgroups } from './checks.ts';

const OP = 'rmsnorm';

/** @workgroup_size of rmsnorm_fwd and rmsnorm_bwd: ROW_WORKGROUP_SIZE / threadsPerRow(C) rows per workgroup. */
const ROW_WORKGROUP_SIZE = 128;
/** Past this many workgroups each one loops over blocks of rows (the kernel strides by the grid). */
export const MAX_ROW_WORKGROUPS = 4096;
/** Values each thread of a row sums before the row's threads meet in workgroup memory. */
const VALUES_PER_THREAD = 4;
/** @workgroup_size of rmsnorm_bwd_dw: one invocation per column. */
const COLUMN_WORKGROUP_SIZE = 256;

/** x [rows, C] (rows = B·T), the frozen norm weight w [C] (f32), and rms_norm_eps. */
export interface RmsnormInputs {
  x: GpuTensor;
  w: GpuTensor;
  eps: number;
}

/** What the backward pass reads: the forward's input, weight and saved rstd [rows], and dy [rows, C]. */
export interface RmsnormBackwardInputs {
  dy: GpuTensor;
  x: GpuTensor;
  w: GpuTensor;
  rstd: GpuTensor;
}

/**
 * Encodes y [rows, C] = w ⊙ x / sqrt(mean(x²) + eps), in f32 as LlamaRMSNorm. With `rstd` [rows], the
 * per-row 1/sqrt(mean(x²) + eps) is saved for the backward pass; generation leaves it out. Validates first.
 */
export function encodeRmsnorm(ctx: GpuContext, encoder: GPUCommandEncoder, { x, w, eps }: RmsnormInputs, y: GpuTensor, rstd?: GpuTensor): void {
  const { rows, C } = checkRmsnorm(ctx.device, x, w, [y], rstd);
  const written = rstd ? [y, rstd] : [y];
  expectSeparateBuffers(OP, written, [x, w, ...written]);
  if (!(Number.isFinite(eps) && eps >= 0)) {
    throw new ShapeError(`${OP}: eps must be a finite number ≥ 0, got ${eps}`, { op: OP, eps });
  }
  const threads = threadsPerRow(C, kernelFamily(ctx));
  const pipeline = ctx.pipelines.get(OP, shaderCode, 'rmsnorm_fwd', { HAS_RSTD: rstd ? 1 : 0, THREADS_PER_ROW: threads });
  const pass = encoder.beginComputePass({ label: `${OP} forward` });
  pass.setPipeline(pipeline);
  pass.setBindGroup(
    0,
    bindGroup(ctx.device, pipeline, [
      [0, dimsUniform(ctx, rows, C, eps)],
      [1, x.buffer],
      [2, w.buffer],
      [3, y.buffer],
      // Bindings must exist even when the override makes the shader skip them.
      [4, rstd?.buffer ?? ctx.placeholder],
    ]),
  );
  pass.dispatchWorkgroups(rowWorkgroups(rows, threads));
  pass.end();
}

/**
 * Encodes dx += ∂y/∂x ᵀ·dy and, when `dw` is given, dw += Σ_rows dy ⊙ x·rstd (both accumulate; the
 * caller clears them). LoRA training freezes w and leaves dw out. Validates first.
 */
export function encodeRmsnormBackward(
  ctx: GpuContext,
  encoder: GPUCommandEncoder,
  { dy, x, w, rstd }: RmsnormBackwardInputs,
  dx: GpuTensor,
  dw?: GpuTensor,
): void {
  const { device } = ctx;
  const { rows, C } = checkRmsnorm(device, x, w, [dy, dx], rstd);
  const written = dw ? [dx, dw] : [dx];
  expectSeparateBuffers(OP, written, [dy, x, w, rstd, ...written]);
  if (dw) {
    expectShape(OP, dw, [C], 'C');
    expectDType(OP, dw, ['f32']);
    expectBindable(OP, device, dw);
    expectWorkgroups(OP, device, [Math.ceil(C / COLUMN_WORKGROUP_SIZE)]);
  }
  const uniforms = dimsUniform(ctx, rows, C, 0);
  const pass = encoder.beginComputePass({ label: `${OP} backward` });
  const threads = threadsPerRow(C, kernelFamily(ctx));
  const backward = ctx.pipelines.get(OP, shaderCode, 'rmsnorm_bwd', { THREADS_PER_ROW: threads });
  pass.setPipeline(backward);
  pass.setBindGroup(
    0,
    bindGroup(device, backward, [[0, uniforms], [1, x.buffer], [2, w.buffer], [5, dy.buffer], [6, rstd.buffer], [7, dx.buffer]]),
  );
  pass.dispatchWorkgroups(rowWorkgroups(rows, threads));
  if (dw) {
    const weightGradient = ctx.pipelines.get(OP, shaderCode, 'rmsnorm_bwd_dw');
    pass.setPipeline(weightGradient);
    pass.setBindGroup(0, bindGroup(device, weightGradient, [[0, uniforms], [1, x.buffer], [5, dy.buffer], [6, rstd.buffer], [8, dw.buffer]]));
    pass.dispatchWorkgroups(Math.ceil(C / COLUMN_WORKGROUP_SIZE));
  }
  pass.end();
}

/**
 * Threads that share one row in rmsnorm_fwd and rmsnorm_bwd.
 * 'gpu' family: the power of two nearest above C / 4, so each sums about 4 values, at most the whole
 * 128-thread workgroup (C > 256: SmolLM2's 576 and larger models keep one row per workgroup, as before).
 * Narrow rows (the fixture's C = 64 takes 16) then share a workgroup and its barriers instead of
 * leaving most of its threads idle.
 * 'cpu' family: 1, a row per thread and no barrier at all. On SwiftShader every barrier is costly:
 * at rows = 2,048 one thread per row ran the forward 26x faster than 16 per row at C = 64 and 16x
 * faster than 128 per row at C = 576, and matched 4 per row at C = 2,048 (bench/README.md).
 */
export function threadsPerRow(C: number, family: KernelFamily): number {
  if (family === 'cpu') return 1;
  const wanted = Math.ceil(C / VALUES_PER_THREAD);
  let threads = 1;
  while (threads < wanted && threads < ROW_WORKGROUP_SIZE) threads *= 2;
  return threads;
}

/** Workgroups of rmsnorm_fwd and rmsnorm_bwd: one per block of rows, capped (the kernel loops past the cap). */
function rowWorkgroups(rows: number, threads: number): number {
  return Math.min(Math.ceil(rows / (ROW_WORKGROUP_SIZE / threads)), MAX_ROW_WORKGROUPS);
}

/** x [rows, C], w [C], every tensor in `rowsByC` [rows, C], rstd [rows]; all f32 and bindable. */
function checkRmsnorm(device: GPUDevice, x: GpuTensor, w: GpuTensor, rowsByC: readonly GpuTensor[], rstd: GpuTensor | undefined): { rows: number; C: number } {
  expectRank(OP, x, 2, 'rows, C');
  const [rows, C] = x.shape as [number, number];
  expectShape(OP, w, [C], 'C');
  for (const tensor of rowsByC) expectShape(OP, tensor, [rows, C], 'rows, C');
  if (rstd) expectShape(OP, rstd, [rows], 'rows');
  for (const tensor of [x, w, ...rowsByC, rstd]) {
    if (!tensor) continue;
    expectDType(OP, tensor, ['f32']);
    expectBindable(OP, device, tensor);
  }
  return { rows, C };
}

function dimsUniform(ctx: GpuContext, rows: number, C: number, eps: number): GPUBuffer {
  return ctx.uniforms.get(`${OP}:dims`, packUniforms([['u32', rows], ['u32', C], ['f32', eps]]));
}
