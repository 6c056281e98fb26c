import { storageBytes, type DType } from './dtype.ts';

/** A named GPU buffer with a row-major shape. The name travels into error messages and debug labels. */
export interface GpuTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly buffer: GPUBuffer;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((product, dim) => product * dim, 1);
}

/** Allocates a tensor; with `data` (already encoded for its dtype, see encodeTensorData) it is uploaded. */
export function createTensor(
  device: GPUDevice,
  name: string,
  shape: readonly number[],
  dtype: DType,
  data?: Uint32Array | Float32Array,
): GpuTensor {
  const size = Math.max(4, storageBytes(dtype, elementCount(shape)));
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const buffer = device.createBuffer({ label: name, size, usage, mappedAtCreation: data !== undefined });
  if (data) {
    new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, Math.min(data.byteLength, size)));
    buffer.unmap();
  }
  return { name, shape: [...shape], dtype, buffer };
}

/** Copies an f32 tensor back to the CPU. One round trip: call it outside hot loops. */
export async function readTensor(device: GPUDevice, tensor: GpuTensor): Promise<Float32Array> {
  if (tensor.dtype !== 'f32') throw new TypeError(`readTensor reads f32 tensors; ${tensor.name} is ${tensor.dtype}`);
  const bytes = elementCount(tensor.shape) * 4;
  const staging = device.createBuffer({ label: `${tensor.name}:readback`, size: Math.max(4, bytes), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder({ label: `read ${tensor.name}` });
  encoder.copyBufferToBuffer(tensor.buffer, 0, staging, 0, Math.max(4, bytes));
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(staging.getMappedRange(0, bytes).slice(0));
  staging.unmap();
  staging.destroy();
  return out;
}

/** The same buffer seen with another shape of the same element count (a reshape; no copy). */
export function view(tensor: GpuTensor, shape: readonly number[]): GpuTensor {
  if (elementCount(shape) !== elementCount(tensor.shape)) {
    throw new RangeError(`cannot view "${tensor.name}" [${tensor.shape.join(', ')}] as [${shape.join(', ')}]: element counts differ`);
  }
  return { ...tensor, shape: [...shape] };
}
