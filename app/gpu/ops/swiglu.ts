import shaderCode from '../../../shaders/swiglu.wgsl?raw';
import type { GpuContext } from '../device.ts';
import type { GpuTensor } from '../tensor.ts';
import { bindGroup, gridStrideWorkgroups, packUniforms } from './encode.ts';
import { expectBindable, expectDType, expectRank, expectSeparateBuffers, expectShape } from './checks.ts';

const OP = 'swiglu';

export type GateActivation = 'silu' | 'gelu_tanh';

/** gate_proj and up_proj outputs, both [BT, I], and the gate's activation (silu unless given; Gemma's GeGLU is gelu_tanh). */
export interface SwigluInputs {
  gate: GpuTensor;
  up: GpuTensor;
  activation?: GateActivation;
}

/** Encodes h [BT, I] = act(gate) ⊙ up. Validates first. */
export function encodeSwiglu(ctx: GpuContext, encoder: GPUCommandEncoder, { gate, up, activation }: SwigluInputs, h: GpuTensor): void {
  const n = checkSwiglu(ctx.device, gate, [up, h]);
  expectSeparateBuffers(OP, [h], [gate, up, h]);
  const pipeline = ctx.pipelines.get(OP, shaderCode, 'swiglu_fwd', { GELU: activation === 'gelu_tanh' ? 1 : 0 });
  const pass = encoder.beginComputePass({ label: `${OP} forward` });
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup(ctx.device, pipeline, [[0, dimsUniform(ctx, n)], [1, gate.buffer], [2, up.buffer], [3, h.buffer]]));
  pass.dispatchWorkgroups(gridStrideWorkgroups(n));
  pass.end();
}

/** Encodes dgate += dh·up·act'(gate) and dup += dh·act(gate) (accumulating; the caller clears them). */
export function encodeSwigluBackward(
  ctx: GpuContext,
  encoder: GPUCommandEncoder,
  { gate, up, dh, activation }: SwigluInputs & { dh: GpuTensor },
  dgate: GpuTensor,
  dup: GpuTensor,
): void {
  const n = checkSwiglu(ctx.device, gate, [up, dh, dgate, dup]);
  expectSeparateBuffers(OP, [dgate, dup], [gate, up, dh, dgate, dup]);
  const pipeline = ctx.pipelines.get(OP, shaderCode, 'swiglu_bwd', { GELU: activation === 'gelu_tanh' ? 1 : 0 });
  const pass = encoder.beginComputePass({ label: `${OP} backward` });
  pass.setPipeline(pipeline);
  pass.setBindGroup(
    0,
    bindGroup(ctx.device, pipeline, [
      [0, dimsUniform(ctx, n)],
      [1, gate.buffer],
      [2, up.buffer],
      [4, dh.buffer],
      [5, dgate.buffer],
      [6, dup.buffer],
    ]),
  );
  pass.dispatchWorkgroups(gridStrideWorkgroups(n));
  pass.end();
}

/** gate is [BT, I] and every other tensor matches it; all f32 and bindable. Returns BT·I. */
function checkSwiglu(device: GPUDevice, gate: GpuTensor, others: readonly GpuTensor[]): number {
  expectRank(OP, gate, 2, 'BT, I');
  const [BT, I] = gate.shape as [number, number];
  for (const tensor of [gate, ...others]) {
    expectShape(OP, tensor, [BT, I], 'BT, I');
    expectDType(OP, tensor, ['f32']);
    expectBindable(OP, device, tensor);
  }
  return BT * I;
}

function dimsUniform(ctx: GpuContext, n: number): GPUBuffer {
  return ctx.uniforms.get(`${OP}:dims`, packUniforms([['u32', n]]));
}
