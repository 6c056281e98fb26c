import shaderCode from '../../../shaders/sampling.wgsl?raw';
import type { GpuContext } from '../device.ts';
import { ShapeError } from '../errors.ts';
import type { Random } from '../../util/random.ts';
import { createIndexTensor, createTensor, type GpuTensor } from '../tensor.ts';
import { bindGroup, packUniforms } from './encode.ts';
import { expectBindable, expectDType, expectIndexTensor, expectRank, expectShape, expectWorkgroups } from './checks.ts';

const OP = 'sampling';

export interface TopPOptions {
  /** Softmax temperature, > 0 (use argmax for greedy decoding). */
  temperature: number;
  /** Nucleus mass in (0, 1]; 1 samples from the whole distribution. */
  topP: number;
}

/**
 * One number per row for encodeSampleTopP: 24 random bits over 2^24, exactly representable in f32 and
 * below 1 (a 32-bit draw from Random.next() can round up to 1.0 in f32).
 */
export function drawUniforms(random: Random, rows: number): Float32Array {
  return Float32Array.from({ length: rows }, () => (random.nextUint32() >>> 8) / 16777216);
}

function checkRows(device: GPUDevice, logits: GpuTensor, tokens: GpuTensor): { R: number; V: number } {
  expectRank(OP, logits, 2, 'R, V');
  expectDType(OP, logits, ['f32']);
  const [R, V] = logits.shape as [number, number];
  expectIndexTensor(OP, device, tokens, 'i32', [R], 'R');
  expectBindable(OP, device, logits);
  expectWorkgroups(OP, device, [R]);
  return { R, V };
}

function checkTopP({ temperature, topP }: TopPOptions): void {
  if (!(Number.isFinite(temperature) && temperature > 0)) {
    throw new ShapeError(`${OP}: temperature must be finite and > 0 (argmax is temperature 0), got ${temperature}`, { op: OP, temperature });
  }
  if (!(topP > 0 && topP <= 1)) throw new ShapeError(`${OP}: topP must be in (0, 1], got ${topP}`, { op: OP, topP });
}

function encodeRows(ctx: GpuContext, encoder: GPUCommandEncoder, entryPoint: string, R: number, uniform: GPUBuffer, bindings: [number, GPUBuffer][]): void {
  const pipeline = ctx.pipelines.get(OP, shaderCode, entryPoint);
  const pass = encoder.beginComputePass({ label: `${OP}:${entryPoint}` });
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup(ctx.device, pipeline, [[0, uniform], ...bindings]));
  pass.dispatchWorkgroups(R);
  pass.end();
}

/** Encodes tokens[r] = argmax_v logits[r, v] (ties to the lowest index, as torch.argmax). logits [R, V], tokens [R] i32. */
export function encodeArgmax(ctx: GpuContext, encoder: GPUCommandEncoder, logits: GpuTensor, tokens: GpuTensor): void {
  const { R, V } = checkRows(ctx.device, logits, tokens);
  const uniform = ctx.uniforms.get(`${OP}:params`, packUniforms([['u32', V], ['f32', 1], ['f32', 1]]));
  encodeRows(ctx, encoder, 'argmax_rows', R, uniform, [
    [1, logits.buffer],
    [3, tokens.buffer],
  ]);
}

/**
 * Encodes temperature + top-p (nucleus) sampling of one token per row: `u` [R] f32 holds one uniform
 * number in [0, 1) per row from the caller's seeded Random, so the choice is reproducible and the
 * Float64 reference (sampleTopPReference) makes the same one.
 */
export function encodeSampleTopP(ctx: GpuContext, encoder: GPUCommandEncoder, logits: GpuTensor, u: GpuTensor, tokens: GpuTensor, options: TopPOptions): void {
  const { R, V } = checkRows(ctx.device, logits, tokens);
  checkTopP(options);
  expectShape(OP, u, [R], 'R');
  expectDType(OP, u, ['f32']);
  expectBindable(OP, ctx.device, u);
  const uniform = ctx.uniforms.get(`${OP}:params`, packUniforms([['u32', V], ['f32', 1 / options.temperature], ['f32', options.topP]]));
  encodeRows(ctx, encoder, 'sample_top_p', R, uniform, [
    [1, logits.buffer],
    [2, u.buffer],
    [3, tokens.buffer],
  ]);
}

/** One-shot argmax (tests): allocates the tokens, encodes, submits. */
export function argmax(ctx: GpuContext, logits: GpuTensor): GpuTensor {
  const tokens = createIndexTensor(ctx.device, 'tokens', [logits.shape[0] ?? 0], 'i32');
  try {
    const encoder = ctx.device.createCommandEncoder({ label: `${OP}:argmax` });
    encodeArgmax(ctx, encoder, logits, tokens);
    ctx.device.queue.submit([encoder.finish()]);
  } catch (error) {
    tokens.buffer.destroy();
    throw error;
  }
  return tokens;
}

/** One-shot top-p sampling (tests): checks the random numbers on the CPU, uploads them, encodes, submits. */
export function sampleTopP(ctx: GpuContext, logits: GpuTensor, u: Float32Array, options: TopPOptions): GpuTensor {
  const bad = u.findIndex((value) => !(value >= 0 && value < 1));
  if (bad >= 0) throw new ShapeError(`${OP}: u[${bad}] = ${u[bad]} is outside [0, 1)`, { op: OP, index: bad });
  const tokens = createIndexTensor(ctx.device, 'tokens', [logits.shape[0] ?? 0], 'i32');
  const uTensor = createTensor(ctx.device, 'u', [u.length], 'f32', u);
  try {
    const encoder = ctx.device.createCommandEncoder({ label: `${OP}:top_p` });
    encodeSampleTopP(ctx, encoder, logits, uTensor, tokens, options);
    ctx.device.queue.submit([encoder.finish()]);
  } catch (error) {
    tokens.buffer.destroy();
    throw error;
  } finally {
    uTensor.buffer.destroy();
  }
  return tokens;
}
