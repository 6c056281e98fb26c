import shaderCode from '../../../shaders/residual.wgsl?raw';
import type { GpuContext } from '../device.ts';
import { ShapeError } from '../errors.ts';
import type { GpuTensor } from '../tensor.ts';
import { elementCount } from '../tensor.ts';
import { bindGroup, packUniforms } from './encode.ts';
import { expectBindable, expectDType, expectShape } from './checks.ts';

const OP = 'residual';

/** @workgroup_size of the grid-stride elementwise kernels (residual, swiglu, rope, embedding). */
const ELEMENTWISE_WORKGROUP_SIZE = 256;
/** Enough invocations to fill the largest GPUs; the kernels' grid-stride loops cover the rest. */
const MAX_ELEMENTWISE_WORKGROUPS = 2048;

/** Workgroups for a grid-stride kernel over `count` items: never over any device's per-dimension limit. */
export function gridStrideWorkgroups(count: number): number {
  return Math.min(Math.ceil(count / ELEMENTWISE_WORKGROUP_SIZE), MAX_ELEMENTWISE_WORKGROUPS);
}

/**
 * WebGPU refuses a dispatch whose writable storage binding shares a buffer with another binding, and
 * then the whole command buffer fails: name the tensors before anything is encoded instead.
 */
export function expectSeparateBuffers(
  op: string,
  written: readonly { name: string; buffer: GPUBuffer }[],
  bound: readonly { name: string; buffer: GPUBuffer }[],
): void {
  for (const output of written) {
    const other = bound.find((tensor) => tensor !== output && tensor.buffer === output.buffer);
    if (other) {
      throw new ShapeError(`${op}: tensor "${output.name}" is written and shares its buffer with "${other.name}"; give it its own buffer`, {
        op,
        tensor: output.name,
        aliases: other.name,
      });
    }
  }
}

/** Encodes y = a + b (same shapes, f32). Validates first. */
export function encodeResidualAdd(ctx: GpuContext, encoder: GPUCommandEncoder, a: GpuTensor, b: GpuTensor, y: GpuTensor): void {
  const n = checkSameShapes(ctx.device, [a, b, y]);
  expectSeparateBuffers(OP, [y], [a, b, y]);
  const pipeline = ctx.pipelines.get(OP, shaderCode, 'residual_add');
  const uniforms = ctx.uniforms.get(`${OP}:dims`, packUniforms([['u32', n]]));
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
  const uniforms = ctx.uniforms.get(`${OP}:dims`, packUniforms([['u32', n]]));
  const pass = encoder.beginComputePass({ label: `${OP} accumulate` });
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup(ctx.device, pipeline, [[0, uniforms], [4, x.buffer], [5, addend.buffer]]));
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
