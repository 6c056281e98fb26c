import { afterAll, afterEach, beforeAll } from 'vitest';
import type { GpuContext } from '../app/gpu/device.ts';
import type { DType, IndexDType } from '../app/gpu/dtype.ts';
import { createTensor, type GpuTensor } from '../app/gpu/tensor.ts';
import { acquireTestGpu } from './gpu.ts';

export interface TestGpu {
  /** The file's GPU, acquired before its tests (fails them, never skips, when there is no adapter). */
  readonly ctx: GpuContext;
  /** Allocates (and uploads) a tensor that is destroyed after the test. */
  upload(name: string, shape: number[], values?: Float32Array | Uint32Array | Int32Array, dtype?: DType | IndexDType): GpuTensor;
  /** Destroys a tensor made elsewhere after the test. */
  track<T extends GpuTensor>(tensor: T): T;
  /** Encodes, submits, and fails on any validation error instead of reading garbage. */
  submit(encode: (encoder: GPUCommandEncoder) => void): Promise<void>;
}

/** The usual setup of a kernel test file: one device, tensors cleaned up after each test. */
export function setUpTestGpu(): TestGpu {
  let context: GpuContext | undefined;
  const created: GpuTensor[] = [];
  beforeAll(async () => {
    context = await acquireTestGpu();
  });
  afterAll(() => context?.destroy());
  afterEach(() => {
    for (const tensor of created.splice(0)) tensor.buffer.destroy();
  });
  const gpu: TestGpu = {
    get ctx() {
      if (!context) throw new Error('the GPU is acquired in beforeAll; use it inside tests');
      return context;
    },
    upload(name, shape, values, dtype = 'f32') {
      return gpu.track(createTensor(gpu.ctx.device, name, shape, dtype, values));
    },
    track(tensor) {
      created.push(tensor);
      return tensor;
    },
    async submit(encode) {
      const { device } = gpu.ctx;
      device.pushErrorScope('validation');
      const encoder = device.createCommandEncoder();
      encode(encoder);
      device.queue.submit([encoder.finish()]);
      const error = await device.popErrorScope();
      if (error) throw new Error(error.message);
    },
  };
  return gpu;
}
