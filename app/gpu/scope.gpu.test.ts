import { describe, expect, it } from 'vitest';
import { failNextAllocation } from '../../test/gpu-faults.ts';
import { setUpTestGpu } from '../../test/gpu-harness.ts';
import { guardGpu, throwGpuErrors, withinErrorScopes } from './scope.ts';
import { createTensor } from './tensor.ts';

// Runs in Dawn (Node) and in Chromium: the errors are the driver's own.
const gpu = setUpTestGpu();

describe('GPU error scopes around units of work', () => {
  it('an allocation past what the adapter can back fails the work with OUT_OF_MEMORY, the GPU message and what to do', async () => {
    const { ctx } = gpu;
    const undo = failNextAllocation(ctx.device);
    const work = withinErrorScopes(ctx, 'allocating the test batch', () => gpu.track(createTensor(ctx.device, 'activations', [1024], 'f32')));
    undo();
    const error = await work.errors;
    expect(error).toMatchObject({ code: 'OUT_OF_MEMORY', details: { what: 'allocating the test batch' } });
    expect(error!.message).toMatch(/^allocating the test batch failed on the GPU\. The GPU ran out of memory: .+ a smaller batch_size, recompute: true, a shorter max_length/s);
  });

  it('a submit the GPU refuses (a destroyed buffer) fails with VALIDATION, and nothing after it runs unknowingly', async () => {
    const { ctx } = gpu;
    const source = gpu.upload('source', [4], Float32Array.of(1, 2, 3, 4));
    const target = gpu.upload('target', [4]);
    source.buffer.destroy();
    const work = withinErrorScopes(ctx, 'a test submit', () => {
      const encoder = ctx.device.createCommandEncoder();
      encoder.copyBufferToBuffer(source.buffer, 0, target.buffer, 0, 16);
      ctx.device.queue.submit([encoder.finish()]);
    });
    await expect(throwGpuErrors(work)).rejects.toMatchObject({ code: 'VALIDATION', message: expect.stringMatching(/^a test submit failed on the GPU\. WebGPU validation error: .*destroyed/is) });
  });

  it('work without errors resolves with no error, and scopes do not leak into later work', async () => {
    const { ctx } = gpu;
    const clean = withinErrorScopes(ctx, 'clean work', () => gpu.track(createTensor(ctx.device, 'small', [16], 'f32')));
    expect(await clean.errors).toBeUndefined();
    const again = withinErrorScopes(ctx, 'more clean work', () => 7);
    expect(again.value).toBe(7);
    expect(await again.errors).toBeUndefined();
  });

  it('forgets cached uniform buffers after an error, so an invalid one is never bound again', async () => {
    const { ctx } = gpu;
    const undo = failNextAllocation(ctx.device);
    const poisoned = withinErrorScopes(ctx, 'a uniform', () => ctx.uniforms.get('test:dims', Uint32Array.of(1, 2, 3, 4).buffer));
    undo();
    expect(await poisoned.errors).toMatchObject({ code: 'OUT_OF_MEMORY' });
    const fresh = withinErrorScopes(ctx, 'the same uniform', () => ctx.uniforms.get('test:dims', Uint32Array.of(1, 2, 3, 4).buffer));
    expect(fresh.value).not.toBe(poisoned.value);
    expect(await fresh.errors).toBeUndefined();
  });

  it('guardGpu frees what the work made when the scopes report an error, and passes on a thrown one', async () => {
    const { ctx } = gpu;
    let disposed = 0;
    const undo = failNextAllocation(ctx.device);
    await expect(guardGpu(ctx, 'an upload', async () => createTensor(ctx.device, 'weights', [64], 'f32'), (tensor) => (disposed++, tensor.buffer.destroy()))).rejects.toMatchObject({ code: 'OUT_OF_MEMORY' });
    undo();
    expect(disposed).toBe(1);
    await expect(guardGpu(ctx, 'an upload', async () => Promise.reject(new Error('file unreadable')))).rejects.toThrow('file unreadable');
    expect(await guardGpu(ctx, 'an upload', async () => 'ok')).toBe('ok');
  });
});
