import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineBridge, type EngineError } from '../app/state/bridge.ts';
import type { GpuContext } from '../app/gpu/device.ts';
import { openFileStorage } from '../app/store/fs.ts';
import { acquireTestGpu } from '../test/gpu.ts';
import { messagePortWorker } from '../test/ports.ts';
import { createEngine } from './engine.ts';

/**
 * An error the GPU raises outside every error scope (WebGPU's uncapturederror) reaches the studio as a
 * gpu-error event with the GPU's own message, instead of only the console of the worker.
 */
let root: string;
let ctx: GpuContext | undefined;
let bridge: EngineBridge;
let channel: MessageChannel;
const gpuErrors: EngineError[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'cocktail-gpu-error-'));
  const storage = await openFileStorage(root);
  channel = new MessageChannel();
  const handle = createEngine(
    (event) => channel.port2.postMessage(event),
    async () => (ctx = await acquireTestGpu()),
    async () => storage,
  );
  channel.port2.onmessage = (event) => handle(event.data);
  bridge = new EngineBridge(messagePortWorker(channel.port1), { onGpuError: (error) => gpuErrors.push(error) });
});
afterAll(async () => {
  bridge.dispose();
  channel.port2.close();
  ctx?.destroy();
  await rm(root, { recursive: true, force: true });
});

describe('errors outside every scope reach the studio', { timeout: 60_000 }, () => {
  it('an uncaptured validation error on the engine’s device arrives as a gpu-error event with the GPU’s message', async () => {
    await bridge.request('gpu.info', {});
    expect(ctx).toBeDefined();
    // A mappable buffer may only be combined with COPY_DST/COPY_SRC: this usage is invalid, and no scope is open.
    ctx!.device.createBuffer({ label: 'outside every scope', size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.STORAGE });
    await ctx!.device.queue.onSubmittedWorkDone();
    await expect.poll(() => gpuErrors.length, { timeout: 10_000 }).toBe(1);
    expect(gpuErrors[0]).toMatchObject({ code: 'VALIDATION', message: expect.stringMatching(/^WebGPU validation error: .*outside every scope/s) });
  });
});
