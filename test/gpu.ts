import type { AcquireOptions, GpuContext } from '../app/gpu/device.ts';
import { acquireGpu } from '../app/gpu/device.ts';

/**
 * The GPU for a test file: Dawn in Node, navigator.gpu in Chromium. Never skips: with no adapter the
 * test fails with the reason and what to install.
 */
export async function acquireTestGpu(options: Pick<AcquireOptions, 'withoutFeatures'> = {}): Promise<GpuContext> {
  const inBrowser = typeof window !== 'undefined' && typeof navigator !== 'undefined';
  if (inBrowser) return acquireGpu(navigator.gpu, { label: 'browser test', ...options });
  const { acquireNodeGpu } = await import('../app/gpu/node-gpu.ts');
  return acquireNodeGpu({ label: 'node test', ...options });
}
