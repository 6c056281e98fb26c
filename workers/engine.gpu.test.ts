import { afterAll, describe, expect, it } from 'vitest';
import { acquireTestGpu } from '../test/gpu.ts';
import { EngineBridge } from '../app/state/bridge.ts';
import { messagePortWorker } from '../test/ports.ts';
import type { SelfTestProgress } from '../app/gpu/selftest.ts';
import { createEngine } from './engine.ts';

const channel = new MessageChannel();
const handle = createEngine((event) => channel.port2.postMessage(event), acquireTestGpu);
channel.port2.onmessage = (event) => handle(event.data);
const bridge = new EngineBridge(messagePortWorker(channel.port1));
afterAll(() => {
  bridge.dispose();
  channel.port2.close();
});

describe('engine over the protocol, on a real GPU', () => {
  it('describes the GPU it acquired', async () => {
    const info = await bridge.request('gpu.info', {});
    expect(info.adapter.vendor.length + info.adapter.architecture.length).toBeGreaterThan(0);
    expect(info.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 1024 * 1024);
  });

  it('cancels a running self-test and answers it with CANCELLED', async () => {
    const controller = new AbortController();
    const seen: SelfTestProgress[] = [];
    const running = bridge.request('gpu.selftest', {}, {
      signal: controller.signal,
      onProgress: (progress) => {
        seen.push(progress);
        if (progress.done === 2) controller.abort();
      },
    });
    await expect(running).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(seen.at(-1)!.done).toBeLessThan(seen.at(-1)!.total);
  });
});
