import shaderCode from '../../../shaders/rope.wgsl?raw';
import type { GpuContext } from '../device.ts';
import { ShapeError } from '../errors.ts';
import { createTensor, type GpuTensor } from '../tensor.ts';
import { bindGroup, gridStrideWorkgroups, packUniforms } from './encode.ts';
import { expectBindable, expectDType, expectIndexTensor, expectRank, expectSeparateBuffers, expectShape } from './checks.ts';

export { ropeAttentionFactor, ropeInverseFrequencies, ropeRotaryDim, type RopeFrequencyParameters } from '../reference/rope.ts';

const OP = 'rope';

/**
 * The frequencies as the shader reads them, [half, 2] f32: inv_freq / 2π (turns per position) split
 * in Float64 into hi, rounded to 7 significant bits, and lo = the rest. position·hi is then exact in
 * f32 for positions below 2^17, so the kernel reduces angles without losing the low-order turns.
 */
export function ropeFrequencyTurns(inverseFrequencies: ArrayLike<number>): Float32Array {
  const turns = new Float32Array(inverseFrequencies.length * 2);
  for (let j = 0; j < inverseFrequencies.length; j++) {
    const perPosition = inverseFrequencies[j]! / (2 * Math.PI);
    if (!(perPosition > 0 && Number.isFinite(perPosition))) throw new RangeError(`inv_freq[${j}] must be positive and finite, got ${inverseFrequencies[j]}`);
    const quantum = 2 ** (Math.floor(Math.log2(perPosition)) - 6);
    const hi = Math.round(perPosition / quantum) * quantum;
    turns[2 * j] = hi;
    turns[2 * j + 1] = perPosition - hi;
  }
  return turns;
}

/** Uploads inv_freq (from ropeInverseFrequencies) once per model as the [rotary_dim / 2, 2] tensor the kernel reads. */
export function createRopeFrequencies(device: GPUDevice, name: string, inverseFrequencies: ArrayLike<number>): GpuTensor {
  return createTensor(device, name, [inverseFrequencies.length, 2], 'f32', ropeFrequencyTurns(inverseFrequencies));
}

/** q [BT, H, D] or k [BT, Hkv, D], the position of each row [BT], and the frequencies from createRopeFrequencies. */
export interface RopeInputs {
  x: GpuTensor;
  positions: GpuTensor;
  frequencies: GpuTensor;
  /** Multiplies cos and sin (LongRoPE's attention factor); default 1. */
  scale?: number;
}

export interface RopeBackwardInputs {
  dy: GpuTensor;
  positions: GpuTensor;
  frequencies: GpuTensor;
  scale?: number;
}

/**
 * Encodes y = RoPE(x) in Hugging Face's rotate_half layout; dims past rotary_dim pass through.
 * Without `y` (or with y = x), rotates x in place. Call once for q and once for k. Validates first.
 */
export function encodeRope(ctx: GpuContext, encoder: GPUCommandEncoder, { x, positions, frequencies, scale = 1 }: RopeInputs, y?: GpuTensor): void {
  const { device } = ctx;
  const inPlace = y === undefined || y.buffer === x.buffer;
  const dims = checkRope(device, x, positions, frequencies, y ? [y] : []);
  const output = y ?? x;
  expectSeparateBuffers(OP, [output], inPlace ? [positions, frequencies, output] : [positions, frequencies, x, output]);
  // In place, pass-through dims are already where they belong: only the pairs are work items.
  const items = inPlace ? dims.half : dims.D - dims.half;
  const pipeline = ctx.pipelines.get(OP, shaderCode, 'rope_fwd', { IN_PLACE: inPlace ? 1 : 0 });
  const pass = encoder.beginComputePass({ label: `${OP} forward` });
  pass.setPipeline(pipeline);
  pass.setBindGroup(
    0,
    bindGroup(device, pipeline, [
      [0, dimsUniform(ctx, dims, items, scale)],
      [1, positions.buffer],
      [2, frequencies.buffer],
      // In place the input binding is unused but must exist; x is bound once, as the output.
      [3, inPlace ? ctx.placeholder : x.buffer],
      [4, output.buffer],
    ]),
  );
  pass.dispatchWorkgroups(gridStrideWorkgroups(dims.BT * dims.heads * items));
  pass.end();
}

/** Encodes dx += Rᵀ·dy, the transposed rotation (accumulating; the caller clears dx). Validates first. */
export function encodeRopeBackward(ctx: GpuContext, encoder: GPUCommandEncoder, { dy, positions, frequencies, scale = 1 }: RopeBackwardInputs, dx: GpuTensor): void {
  const { device } = ctx;
  const dims = checkRope(device, dy, positions, frequencies, [dx]);
  expectSeparateBuffers(OP, [dx], [dy, positions, frequencies, dx]);
  const items = dims.D - dims.half;
  const pipeline = ctx.pipelines.get(OP, shaderCode, 'rope_bwd');
  const pass = encoder.beginComputePass({ label: `${OP} backward` });
  pass.setPipeline(pipeline);
  pass.setBindGroup(
    0,
    bindGroup(device, pipeline, [
      [0, dimsUniform(ctx, dims, items, scale)],
      [1, positions.buffer],
      [2, frequencies.buffer],
      [5, dy.buffer],
      [6, dx.buffer],
    ]),
  );
  pass.dispatchWorkgroups(gridStrideWorkgroups(dims.BT * dims.heads * items));
  pass.end();
}

interface RopeDims {
  BT: number;
  heads: number;
  D: number;
  half: number;
}

function checkRope(device: GPUDevice, x: GpuTensor, positions: GpuTensor, frequencies: GpuTensor, outputs: readonly GpuTensor[]): RopeDims {
  expectRank(OP, x, 3, 'BT, heads, D');
  const [BT, heads, D] = x.shape as [number, number, number];
  for (const tensor of outputs) expectShape(OP, tensor, [BT, heads, D], 'BT, heads, D');
  expectIndexTensor(OP, device, positions, 'u32', [BT], 'BT');
  expectRank(OP, frequencies, 2, 'rotary_dim / 2, 2');
  const half = frequencies.shape[0]!;
  expectShape(OP, frequencies, [half, 2], 'rotary_dim / 2, 2');
  if (2 * half > D) {
    throw new ShapeError(`${OP}: tensor "${frequencies.name}" rotates ${2 * half} dims, more than head_dim D = ${D} of "${x.name}"`, {
      op: OP,
      tensor: frequencies.name,
      rotaryDim: 2 * half,
      D,
    });
  }
  for (const tensor of [x, frequencies, ...outputs]) {
    expectDType(OP, tensor, ['f32']);
    expectBindable(OP, device, tensor);
  }
  return { BT, heads, D, half };
}

function dimsUniform(ctx: GpuContext, { BT, heads, D, half }: RopeDims, items: number, scale: number): GPUBuffer {
  if (!(Number.isFinite(scale) && scale > 0)) throw new ShapeError(`${OP}: scale must be a positive finite number, got ${scale}`, { op: OP, scale });
  return ctx.uniforms.get(`${OP}:dims`, packUniforms([['u32', BT * heads], ['u32', heads], ['u32', D], ['u32', half], ['u32', items], ['f32', scale]]));
}
