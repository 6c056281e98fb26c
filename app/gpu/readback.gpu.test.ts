import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireTestGpu } from '../../test/gpu.ts';
import type { GpuContext } from './device.ts';
import { ReadbackBuffer, readTensors } from './readback.ts';
import { createIndexTensor, createTensor, readTensor, type GpuTensor } from './tensor.ts';

let ctx: GpuContext;
const made: GpuTensor[] = [];
beforeAll(async () => {
  ctx = await acquireTestGpu();
});
afterAll(() => {
  for (const tensor of made) tensor.buffer.destroy();
  ctx?.destroy();
});

function f32(name: string, length: number, seed: number): { tensor: GpuTensor; values: Float32Array } {
  const values = Float32Array.from({ length }, (_, i) => Math.sin(seed * 1000 + i) * (i + 1));
  const tensor = createTensor(ctx.device, name, [length], 'f32', values);
  made.push(tensor);
  return { tensor, values };
}

describe('reading results back in one round trip', () => {
  it('gives each tensor’s values, in order, as readTensor gives them one by one', async () => {
    const tensors = [f32('a', 7, 1), f32('b', 1, 2), f32('c', 1000, 3)];
    const together = await readTensors(ctx.device, tensors.map((t) => t.tensor));
    for (const [index, { tensor, values }] of tensors.entries()) {
      expect(together[index]).toEqual(values);
      expect(together[index]).toEqual(await readTensor(ctx.device, tensor));
    }
  });

  it('splits the copies over several staging buffers when they would not fit in one', async () => {
    const tensors = [f32('d', 300, 4), f32('e', 300, 5), f32('f', 500, 6)];
    const together = await readTensors(ctx.device, tensors.map((t) => t.tensor), 1600);
    expect(together).toEqual(tensors.map((t) => t.values));
  });

  it('keeps what a buffer held when it was copied, though the buffer is overwritten before the read', async () => {
    const { tensor } = f32('g', 4, 7);
    const readback = new ReadbackBuffer(ctx.device, 'test', 32);
    try {
      const snapshots = [];
      for (const value of [1.5, -2.25]) {
        ctx.device.queue.writeBuffer(tensor.buffer, 0, new Float32Array(4).fill(value));
        const encoder = ctx.device.createCommandEncoder();
        snapshots.push(readback.copy(encoder, tensor));
        ctx.device.queue.submit([encoder.finish()]);
      }
      const read = await readback.read();
      expect(Array.from(read.f32(snapshots[0]!))).toEqual([1.5, 1.5, 1.5, 1.5]);
      expect(Array.from(read.f32(snapshots[1]!))).toEqual([-2.25, -2.25, -2.25, -2.25]);
      // Read, the buffer is empty again and collects the next batch.
      const encoder = ctx.device.createCommandEncoder();
      const again = readback.copy(encoder, tensor);
      ctx.device.queue.submit([encoder.finish()]);
      expect(Array.from((await readback.read()).f32(again))).toEqual([-2.25, -2.25, -2.25, -2.25]);
    } finally {
      readback.destroy();
    }
  });

  it('refuses a copy past its capacity, naming the tensor, and a 16-bit tensor', () => {
    const readback = new ReadbackBuffer(ctx.device, 'step', 8);
    try {
      const encoder = ctx.device.createCommandEncoder();
      expect(() => readback.copy(encoder, f32('too big', 3, 8).tensor)).toThrow(/step: too big \(12 bytes\) does not fit; 8 of 8 bytes are left/);
      const packed = createTensor(ctx.device, 'bf16 weights', [4], 'bf16');
      made.push(packed);
      expect(() => readback.copy(encoder, packed)).toThrow(/readback copies 32-bit tensors; bf16 weights is bf16/);
      const ids = createIndexTensor(ctx.device, 'ids', [2], 'u32', [1, 2]);
      made.push(ids);
      expect(readback.copy(encoder, ids)).toEqual({ offset: 0, length: 2 });
    } finally {
      readback.destroy();
    }
  });
});
