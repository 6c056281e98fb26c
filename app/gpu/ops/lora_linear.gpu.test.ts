import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireTestGpu } from '../../../test/gpu.ts';
import type { GpuContext } from '../device.ts';
import type { DType } from '../dtype.ts';
import { LimitError, ShapeError } from '../errors.ts';
import { SELF_TEST_CASES, checkLoraLinearCase, describeCase } from '../selftest.ts';
import { createTensor, type GpuTensor } from '../tensor.ts';
import { loraLinear } from './lora_linear.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await acquireTestGpu();
});
afterAll(() => ctx?.destroy());

describe('lora_linear forward: Y = X·Wᵀ + bias + s·(X·Aᵀ)·Bᵀ', () => {
  // M, N, K ∈ {1×1×1, 7×13×29, 64×576×576, 130×192×576}, R ∈ {1, 8, 16}, weights f32, bf16 and f16.
  for (const testCase of SELF_TEST_CASES) {
    it(`matches the Float64 reference to 1e-4 of the output scale for ${describeCase(testCase)}`, async () => {
      const { relativeError } = await checkLoraLinearCase(ctx, testCase);
      expect(relativeError).toBeLessThan(1e-4);
    });
  }

  it('computes the frozen layer alone when no LoRA pair is given', async () => {
    const { relativeError } = await checkLoraLinearCase(ctx, { M: 9, N: 33, K: 70, R: 0, dtype: 'bf16', bias: false });
    expect(relativeError).toBeLessThan(1e-4);
  });

  it('handles rank 64 with K not a multiple of 4 and rows past a workgroup edge', async () => {
    const { relativeError } = await checkLoraLinearCase(ctx, { M: 33, N: 35, K: 31, R: 64, dtype: 'f16', bias: false });
    expect(relativeError).toBeLessThan(1e-4);
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
    // Only the buffer's size is read before dispatch, so no real gigabyte allocation is needed.
    const oversized: GpuTensor = { name: 'embed_tokens', shape: [3, 8], dtype: 'f32', buffer: { size: limit + 4 } as GPUBuffer };
    const call = () => loraLinear(ctx, { x: tensor('X', [4, 8]), w: oversized });
    expect(call).toThrow(LimitError);
    expect(call).toThrow(new RegExp(`"embed_tokens" needs ${limit + 4} bytes.*maxStorageBufferBindingSize of ${limit}`));
  });

  it('names the limit when M needs more workgroups than a dimension allows', () => {
    const rows = (ctx.device.limits.maxComputeWorkgroupsPerDimension + 1) * 32;
    const x: GpuTensor = { name: 'X', shape: [rows, 1], dtype: 'f32', buffer: { size: rows * 4 } as GPUBuffer };
    expect(() => loraLinear(ctx, { x, w: tensor('W', [3, 1]) })).toThrow(/maxComputeWorkgroupsPerDimension/);
  });
});
