import loraLinearCode from '../../../shaders/lora_linear.wgsl?raw';
import quantCode from '../../../shaders/quant.wgsl?raw';
import type { GpuContext } from '../device.ts';
import { DTYPE_CODE } from '../dtype.ts';
import { ShapeError } from '../errors.ts';
import { dropoutKey, dropoutThreshold, type LoraDropout } from '../reference/lora_linear.ts';
import { createTensor, sharesBytes, type GpuTensor } from '../tensor.ts';
import { bindGroup, packUniforms } from './encode.ts';
import { expectBindable, expectDType, expectRank, expectShape, expectWorkgroups } from './checks.ts';
import { checkMatmul, encodeMatmul, expectQuantGroup, matmulTarget, pairedLoads, routeMatmul, skinnyRoute, type MatmulLayout } from './matmul.ts';
import { isGemmKernel } from './matmul_gpu.ts';

export type { LoraDropout } from '../reference/lora_linear.ts';

const OP = 'lora_linear';
/** The int8/int4 decoders come first: lora_linear.wgsl calls them. */
const shaderCode = `${quantCode}\n${loraLinearCode}`;

/** The LoRA pair of a layer: A [R,K], B [N,R], scale s = alpha/R, and dropout on lora_A's input while training. */
export interface LoraPair {
  a: GpuTensor;
  b: GpuTensor;
  scale: number;
  /** Leave out (or p = 0) for no dropout: then no mask is computed at all. */
  dropout?: LoraDropout;
}

/** Inputs of Y = X·Wᵀ + bias + s·(drop(X)·Aᵀ)·Bᵀ. Shapes: x [M,K], w [N,K], bias [N], a [R,K], b [N,R]. */
export interface LoraLinearInputs {
  x: GpuTensor;
  w: GpuTensor;
  bias?: GpuTensor;
  /** The LoRA pair; leave it out for the frozen layer alone. */
  lora?: LoraPair;
}

export interface LoraLinearDims {
  M: number;
  N: number;
  K: number;
  /** 0 without LoRA. */
  R: number;
}

/** Checks every shape, dtype and limit; returns the dimensions. Throws before anything is encoded. */
export function checkLoraLinear(device: GPUDevice, inputs: LoraLinearInputs, y: GpuTensor, u?: GpuTensor): LoraLinearDims {
  const { x, w, bias, lora } = inputs;
  expectRank(OP, x, 2, 'M, K');
  expectRank(OP, w, 2, 'N, K');
  const [M, K] = x.shape as [number, number];
  const N = w.shape[0]!;
  expectShape(OP, w, [N, K], 'N, K');
  expectDType(OP, x, ['f32']);
  expectDType(OP, w, ['f32', 'bf16', 'f16', 'int8', 'int4']);
  expectQuantGroup(OP, w);
  if (bias) {
    expectShape(OP, bias, [N], 'N');
    expectDType(OP, bias, ['f32']);
  }
  let R = 0;
  if (lora) {
    expectRank(OP, lora.a, 2, 'R, K');
    R = lora.a.shape[0]!;
    expectShape(OP, lora.a, [R, K], 'R, K');
    expectShape(OP, lora.b, [N, R], 'N, R');
    expectDType(OP, lora.a, ['f32']);
    expectDType(OP, lora.b, ['f32']);
    if (!Number.isFinite(lora.scale)) {
      throw new ShapeError(`${OP}: LoRA scale must be a finite number, got ${lora.scale}`, { op: OP, scale: lora.scale });
    }
    if (lora.dropout) checkDropout(lora.dropout);
    if (!u) throw new ShapeError(`${OP}: the LoRA path needs a tensor U [M, R] = [${M}, ${R}]`, { op: OP });
    expectShape(OP, u, [M, R], 'M, R');
  }
  expectShape(OP, y, [M, N], 'M, N');
  expectDType(OP, y, ['f32']);
  for (const tensor of [x, w, bias, lora?.a, lora?.b, u, y]) if (tensor) expectBindable(OP, device, tensor);
  expectWorkgroups(OP, device, [Math.ceil(N / 32), Math.ceil(M / 32)]);
  if (R > 0) expectWorkgroups(OP, device, [Math.ceil(Math.ceil(R / 4) / 4), Math.ceil(M / 16)]);
  return { M, N, K, R };
}

function checkDropout({ p, seed, step, offset }: LoraDropout): void {
  if (!(p >= 0 && p < 1)) throw new ShapeError(`${OP}: LoRA dropout p must be in [0, 1), got ${p}`, { op: OP, p });
  for (const [name, value] of [['seed', seed], ['step', step], ['offset', offset]] as const) {
    if (!Number.isInteger(value) || value < 0 || value >= 2 ** 32) {
      throw new ShapeError(`${OP}: LoRA dropout ${name} must be an integer in [0, 2^32), got ${value}`, { op: OP, [name]: value });
    }
  }
}

const dropsAnything = (lora: LoraPair | undefined): boolean => (lora?.dropout?.p ?? 0) > 0;

/** Override constants shared by every entry point of a call. */
function shaderConstants(inputs: LoraLinearInputs, K: number): Record<string, number> {
  const { w, bias, lora } = inputs;
  return {
    W_DTYPE: DTYPE_CODE[w.dtype],
    W_PAIRED: pairedLoads(w.dtype, K) ? 1 : 0,
    ...(w.dtype === 'int4' ? { W_GROUP: w.group! } : {}),
    HAS_BIAS: bias ? 1 : 0,
    HAS_LORA: lora ? 1 : 0,
    DROPOUT: dropsAnything(lora) ? 1 : 0,
  };
}

function dimsUniform(ctx: GpuContext, { M, N, K, R }: LoraLinearDims, lora: LoraPair | undefined): GPUBuffer {
  const dropout = dropsAnything(lora) ? lora!.dropout! : undefined;
  const [key0, key1] = dropout ? dropoutKey(dropout) : [0, 0];
  const data = packUniforms([
    ['u32', M],
    ['u32', N],
    ['u32', K],
    ['u32', R],
    ['f32', lora?.scale ?? 0],
    ['u32', key0],
    ['u32', key1],
    ['u32', dropout ? dropoutThreshold(dropout.p) : 0],
    ['f32', dropout ? 1 / (1 - dropout.p) : 1],
  ]);
  return ctx.uniforms.get(`${OP}:dims`, data);
}

/**
 * Whether a product of the frozen W ('nt': X·Wᵀ, 'nn': dY·W) runs as matmul's products on the GPU
 * family's GEMM core (shaders/matmul_gpu.wgsl, coalesced workgroup tiles) rather than in the fused
 * kernels of lora_linear.wgsl: where the router sends it to gemm, gemv or gemv-subgroup (the 'gpu'
 * family, K a multiple of 4 and for gemm N too, the device's limits). The fused kernels stay for what the core has no epilogue for:
 * a bias in the forward, and a dropout mask on the LoRA branch of dX.
 */
export function frozenProductOnGemmCore(ctx: Pick<GpuContext, 'info'>, layout: MatmulLayout, { M, N, K }: LoraLinearDims, w: GpuTensor): boolean {
  const { kernel } = routeMatmul(layout, { M, N, K }, matmulTarget(ctx), w.dtype);
  return isGemmKernel(kernel);
}

/**
 * Encodes Y = X·Wᵀ + bias + s·(drop(X)·Aᵀ)·Bᵀ into `encoder` (two dispatches: U = drop(X)·Aᵀ, then
 * the fused product). With LoRA, `u` [M,R] receives U, which the backward pass needs. Validates first.
 */
export function encodeLoraLinear(
  ctx: GpuContext,
  encoder: GPUCommandEncoder,
  inputs: LoraLinearInputs,
  y: GpuTensor,
  u?: GpuTensor,
): void {
  const { device } = ctx;
  const dims = checkLoraLinear(device, inputs, y, u);
  const { M, N, K, R } = dims;
  const constants = shaderConstants(inputs, K);
  const uniforms = dimsUniform(ctx, dims, inputs.lora);
  // Bindings must exist even when the overrides make the shader skip them.
  const uBuffer = u ?? ctx.placeholder;
  const biasBuffer = inputs.bias ?? ctx.placeholder;
  const bBuffer = inputs.lora?.b ?? ctx.placeholder;

  const pass = encoder.beginComputePass({ label: OP });
  if (R > 0) {
    const down = ctx.pipelines.get(OP, shaderCode, 'lora_down', constants);
    pass.setPipeline(down);
    pass.setBindGroup(0, bindGroup(device, down, [[0, uniforms], [1, inputs.x], [7, inputs.lora!.a], [8, uBuffer]]));
    pass.dispatchWorkgroups(Math.ceil(Math.ceil(R / 4) / 4), Math.ceil(M / 16));
  }
  if (!inputs.bias && frozenProductOnGemmCore(ctx, 'nt', dims, inputs.w)) {
    pass.end();
    // Y = X·Wᵀ on the GEMM core, then Y += s·U·Bᵀ (U already holds drop(X)·Aᵀ).
    encodeMatmul(ctx, encoder, 'nt', inputs.x, inputs.w, y, { accumulate: false });
    if (R > 0) encodeMatmul(ctx, encoder, 'nt', u!, inputs.lora!.b, y, { accumulate: true, scale: inputs.lora!.scale });
    return;
  }
  const forward = ctx.pipelines.get(OP, shaderCode, 'lora_linear_fwd', constants);
  pass.setPipeline(forward);
  pass.setBindGroup(
    0,
    bindGroup(device, forward, [
      [0, uniforms],
      [1, inputs.x],
      [2, inputs.w],
      [3, biasBuffer],
      [4, uBuffer],
      [5, bBuffer],
      [6, y],
    ]),
  );
  pass.dispatchWorkgroups(Math.ceil(N / 32), Math.ceil(M / 32));
  pass.end();
}

/** Convenience for one-off calls: allocates Y (and U), encodes, submits. Returns Y [M,N]. */
export function loraLinear(ctx: GpuContext, inputs: LoraLinearInputs, yName = 'Y'): GpuTensor {
  const { y, u } = loraLinearWithU(ctx, inputs, yName);
  // Destroying after submit is safe: the queued work keeps using the memory until it completes.
  u?.buffer.destroy();
  return y;
}

/** Like loraLinear, and also returns U [M,R] = drop(X)·Aᵀ, which the backward pass takes, when there is a LoRA pair. */
export function loraLinearWithU(ctx: GpuContext, inputs: LoraLinearInputs, yName = 'Y'): { y: GpuTensor; u?: GpuTensor } {
  const M = inputs.x.shape[0] ?? 0;
  const N = inputs.w.shape[0] ?? 0;
  const R = inputs.lora?.a.shape[0] ?? 0;
  const y = createTensor(ctx.device, yName, [M, N], 'f32');
  const u = R > 0 ? createTensor(ctx.device, `${OP}:U`, [M, R], 'f32') : undefined;
  try {
    const encoder = ctx.device.createCommandEncoder({ label: OP });
    encodeLoraLinear(ctx, encoder, inputs, y, u);
    ctx.device.queue.submit([encoder.finish()]);
  } catch (error) {
    y.buffer.destroy();
    u?.buffer.destroy();
    throw error;
  }
  return u ? { y, u } : { y };
}

/** FLOPs of one forward call (multiply-adds count two), for throughput figures. */
export function loraLinearFlops({ M, N, K, R }: LoraLinearDims): number {
  return 2 * M * N * K + (R > 0 ? 2 * M * R * K + 2 * M * N * R : 0);
}

/** What the backward pass reads: the forward's inputs, dY [M,N], and the U [M,R] the forward saved. */
export interface LoraLinearBackwardInputs {
  x: GpuTensor;
  w: GpuTensor;
  lora: LoraPair;
  dy: GpuTensor;
  u: GpuTensor;
}

/** Gradients the backward pass ADDS to: dX [M,K], dA [R,K], dB [N,R]. The caller clears them. */
export interface LoraLinearGradients {
  dx: GpuTensor;
  da: GpuTensor;
  db: GpuTensor;
}

/** Checks every shape, dtype and limit of the backward pass, and the scratch G [M,R]. Throws before encoding. */
export function checkLoraLinearBackward(
  device: GPUDevice,
  inputs: LoraLinearBackwardInputs,
  gradients: LoraLinearGradients,
  g: GpuTensor,
): LoraLinearDims {
  const { x, w, lora, dy, u } = inputs;
  const dims = checkLoraLinear(device, { x, w, lora }, dy, u);
  const { M, N, K, R } = dims;
  expectShape(OP, gradients.dx, [M, K], 'M, K');
  expectShape(OP, gradients.da, [R, K], 'R, K');
  expectShape(OP, gradients.db, [N, R], 'N, R');
  expectShape(OP, g, [M, R], 'M, R');
  const inputTensors = [x, w, lora.a, lora.b, dy, u];
  const written = [gradients.dx, gradients.da, gradients.db, g];
  for (const tensor of written) {
    expectDType(OP, tensor, ['f32']);
    expectBindable(OP, device, tensor);
    const shared = [...inputTensors, ...written].find((other) => other !== tensor && sharesBytes(other, tensor));
    if (shared) {
      throw new ShapeError(`${OP}: "${tensor.name}" is written by the backward pass and shares its buffer with "${shared.name}"`, {
        op: OP,
        tensor: tensor.name,
      });
    }
  }
  expectWorkgroups(OP, device, [Math.ceil(K / 32), Math.ceil(M / 32)]);
  // The two products that run on matmul's kernels, so that nothing is encoded unless all of it can be.
  checkMatmul(device, 'nn', dy, lora.b, g);
  checkMatmul(device, 'tn', dy, u, gradients.db, lora.scale);
  return dims;
}

/**
 * Encodes the backward pass into `encoder`, ACCUMULATING into the gradients:
 *   G = dY·B (into the scratch `g` [M,R]);  dB += s·dYᵀ·U;  dA += s·Gᵀ·drop(X);  dX += dY·W + s·drop'(G·A)
 * with the same dropout mask as the forward (regenerated from seed, step and offset). Four dispatches;
 * the first two are matmul's skinny kernels. Validates everything first.
 */
export function encodeLoraLinearBackward(
  ctx: GpuContext,
  encoder: GPUCommandEncoder,
  inputs: LoraLinearBackwardInputs,
  gradients: LoraLinearGradients,
  g: GpuTensor,
): void {
  const { device } = ctx;
  const dims = checkLoraLinearBackward(device, inputs, gradients, g);
  const { M, K, R } = dims;
  const { x, w, lora, dy, u } = inputs;
  const target = matmulTarget(ctx);
  const gradA = skinnyRoute(R, K, M, target);
  expectWorkgroups(OP, device, gradA.workgroups);

  encodeMatmul(ctx, encoder, 'nn', dy, lora.b, g, { accumulate: false });
  encodeMatmul(ctx, encoder, 'tn', dy, u, gradients.db, { scale: lora.scale });

  const constants = shaderConstants({ x, w, lora }, K);
  const uniforms = dimsUniform(ctx, dims, lora);
  const pass = encoder.beginComputePass({ label: `${OP} backward` });
  const gradAPipeline = ctx.pipelines.get(OP, shaderCode, 'lora_grad_a', { ...constants, SPLIT: gradA.split });
  pass.setPipeline(gradAPipeline);
  pass.setBindGroup(0, bindGroup(device, gradAPipeline, [[0, uniforms], [1, x], [10, g], [12, gradients.da]]));
  pass.dispatchWorkgroups(...gradA.workgroups);
  if (!dropsAnything(lora) && frozenProductOnGemmCore(ctx, 'nn', dims, w)) {
    pass.end();
    // dX += dY·W on the GEMM core, then dX += s·G·A (no mask: nothing was dropped).
    encodeMatmul(ctx, encoder, 'nn', dy, w, gradients.dx, { accumulate: true });
    encodeMatmul(ctx, encoder, 'nn', g, lora.a, gradients.dx, { accumulate: true, scale: lora.scale });
    return;
  }
  const gradX = ctx.pipelines.get(OP, shaderCode, 'lora_linear_bwd_dx', constants);
  pass.setPipeline(gradX);
  pass.setBindGroup(
    0,
    bindGroup(device, gradX, [
      [0, uniforms],
      [2, w],
      [7, lora.a],
      [9, dy],
      [10, g],
      [11, gradients.dx],
    ]),
  );
  pass.dispatchWorkgroups(Math.ceil(K / 32), Math.ceil(M / 32));
  pass.end();
}

/** Convenience for one-off calls: allocates the scratch G, encodes the backward pass, submits. */
export function loraLinearBackward(ctx: GpuContext, inputs: LoraLinearBackwardInputs, gradients: LoraLinearGradients): void {
  const M = inputs.x.shape[0] ?? 0;
  const R = inputs.lora.a.shape[0] ?? 0;
  const g = createTensor(ctx.device, `${OP}:G`, [M, R], 'f32');
  try {
    const encoder = ctx.device.createCommandEncoder({ label: `${OP} backward` });
    encodeLoraLinearBackward(ctx, encoder, inputs, gradients, g);
    ctx.device.queue.submit([encoder.finish()]);
  } finally {
    g.buffer.destroy();
  }
}
