import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireTestGpu } from '../../../test/gpu.ts';
import type { GpuContext } from '../device.ts';
import { decodeTensorData, encodeTensorData, type DType } from '../dtype.ts';
import { LimitError, ShapeError } from '../errors.ts';
import { loraLinearReference } from '../reference/lora_linear.ts';
import { createTensor, readTensor, type GpuTensor } from '../tensor.ts';
import { Random } from '../../util/random.ts';
import { loraLinear } from './lora_linear.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await acquireTestGpu();
});
afterAll(() => ctx?.destroy());

interface Case {
  M: number;
  N: number;
  K: number;
  R: number;
  dtype: DType;
  bias: boolean;
}

/** Runs one case on the GPU and in Float64; returns max |gpu - ref| / max |ref|. */
async function relativeError({ M, N, K, R, dtype, bias }: Case, seed = 1): Promise<number> {
  const random = Random.fromSeed(seed);
  const values = (count: number, scale: number): Float32Array => random.fillUniform(new Float32Array(count), -scale, scale);
  const x = values(M * K, 1);
  const wPacked = encodeTensorData(dtype, values(N * K, 1 / Math.sqrt(K)));
  const b = values(N, 0.5);
  const a = values(R * K, 1 / Math.sqrt(K));
  const loraB = values(N * R, 0.5);
  const scale = 16 / Math.max(R, 1);
  const device = ctx.device;
  const tensors: GpuTensor[] = [];
  const upload = (name: string, shape: number[], type: DType, data: Uint32Array | Float32Array): GpuTensor => {
    const tensor = createTensor(device, name, shape, type, data);
    tensors.push(tensor);
    return tensor;
  };
  const y = loraLinear(ctx, {
    x: upload('X', [M, K], 'f32', x),
    w: upload('W', [N, K], dtype, wPacked),
    ...(bias ? { bias: upload('bias', [N], 'f32', b) } : {}),
    ...(R > 0 ? { lora: { a: upload('A', [R, K], 'f32', a), b: upload('B', [N, R], 'f32', loraB), scale } } : {}),
  });
  const got = await readTensor(device, y);
  const want = loraLinearReference({
    M, N, K, R, scale,
    x, w: decodeTensorData(dtype, wPacked, N * K), a, b: loraB, ...(bias ? { bias: b } : {}),
  });
  for (const tensor of [...tensors, y]) tensor.buffer.destroy();
  let maxError = 0;
  let maxRef = 0;
  for (let i = 0; i < want.length; i++) {
    expect(Number.isFinite(got[i]!), `Y[${i}] is finite`).toBe(true);
    maxError = Math.max(maxError, Math.abs(got[i]! - want[i]!));
    maxRef = Math.max(maxRef, Math.abs(want[i]!));
  }
  return maxError / maxRef;
}

describe('lora_linear forward: Y = X·Wᵀ + bias + s·(X·Aᵀ)·Bᵀ', () => {
  const shapes = [
    [1, 1, 1],
    [7, 13, 29],
    [64, 576, 576],
    [130, 192, 576],
  ] as const;
  for (const dtype of ['f32', 'bf16', 'f16'] as const) {
    for (const [M, N, K] of shapes) {
      for (const R of [1, 8, 16]) {
        it(`matches the Float64 reference to 1e-4 of the output scale for M=${M} N=${N} K=${K} R=${R} with ${dtype} weights`, async () => {
          expect(await relativeError({ M, N, K, R, dtype, bias: true })).toBeLessThan(1e-4);
        });
      }
    }
  }

  it('computes the frozen layer alone when no LoRA pair is given', async () => {
    expect(await relativeError({ M: 9, N: 33, K: 70, R: 0, dtype: 'bf16', bias: false })).toBeLessThan(1e-4);
  });

  it('handles rank 64 and K not a multiple of 4 on rows past a workgroup edge', async () => {
    expect(await relativeError({ M: 33, N: 35, K: 31, R: 64, dtype: 'f16', bias: false })).toBeLessThan(1e-4);
  });
});

describe('lora_linear refuses bad calls before dispatch', () => {
  const tensor = (name: string, shape: number[], dtype: DType = 'f32'): GpuTensor => createTensor(ctx.device, name, shape, dtype);

  it('names the tensor and both shapes when W does not match X', () => {
    const call = () => loraLinear(ctx, { x: tensor('X', [4, 8]), w: tensor('W', [3, 9]) });
    expect(call).toThrow(ShapeError);
    expect(call).toThrow(/tensor "W" has shape \[3, 9\], expected \[N, K\] = \[3, 8\]/);
  });

  it('names the tensor when B does not match the rank of A', () => {
    const call = () =>
      loraLinear(ctx, { x: tensor('X', [4, 8]), w: tensor('W', [3, 8]), lora: { a: tensor('A', [2, 8]), b: tensor('B', [3, 4]), scale: 1 } });
    expect(call).toThrow(/tensor "B" has shape \[3, 4\], expected \[N, R\] = \[3, 2\]/);
  });

  it('refuses an f16 activation: only frozen weights may be half precision', () => {
    expect(() => loraLinear(ctx, { x: tensor('X', [4, 8], 'f16'), w: tensor('W', [3, 8]) })).toThrow(/"X" is f16; this op takes f32/);
  });

  it('names the tensor and the limit when a tensor is over maxStorageBufferBindingSize', () => {
    const limit = ctx.device.limits.maxStorageBufferBindingSize;
    const fakeHuge: GpuTensor = { name: 'embed_tokens', shape: [3, 8], dtype: 'f32', buffer: { size: limit + 4 } as GPUBuffer };
    const call = () => loraLinear(ctx, { x: tensor('X', [4, 8]), w: fakeHuge });
    expect(call).toThrow(LimitError);
    expect(call).toThrow(new RegExp(`"embed_tokens" needs ${limit + 4} bytes.*maxStorageBufferBindingSize of ${limit}`));
  });
});
