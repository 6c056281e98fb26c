import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireTestGpu } from '../../test/gpu.ts';
import { WANTED_FEATURES, pipelineKey, type GpuContext } from './device.ts';
import type { GpuError } from './errors.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await acquireTestGpu();
  const { adapter } = ctx.info;
  // Printed on purpose: the CI log shows which real adapter the GPU tests ran on.
  console.info(`WebGPU adapter: ${adapter.vendor} / ${adapter.architecture} / ${adapter.device} / ${adapter.description}`);
});
afterAll(() => ctx?.destroy());

describe('acquireGpu', () => {
  it('asks for the adapter’s real limits, not the WebGPU defaults', () => {
    expect(ctx.device.limits.maxStorageBufferBindingSize).toBe(ctx.info.limits.maxStorageBufferBindingSize);
    expect(ctx.info.limits.maxComputeInvocationsPerWorkgroup).toBeGreaterThanOrEqual(256);
    expect(Object.keys(ctx.info.limits).length).toBeGreaterThan(20);
  });

  it('enables every wanted feature the adapter offers and reports each one', () => {
    for (const feature of WANTED_FEATURES) {
      expect(ctx.info.wantedFeatures[feature]).toBe(ctx.info.features.includes(feature));
      expect(ctx.device.features.has(feature)).toBe(ctx.info.wantedFeatures[feature]);
    }
  });

  it('turns an uncaptured validation error into a typed VALIDATION error', { timeout: 10_000 }, async () => {
    const seen = new Promise<GpuError>((resolve) => {
      const unsubscribe = ctx.onError((error) => {
        unsubscribe();
        resolve(error);
      });
    });
    // A mappable buffer may only be combined with COPY_DST/COPY_SRC: this usage is invalid.
    ctx.device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.STORAGE });
    // Browsers deliver errors from the GPU process asynchronously; a queue round trip flushes them.
    await ctx.device.queue.onSubmittedWorkDone();
    const error = await seen;
    expect(error.code).toBe('VALIDATION');
    expect(error.message).toMatch(/validation/i);
  });
});

describe('PipelineCache', () => {
  const code = '@group(0) @binding(0) var<storage, read_write> out: array<f32>;\noverride VALUE: f32 = 1.0;\n@compute @workgroup_size(1) fn main() { out[0] = VALUE; }';

  it('returns the same pipeline for the same shader and constants, another for other constants', () => {
    const before = ctx.pipelines.size;
    const one = ctx.pipelines.get('test_fill', code, 'main', { VALUE: 2 });
    expect(ctx.pipelines.get('test_fill', code, 'main', { VALUE: 2 })).toBe(one);
    expect(ctx.pipelines.get('test_fill', code, 'main', { VALUE: 3 })).not.toBe(one);
    expect(ctx.pipelines.size).toBe(before + 2);
  });

  it('keys constants independently of their order', () => {
    expect(pipelineKey('op', 'main', { A: 1, B: 2 })).toBe(pipelineKey('op', 'main', { B: 2, A: 1 }));
  });
});

describe('device loss', () => {
  it('resolves `lost` with a typed DEVICE_LOST error that says why', async () => {
    const own = await acquireTestGpu();
    own.destroy();
    const error = await own.lost;
    expect(error.code).toBe('DEVICE_LOST');
    expect(error.details.reason).toBe('destroyed');
  });
});
