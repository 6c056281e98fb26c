import shaderCode from '../../../shaders/lora_linear.wgsl?raw';
import type { GpuContext } from '../device.ts';
import { DTYPE_CODE } from '../dtype.ts';
import { ShapeError } from '../errors.ts';
import { createTensor, type GpuTensor } from '../tensor.ts';
import { bindGroup, packUniforms } from './encode.ts';
import { expectBindable, expectDType, expectRank, expectShape, expectWorkgroups } from './checks.ts';

const OP = 'lora_linear';

/** Inputs of Y = X·Wᵀ + bias + s·(X·Aᵀ)·Bᵀ. Shapes: x [M,K], w [N,K], bias [N], a [R,K], b [N,R]. */
export interface LoraLinearInputs {
  x: GpuTensor;
  w: GpuTensor;
  bias?: GpuTensor;
  /** The LoRA pair; leave both out for the frozen layer alone. */
  lora?: { a: GpuTensor; b: GpuTensor; scale: number };
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
  expectDType(OP, w, ['f32', 'bf16', 'f16']);
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
    if (!u) throw new ShapeError(`${OP}: the LoRA path needs a scratch tensor U [M, R] = [${M}, ${R}]`, { op: OP });
    expectShape(OP, u, [M, R], 'M, R');
  }
  expectShape(OP, y, [M, N], 'M, N');
  expectDType(OP, y, ['f32']);
  for (const tensor of [x, w, bias, lora?.a, lora?.b, u, y]) if (tensor) expectBindable(OP, device, tensor);
  expectWorkgroups(OP, device, [Math.ceil(N / 32), Math.ceil(M / 32)]);
  if (R > 0) expectWorkgroups(OP, device, [Math.ceil(Math.ceil(R / 4) / 4), Math.ceil(M / 16)]);
  return { M, N, K, R };
}

/**
 * Encodes Y = X·Wᵀ + bias + s·(X·Aᵀ)·Bᵀ into `encoder` (two dispatches: U = X·Aᵀ, then the fused
 * product). With LoRA, `u` [M,R] receives X·Aᵀ, which the backward pass reuses. Validates first.
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
  const { M, N, R } = dims;
  const constants = { W_DTYPE: DTYPE_CODE[inputs.w.dtype], HAS_BIAS: inputs.bias ? 1 : 0, HAS_LORA: R > 0 ? 1 : 0 };
  const uniforms = ctx.uniforms.get(`${OP}:dims`, dimsUniform(dims, inputs.lora?.scale ?? 0));
  // Bindings must exist even when the overrides make the shader skip them.
  const uBuffer = u?.buffer ?? ctx.placeholder;
  const biasBuffer = inputs.bias?.buffer ?? ctx.placeholder;
  const bBuffer = inputs.lora?.b.buffer ?? ctx.placeholder;

  const pass = encoder.beginComputePass({ label: OP });
  if (R > 0) {
    const down = ctx.pipelines.get(OP, shaderCode, 'lora_down', constants);
    pass.setPipeline(down);
    pass.setBindGroup(0, bindGroup(device, down, [[0, uniforms], [1, inputs.x.buffer], [7, inputs.lora!.a.buffer], [8, uBuffer]]));
    pass.dispatchWorkgroups(Math.ceil(Math.ceil(R / 4) / 4), Math.ceil(M / 16));
  }
  const forward = ctx.pipelines.get(OP, shaderCode, 'lora_linear_fwd', constants);
  pass.setPipeline(forward);
  pass.setBindGroup(
    0,
    bindGroup(device, forward, [
      [0, uniforms],
      [1, inputs.x.buffer],
      [2, inputs.w.buffer],
      [3, biasBuffer],
      [4, uBuffer],
      [5, bBuffer],
      [6, y.buffer],
    ]),
  );
  pass.dispatchWorkgroups(Math.ceil(N / 32), Math.ceil(M / 32));
  pass.end();
}

/** Convenience for one-off calls: allocates Y (and U), encodes, submits. Returns Y [M,N]. */
export function loraLinear(ctx: GpuContext, inputs: LoraLinearInputs, yName = 'Y'): GpuTensor {
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
    throw error;
  } finally {
    // Destroying after submit is safe: the queued work keeps using the memory until it completes.
    u?.buffer.destroy();
  }
  return y;
}

/** FLOPs of one call (multiply-adds count two), for throughput figures. */
export function loraLinearFlops({ M, N, K, R }: LoraLinearDims): number {
  return 2 * M * N * K + (R > 0 ? 2 * M * R * K + 2 * M * N * R : 0);
}

function dimsUniform({ M, N, K, R }: LoraLinearDims, scale: number): ArrayBuffer {
  return packUniforms([['u32', M], ['u32', N], ['u32', K], ['u32', R], ['f32', scale]]);
}
