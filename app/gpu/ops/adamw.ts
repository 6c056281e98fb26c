import shaderCode from '../../../shaders/adamw.wgsl?raw';
import type { GpuContext } from '../device.ts';
import { ShapeError } from '../errors.ts';
import { createTensor, elementCount, readTensor, type GpuTensor } from '../tensor.ts';
import { bindGroup, packUniforms } from './encode.ts';
import { expectBindable, expectDType, expectShape } from './checks.ts';

const OP = 'adamw';
const WG = 256;
const MAX_PARTIALS_PER_TENSOR = 1024;
const MAX_UPDATE_WORKGROUPS = 4096;

/** Bits of the status flags word; any set bit skips the update. */
export const ADAMW_FLAGS = {
  /** A gradient element is NaN or ±Inf. */
  NONFINITE_GRADIENT: 1,
  /** Every gradient is finite but Σ g² overflowed f32 (|g| around 1e19). */
  NONFINITE_NORM: 2,
} as const;

/** torch.optim.AdamW's defaults. */
export const TORCH_ADAMW_DEFAULTS = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-2 } as const;

/** One parameter tensor with its gradient and AdamW moments; all f32 of the same element count. */
export interface AdamwTensor {
  param: GpuTensor;
  grad: GpuTensor;
  /** exp_avg, zero before the first step. */
  m: GpuTensor;
  /** exp_avg_sq, zero before the first step. */
  v: GpuTensor;
  /** Overrides the step's weight decay for this tensor (0 for norms and biases, as a PyTorch param group). */
  weightDecay?: number;
}

export interface AdamwStep {
  /** t, the 1-based number of the step being taken (PyTorch's state["step"] after its increment). */
  step: number;
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Clip the global gradient L2 norm to this, as torch.nn.utils.clip_grad_norm_; leave out for no clipping. */
  maxGradNorm?: number;
}

export interface AdamwScratch {
  /** [adamwPartialCount(tensors)] f32: per-workgroup sums of squares. */
  partials: GpuTensor;
  /** [4] f32-sized words: flags (u32), Σ g², gradient norm, clip coefficient; read with readAdamwStatus. */
  status: GpuTensor;
}

export interface AdamwStatus {
  flags: number;
  /** True when the step was skipped: the weights and moments are as they were. */
  skipped: boolean;
  gradNorm: number;
  clipCoefficient: number;
}

function partialCount(elements: number): number {
  return Math.min(Math.ceil(elements / WG), MAX_PARTIALS_PER_TENSOR);
}

/** Length of the partials scratch for these tensors. */
export function adamwPartialCount(tensors: readonly { param: { readonly shape: readonly number[] } }[]): number {
  return tensors.reduce((sum, { param }) => sum + partialCount(elementCount(param.shape)), 0);
}

function refuse(message: string, details: Record<string, unknown>): never {
  throw new ShapeError(`${OP}: ${message}`, { op: OP, ...details });
}

function checkHyperparameters(step: AdamwStep): void {
  const { lr, beta1, beta2, eps, weightDecay, maxGradNorm } = step;
  if (!Number.isInteger(step.step) || step.step < 1) refuse(`step must be an integer >= 1, got ${step.step}`, { step: step.step });
  if (!(Number.isFinite(lr) && lr >= 0)) refuse(`lr must be finite and >= 0, got ${lr}`, { lr });
  for (const [name, beta] of [['beta1', beta1], ['beta2', beta2]] as const) {
    if (!(beta >= 0 && beta < 1)) refuse(`${name} must be in [0, 1), got ${beta}`, { [name]: beta });
  }
  if (!(Number.isFinite(eps) && eps >= 0)) refuse(`eps must be finite and >= 0, got ${eps}`, { eps });
  if (!(Number.isFinite(weightDecay) && weightDecay >= 0)) refuse(`weightDecay must be finite and >= 0, got ${weightDecay}`, { weightDecay });
  if (maxGradNorm !== undefined && !(Number.isFinite(maxGradNorm) && maxGradNorm > 0)) {
    refuse(`maxGradNorm must be finite and > 0 (leave it out for no clipping), got ${maxGradNorm}`, { maxGradNorm });
  }
}

/** Checks every tensor, the hyperparameters and the scratch. Throws before anything is encoded. */
export function checkAdamw(device: GPUDevice, tensors: readonly AdamwTensor[], step: AdamwStep, scratch: AdamwScratch): void {
  if (tensors.length === 0) refuse('no parameter tensors', {});
  checkHyperparameters(step);
  for (const tensor of tensors) {
    const { param } = tensor;
    for (const other of [tensor.grad, tensor.m, tensor.v]) expectShape(OP, other, param.shape, `shape of "${param.name}"`);
    for (const t of [param, tensor.grad, tensor.m, tensor.v]) {
      expectDType(OP, t, ['f32']);
      expectBindable(OP, device, t);
    }
    const decay = tensor.weightDecay;
    if (decay !== undefined && !(Number.isFinite(decay) && decay >= 0)) refuse(`weightDecay of "${param.name}" must be finite and >= 0, got ${decay}`, { tensor: param.name });
  }
  expectShape(OP, scratch.partials, [adamwPartialCount(tensors)], 'adamwPartialCount(tensors)');
  expectShape(OP, scratch.status, [4], '4');
  for (const t of [scratch.partials, scratch.status]) {
    expectDType(OP, t, ['f32']);
    expectBindable(OP, device, t);
  }
}

/**
 * Encodes one AdamW step over `tensors` into `encoder`: the global gradient norm (sum_squares per
 * tensor, finalize_norm once), then the clipped update per tensor, which does nothing when a gradient
 * was NaN/Inf. The status is cleared first; read it with readAdamwStatus (e.g. with the step's loss).
 */
export function encodeAdamw(ctx: GpuContext, encoder: GPUCommandEncoder, tensors: readonly AdamwTensor[], step: AdamwStep, scratch: AdamwScratch): void {
  const { device } = ctx;
  checkAdamw(device, tensors, step, scratch);
  const totalPartials = scratch.partials.shape[0]!;
  const hyper = ctx.uniforms.get(`${OP}:hyper`, hyperUniform(step, totalPartials));
  const perTensor: { tensor: AdamwTensor; dims: GPUBuffer; n: number }[] = [];
  let offset = 0;
  for (const tensor of tensors) {
    const n = elementCount(tensor.param.shape);
    const dims = packUniforms([['u32', n], ['u32', offset], ['f32', tensor.weightDecay ?? step.weightDecay]]);
    perTensor.push({ tensor, dims: ctx.uniforms.get(`${OP}:dims`, dims), n });
    offset += partialCount(n);
  }
  const sumSquares = ctx.pipelines.get(OP, shaderCode, 'sum_squares');
  const finalize = ctx.pipelines.get(OP, shaderCode, 'finalize_norm');
  const update = ctx.pipelines.get(OP, shaderCode, 'adamw_update');

  encoder.clearBuffer(scratch.status.buffer);
  const pass = encoder.beginComputePass({ label: OP });
  pass.setPipeline(sumSquares);
  for (const { tensor, dims, n } of perTensor) {
    pass.setBindGroup(0, bindGroup(device, sumSquares, [[1, dims], [2, tensor.grad], [3, scratch.partials], [4, scratch.status]]));
    pass.dispatchWorkgroups(partialCount(n));
  }
  pass.setPipeline(finalize);
  pass.setBindGroup(0, bindGroup(device, finalize, [[0, hyper], [3, scratch.partials], [4, scratch.status]]));
  pass.dispatchWorkgroups(1);
  pass.setPipeline(update);
  for (const { tensor, dims, n } of perTensor) {
    pass.setBindGroup(
      0,
      bindGroup(device, update, [
        [0, hyper],
        [1, dims],
        [2, tensor.grad],
        [5, tensor.param],
        [6, tensor.m],
        [7, tensor.v],
        [8, scratch.status],
      ]),
    );
    pass.dispatchWorkgroups(Math.min(Math.ceil(n / WG), MAX_UPDATE_WORKGROUPS));
  }
  pass.end();
}

export async function readAdamwStatus(device: GPUDevice, status: GpuTensor): Promise<AdamwStatus> {
  return adamwStatusOf(await readTensor(device, status));
}

/** The status from its four words as read back (word 0 holds u32 flags, so it is read by its bits). */
export function adamwStatusOf(words: Float32Array): AdamwStatus {
  const flags = new Uint32Array(words.buffer, words.byteOffset, 1)[0]!;
  return { flags, skipped: flags !== 0, gradNorm: words[2]!, clipCoefficient: words[3]! };
}

/** One-shot convenience (tests): allocates the scratch, encodes one step, submits; returns the status tensor. */
export function adamw(ctx: GpuContext, tensors: readonly AdamwTensor[], step: AdamwStep): GpuTensor {
  const partials = createTensor(ctx.device, `${OP}:partials`, [adamwPartialCount(tensors)], 'f32');
  const status = createTensor(ctx.device, `${OP}:status`, [4], 'f32');
  try {
    const encoder = ctx.device.createCommandEncoder({ label: OP });
    encodeAdamw(ctx, encoder, tensors, step, { partials, status });
    ctx.device.queue.submit([encoder.finish()]);
  } catch (error) {
    status.buffer.destroy();
    throw error;
  } finally {
    partials.buffer.destroy();
  }
  return status;
}

/** The per-step uniform: bias corrections in Float64 on the CPU, as torch.optim.AdamW computes them. */
function hyperUniform(step: AdamwStep, totalPartials: number): ArrayBuffer {
  const biasCorrection1 = 1 - step.beta1 ** step.step;
  const biasCorrection2 = 1 - step.beta2 ** step.step;
  return packUniforms([
    ['f32', step.lr],
    ['f32', step.beta2],
    ['f32', 1 - step.beta1],
    ['f32', 1 - step.beta2],
    ['f32', step.eps],
    ['f32', step.lr / biasCorrection1],
    ['f32', Math.sqrt(biasCorrection2)],
    ['f32', step.maxGradNorm ?? 0],
    ['u32', totalPartials],
  ]);
}
