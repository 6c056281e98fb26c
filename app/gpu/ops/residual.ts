import shaderCode from '../../../shaders/residual.wgsl?raw';
import type { GpuContext } from '../device.ts';
import { ShapeError } from '../errors.ts';
import { elementCount, type GpuTensor } from '../tensor.ts';
import { bindGroup, gridStrideWorkgroups, packUniforms } from './encode.ts';
import { expectBindable, expectDType, expectSeparateBuffers, expectShape } from './checks.ts';

const OP = 'residual';

/** Encodes y = a + b (same shapes, f32). Validates first. */
export function encodeResidualAdd(ctx: GpuContext, encoder: GPUCommandEncoder, a: GpuTensor, b: GpuTensor, y: GpuTensor): void {
  const n = checkSameShapes(ctx.device, [a, b, y]);
  expectSeparateBuffers(OP, [y], [a, b, y]);
  const pipeline = ctx.pipelines.get(OP, shaderCode, 'residual_add');
  const uniforms = ctx.uniforms.get(`${OP}:dims`, packUniforms([['u32', n], ['f32', 1]]));
  const pass = encoder.beginComputePass({ label: `${OP} add` });
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup(ctx.device, pipeline, [[0, uniforms], [1, a.buffer], [2, b.buffer], [3, y.buffer]]));
  pass.dispatchWorkgroups(gridStrideWorkgroups(n));
  pass.end();
}

/** Encodes x += addend in place (same shapes, f32): a residual stream update, or gradients summed. */
export function encodeResidualAccumulate(ctx: GpuContext, encoder: GPUCommandEncoder, x: GpuTensor, addend: GpuTensor): void {
  const n = checkSameShapes(ctx.device, [x, addend]);
  expectSeparateBuffers(OP, [x], [x, addend]);
  const pipeline = ctx.pipelines.get(OP, shaderCode, 'residual_accumulate');
  const uniforms = ctx.uniforms.get(`${OP}:dims`, packUniforms([['u32', n], ['f32', 1]]));
  const pass = encoder.beginComputePass({ label: `${OP} accumulate` });
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup(ctx.device, pipeline, [[0, uniforms], [4, x.buffer], [5, addend.buffer]]));
  pass.dispatchWorkgroups(gridStrideWorkgroups(n));
  pass.end();
}

/** Encodes x *= scale in place (f32): Gemma's embedding output times √hidden_size. Validates first. */
export function encodeResidualScale(ctx: GpuContext, encoder: GPUCommandEncoder, x: GpuTensor, scale: number): void {
  const n = checkSameShapes(ctx.device, [x]);
  if (!Number.isFinite(scale)) throw new ShapeError(`${OP}: scale must be finite, got ${scale}`, { op: OP, scale });
  const pipeline = ctx.pipelines.get(OP, shaderCode, 'residual_scale');
  const uniforms = ctx.uniforms.get(`${OP}:dims`, packUniforms([['u32', n], ['f32', scale]]));
  const pass = encoder.beginComputePass({ label: `${OP} scale` });
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup(ctx.device, pipeline, [[0, uniforms], [4, x.buffer]]));
  pass.dispatchWorkgroups(gridStrideWorkgroups(n));
  pass.end();
}

/** Every tensor f32, bindable, and shaped like the first; returns the element count. */
function checkSameShapes(device: GPUDevice, tensors: readonly GpuTensor[]): number {
  const first = tensors[0]!;
  for (const tensor of tensors) {
    expectShape(OP, tensor, first.shape, `the shape of "${first.name}"`);
    expectDType(OP, tensor, ['f32']);
    expectBindable(OP, device, tensor);
  }
  return elementCount(first.shape);
}
