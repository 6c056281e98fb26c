import loraLinearCode from '../../../shaders/lora_linear.wgsl?raw';
import type { GpuContext } from '../device.ts';
import { ShapeError } from '../errors.ts';
import { dropoutThreshold, type LoraDropout } from '../reference/lora_linear.ts';
import { createTensor, sharesBytes, type GpuTensor } from '../tensor.ts';
import { assembleShader, dropoutPrelude } from '../wgsl.ts';
import { bindGroup, packUniforms } from './encode.ts';
import { expectBindable, expectDType, expectRank, expectShape, expectWorkgroups } from './checks.ts';
import type { Epilogue, EpilogueDropout } from './epilogue.ts';
import { checkMatmul, dispatchProduct, encodeMatmul, expectQuantGroup, matmulTarget, routeMatmul, skinnyRoute, type MatmulLayout } from './matmul.ts';
import { isGemmKernel } from './matmul_gpu.ts';

export type { LoraDropout } from '../reference/lora_linear.ts';

const OP = 'lora_linear';
/** lora_down and lora_grad_a apply the mask of app/gpu/wgsl.ts's dropout prelude. */
const shader = assembleShader({ key: OP, code: loraLinearCode }, [dropoutPrelude()]);

/**
 * LoRA dropout of one layer as the kernels take it: the reference's LoraDropout, with the seed and step
 * as numbers (one-off calls and tests), or, while training, p and the layer's offset with `stepUniform`,
 * a buffer that holds the micro-batch's seed and step (createDropoutStepUniform, writeDropoutStep): the
 * trainer writes it once per micro-batch, so no uniform or bind group is made per step.
 */
export type KernelDropout = LoraDropout | { p: number; offset: number; stepUniform: GPUBuffer };

/** The LoRA pair of a layer: A [R,K], B [N,R], scale s = alpha/R, and dropout on lora_A's input while training. */
export interface LoraPair {
  a: GpuTensor;
  b: GpuTensor;
  scale: number;
  /** Leave out (or p = 0) for no dropout: then no mask is computed at all. */
  dropout?: KernelDropout;
}

/** The 16-byte uniform of the dropout prelude (app/gpu/wgsl.ts): the seed and step of the micro-batch being computed. */
export function createDropoutStepUniform(device: GPUDevice): GPUBuffer {
  return device.createBuffer({ label: 'dropout step', size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
}

/**
 * Writes a micro-batch's seed and step into a dropout step uniform. A queue write: it reaches the GPU
 * before the next submit, so submit the previous micro-batch's work first (as the trainer does with the
 * token batch).
 */
export function writeDropoutStep(queue: GPUQueue, uniform: GPUBuffer, { seed, step }: Pick<LoraDropout, 'seed' | 'step'>): void {
  checkDropoutWords({ seed, step });
  queue.writeBuffer(uniform, 0, packUniforms([['u32', seed], ['u32', step]]));
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
  // The grid of the finest route (the CPU family's tiled kernel); the others fold theirs within the limit.
  expectWorkgroups(OP, device, [Math.ceil(N / 32), Math.ceil(M / 32)]);
  if (R > 0) expectWorkgroups(OP, device, [Math.ceil(Math.ceil(R / 4) / 4), Math.ceil(M / 16)]);
  return { M, N, K, R };
}

function checkDropoutWords(words: Partial<Record<'seed' | 'step' | 'offset', number>>): void {
  for (const [name, value] of Object.entries(words)) {
    if (!Number.isInteger(value) || value < 0 || value >= 2 ** 32) {
      throw new ShapeError(`${OP}: LoRA dropout ${name} must be an integer in [0, 2^32), got ${value}`, { op: OP, [name]: value });
    }
  }
}

function checkDropout(dropout: KernelDropout): void {
  const { p } = dropout;
  if (!(p >= 0 && p < 1)) throw new ShapeError(`${OP}: LoRA dropout p must be in [0, 1), got ${p}`, { op: OP, p });
  checkDropoutWords('stepUniform' in dropout ? { offset: dropout.offset } : { seed: dropout.seed, step: dropout.step, offset: dropout.offset });
}

/** The dropout that masks anything (p > 0), else undefined: p = 0 compiles the mask out. */
const activeDropout = (lora: LoraPair | undefined): KernelDropout | undefined => ((lora?.dropout?.p ?? 0) > 0 ? lora!.dropout : undefined);

/** The dropout prelude's uniform for a call: the caller's per-step buffer, or one holding the numbers it gave (zeros without dropout). */
function dropoutStepUniform(ctx: GpuContext, dropout: KernelDropout | undefined): GPUBuffer {
  if (dropout && 'stepUniform' in dropout) return dropout.stepUniform;
  return ctx.uniforms.get('dropout:step', packUniforms([['u32', dropout?.seed ?? 0], ['u32', dropout?.step ?? 0]]));
}

/** The mask as the 'lora_dx' epilogue of the product cores takes it. */
function epilogueDropout(ctx: GpuContext, dropout: KernelDropout): EpilogueDropout {
  return { threshold: dropoutThreshold(dropout.p), keepScale: 1 / (1 - dropout.p), offset: dropout.offset, stepUniform: dropoutStepUniform(ctx, dropout) };
}

/** lora_linear.wgsl's uniform: the same for a layer at every step (the step itself is in the dropout uniform). */
function dimsUniform(ctx: GpuContext, { M, K, R }: LoraLinearDims, lora: LoraPair | undefined): GPUBuffer {
  const dropout = activeDropout(lora);
  const data = packUniforms([
    ['u32', M],
    ['u32', K],
    ['u32', R],
    ['f32', lora?.scale ?? 0],
    ['u32', dropout?.offset ?? 0],
    ['u32', dropout ? dropoutThreshold(dropout.p) : 0],
    ['f32', dropout ? 1 / (1 - dropout.p) : 1],
  ]);
  return ctx.uniforms.get(`${OP}:dims`, data);
}

/**
 * Whether a product of the frozen W ('nt': X·Wᵀ, 'nn': dY·W) runs on the GPU family's GEMM core
 * (shaders/matmul_gpu.wgsl: gemm, gemv or gemv-subgroup) rather than on the CPU family's core
 * (shaders/matmul.wgsl): where the router sends it there (the 'gpu' family, K a multiple of 4 and for
 * gemm N too, the device's limits). A bias, the LoRA term and dropout's mask ride on either core's epilogue.
 */
export function frozenProductOnGemmCore(ctx: Pick<GpuContext, 'info'>, layout: MatmulLayout, { M, N, K }: LoraLinearDims, w: GpuTensor): boolean {
  const { kernel } = routeMatmul(layout, { M, N, K }, matmulTarget(ctx), w.dtype);
  return isGemmKernel(kernel);
}

/**
 * Encodes Y = X·Wᵀ + bias + s·(drop(X)·Aᵀ)·Bᵀ into `encoder` (two dispatches: U = drop(X)·Aᵀ, then
 * X·Wᵀ on the family's product core with the bias and s·U·Bᵀ in its epilogue). With LoRA, `u` [M,R]
 * receives U, which the backward pass needs. Validates first.
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
  const { x, w, bias, lora } = inputs;
  const pass = encoder.beginComputePass({ label: OP });
  if (R > 0) {
    const down = ctx.pipelines.get(shader.key, shader.code, 'lora_down', { DROPOUT: activeDropout(lora) ? 1 : 0 });
    pass.setPipeline(down);
    pass.setBindGroup(
      0,
      bindGroup(device, down, [
        [0, dimsUniform(ctx, dims, lora)],
        [1, x],
        [6, dropoutStepUniform(ctx, activeDropout(lora))],
        [7, lora!.a],
        [8, u!],
      ]),
    );
    pass.dispatchWorkgroups(Math.ceil(Math.ceil(R / 4) / 4), Math.ceil(M / 16));
  }
  const epilogue: Epilogue | undefined =
    bias || R > 0 ? { kind: 'linear', ...(bias ? { bias } : {}), ...(R > 0 ? { lora: { u: u!, b: lora!.b, scale: lora!.scale } } : {}) } : undefined;
  dispatchProduct(ctx, pass, {
    layout: 'nt',
    route: routeMatmul('nt', { M, N, K }, matmulTarget(ctx), w.dtype),
    rows: M,
    cols: N,
    inner: K,
    lhs: { buffer: x, stride: K, offset: 0 },
    rhs: w,
    out: { buffer: y, stride: N, offset: 0 },
    accumulate: false,
    scale: 1,
    ...(epilogue ? { epilogue } : {}),
  });
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
 * with the same dropout mask as the forward (regenerated from seed, step and offset). Four dispatches:
 * matmul's two LoRA-rank products, lora_grad_a, and dY·W on the product core with the LoRA branch in
 * its epilogue. Validates everything first.
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
  const { M, N, K, R } = dims;
  const { x, w, lora, dy, u } = inputs;
  const target = matmulTarget(ctx);
  const gradA = skinnyRoute(R, K, M, target);
  expectWorkgroups(OP, device, gradA.workgroups);

  encodeMatmul(ctx, encoder, 'nn', dy, lora.b, g, { accumulate: false });
  encodeMatmul(ctx, encoder, 'tn', dy, u, gradients.db, { scale: lora.scale });

  const dropout = activeDropout(lora);
  const pass = encoder.beginComputePass({ label: `${OP} backward` });
  const gradAPipeline = ctx.pipelines.get(shader.key, shader.code, 'lora_grad_a', { DROPOUT: dropout ? 1 : 0, SPLIT: gradA.split });
  pass.setPipeline(gradAPipeline);
  pass.setBindGroup(
    0,
    bindGroup(device, gradAPipeline, [
      [0, dimsUniform(ctx, dims, lora)],
      [1, x],
      [6, dropoutStepUniform(ctx, dropout)],
      [10, g],
      [12, gradients.da],
    ]),
  );
  pass.dispatchWorkgroups(...gradA.workgroups);
  // dX += dY·W on the family's product core, with s·drop'(G·A) in its epilogue.
  dispatchProduct(ctx, pass, {
    layout: 'nn',
    route: routeMatmul('nn', { M, N, K }, target, w.dtype),
    rows: M,
    cols: K,
    inner: N,
    lhs: { buffer: dy, stride: N, offset: 0 },
    rhs: w,
    out: { buffer: gradients.dx, stride: K, offset: 0 },
    accumulate: true,
    scale: 1,
    epilogue: { kind: 'lora_dx', g, a: lora.a, scale: lora.scale, ...(dropout ? { dropout: epilogueDropout(ctx, dropout) } : {}) },
  });
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
