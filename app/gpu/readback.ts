/**
 * Reading small results back without one GPU round trip each. Every mapAsync waits for the queue to
 * drain, so a training step that read its per-row losses after each micro-batch, then the loss sums,
 * then each adapter's optimizer status, stopped the GPU that many times; a checkpoint that read each
 * LoRA tensor on its own waited over a thousand times for a 30-layer model. Here copies are encoded
 * where the values are final, into one staging buffer, and read with one map.
 */
import { LimitError } from './errors.ts';
import { byteOffset, elementCount, type GpuTensor } from './tensor.ts';

/** A staging buffer that collects copies of f32 (or 32-bit status) tensors, read back in one map. */
export class ReadbackBuffer {
  private readonly staging: GPUBuffer;
  private used = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly label: string,
    readonly capacity: number,
  ) {
    this.staging = device.createBuffer({ label: `${label}:readback`, size: Math.max(4, capacity), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  /** GPU memory of the staging buffer. */
  get bytes(): number {
    return this.staging.size;
  }

  /** Encodes a copy of the tensor's words; returns where they will be in the result. */
  copy(encoder: GPUCommandEncoder, tensor: GpuTensor): ReadbackSlot {
    const bytes = tensorBytes(tensor);
    if (this.used + bytes > this.capacity) {
      throw new LimitError(`${this.label}: ${tensor.name} (${bytes} bytes) does not fit; ${this.capacity - this.used} of ${this.capacity} bytes are left`, { tensor: tensor.name });
    }
    const slot = { offset: this.used, length: bytes / 4 };
    if (bytes > 0) encoder.copyBufferToBuffer(tensor.buffer, byteOffset(tensor), this.staging, this.used, bytes);
    this.used += bytes;
    return slot;
  }

  /** Forgets copies encoded but never read (a step that failed half way), so the next batch has the whole buffer. */
  reset(): void {
    this.used = 0;
  }

  /**
   * Waits for every copy encoded so far (they must have been submitted) and returns their words; the
   * buffer is then empty and can collect the next batch.
   */
  async read(): Promise<ReadbackResult> {
    const used = this.used;
    this.used = 0;
    if (used === 0) return new ReadbackResult(new Float32Array(0));
    await this.staging.mapAsync(GPUMapMode.READ, 0, used);
    const words = new Float32Array(this.staging.getMappedRange(0, used).slice(0));
    this.staging.unmap();
    return new ReadbackResult(words);
  }

  destroy(): void {
    this.staging.destroy();
  }
}

export interface ReadbackSlot {
  /** Byte offset in the staging buffer. */
  offset: number;
  /** 32-bit words. */
  length: number;
}

export class ReadbackResult {
  constructor(private readonly words: Float32Array) {}

  /** The slot's words as f32 (a view, not a copy). */
  f32(slot: ReadbackSlot): Float32Array {
    return this.words.subarray(slot.offset / 4, slot.offset / 4 + slot.length);
  }
}

/** Bytes a readback copies: f32 and 32-bit index tensors alike (packed 16-bit weights are not read back). */
export function tensorBytes(tensor: GpuTensor): number {
  if (tensor.dtype !== 'f32' && tensor.dtype !== 'u32' && tensor.dtype !== 'i32') throw new TypeError(`readback copies 32-bit tensors; ${tensor.name} is ${tensor.dtype}`);
  return elementCount(tensor.shape) * 4;
}

/** Staging buffers are kept well under any adapter's maxBufferSize (256 MiB by default). */
export const MAX_STAGING_BYTES = 64 * 1024 * 1024;

/**
 * Many f32 tensors read back together: one encoder of copies into as few staging buffers as fit
 * under `maxStagingBytes`, all mapped at once. Returns copies in the order given.
 */
export async function readTensors(device: GPUDevice, tensors: readonly GpuTensor[], maxStagingBytes = MAX_STAGING_BYTES): Promise<Float32Array[]> {
  const groups: GpuTensor[][] = [];
  let groupBytes = Number.POSITIVE_INFINITY;
  for (const tensor of tensors) {
    const bytes = tensorBytes(tensor);
    if (groupBytes + bytes > maxStagingBytes) {
      groups.push([]);
      groupBytes = 0;
    }
    groups.at(-1)!.push(tensor);
    groupBytes += bytes;
  }
  const encoder = device.createCommandEncoder({ label: `read ${tensors.length} tensors` });
  const batches = groups.map((group, index) => {
    const buffer = new ReadbackBuffer(device, `tensors ${index + 1} of ${groups.length}`, group.reduce((sum, tensor) => sum + tensorBytes(tensor), 0));
    return { buffer, slots: group.map((tensor) => buffer.copy(encoder, tensor)) };
  });
  device.queue.submit([encoder.finish()]);
  try {
    const results = await Promise.all(batches.map(({ buffer }) => buffer.read()));
    return batches.flatMap(({ slots }, index) => slots.map((slot) => results[index]!.f32(slot).slice()));
  } finally {
    for (const { buffer } of batches) buffer.destroy();
  }
}
