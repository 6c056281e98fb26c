import { ShapeError } from './errors.ts';
import { storageBytes, type DType, type IndexDType, type TensorDType } from './dtype.ts';

/** A named GPU buffer with a row-major shape. The name travels into error messages and debug labels. */
export interface GpuTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: TensorDType;
  readonly buffer: GPUBuffer;
  /** int4 only: elements per scale and zero point (app/gpu/quant.ts). */
  readonly group?: number;
  /**
   * A view into a buffer shared with other tensors (the flat LoRA layout, app/model/lora-gpu.ts): its
   * first byte in `buffer`, a multiple of VIEW_ALIGNMENT. Absent: the tensor owns its buffer from byte 0.
   */
  readonly offset?: number;
}

/** WebGPU's largest minStorageBufferOffsetAlignment: a view that starts on it can be bound on every device. */
export const VIEW_ALIGNMENT = 256;

/** Buffers that hold views: binding one whole (tensorBinding refuses it) would silently read another tensor's bytes. */
const viewedBuffers = new WeakSet<GPUBuffer>();

/** Marks `buffer` as holding views, so that binding it whole instead of one of its views is refused. */
export function holdsViews(buffer: GPUBuffer): void {
  viewedBuffers.add(buffer);
}

/** Whether `buffer` holds views (see holdsViews). */
export function isViewedBuffer(buffer: GPUBuffer): boolean {
  return viewedBuffers.has(buffer);
}

/** The tensor's first byte in its buffer (0 unless it is a view). */
export function byteOffset(tensor: GpuTensor): number {
  return tensor.offset ?? 0;
}

/** `count` elements of `dtype` at byte `offset` of `buffer`: a view that binds only its own range. */
export function viewAt(buffer: GPUBuffer, name: string, shape: readonly number[], dtype: DType | IndexDType, offset: number): GpuTensor {
  if (offset % VIEW_ALIGNMENT !== 0) throw new RangeError(`view "${name}" starts at byte ${offset}, not a multiple of ${VIEW_ALIGNMENT}`);
  if (offset + storageBytes(dtype, elementCount(shape)) > buffer.size) throw new RangeError(`view "${name}" [${shape.join(', ')}] at byte ${offset} ends past its buffer of ${buffer.size} bytes`);
  return { name, shape: [...shape], dtype, buffer, offset };
}

/** The binding of a tensor: a view's own byte range, or its whole buffer. */
export function tensorBinding(tensor: GpuTensor): GPUBufferBinding {
  if (tensor.offset === undefined) return { buffer: tensor.buffer };
  return { buffer: tensor.buffer, offset: tensor.offset, size: viewBytes(tensor) };
}

/** Bytes of a view's range (viewAt makes views of unquantized dtypes only). */
export function viewBytes(tensor: GpuTensor): number {
  return storageBytes(tensor.dtype as DType | IndexDType, elementCount(tensor.shape));
}

/** Whether two tensors' bytes overlap (the same buffer, intersecting ranges); a whole-buffer tensor spans its buffer. */
export function sharesBytes(a: GpuTensor, b: GpuTensor): boolean {
  if (a.buffer !== b.buffer) return false;
  const range = (t: GpuTensor): [number, number] => (t.offset === undefined ? [0, t.buffer.size] : [t.offset, t.offset + viewBytes(t)]);
  const [aStart, aEnd] = range(a);
  const [bStart, bEnd] = range(b);
  return aStart < bEnd && bStart < aEnd;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((product, dim) => product * dim, 1);
}

/** Allocates a tensor; with `data` (already encoded for its dtype, see encodeTensorData) it is uploaded. Quantized weights: createQuantizedTensor. */
export function createTensor(
  device: GPUDevice,
  name: string,
  shape: readonly number[],
  dtype: DType | IndexDType,
  data?: Uint32Array | Float32Array | Int32Array,
): GpuTensor {
  return createTensorOfBytes(device, name, shape, dtype, Math.max(4, storageBytes(dtype, elementCount(shape))), data);
}

/** Allocates a buffer of `size` bytes for a tensor (uploading `data` when given); createTensor and createQuantizedTensor size it. */
export function createTensorOfBytes(
  device: GPUDevice,
  name: string,
  shape: readonly number[],
  dtype: TensorDType,
  size: number,
  data?: Uint32Array | Float32Array | Int32Array,
): GpuTensor {
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
  encoder.copyBufferToBuffer(tensor.buffer, byteOffset(tensor), staging, 0, tensor.offset === undefined ? Math.max(4, bytes) : bytes);
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

/** The first elements of a tensor's buffer seen with a shape of at most as many elements (a batch shorter than the buffer's). */
export function leadingView(tensor: GpuTensor, shape: readonly number[]): GpuTensor {
  if (elementCount(shape) > elementCount(tensor.shape)) {
    throw new RangeError(`cannot view "${tensor.name}" [${tensor.shape.join(', ')}] as the larger [${shape.join(', ')}]`);
  }
  return { ...tensor, shape: [...shape] };
}

const INDEX_RANGE: Record<IndexDType, [number, number]> = { u32: [0, 0xffffffff], i32: [-0x80000000, 0x7fffffff] };

/** Allocates a u32 or i32 tensor (ids, positions, segments, labels), checking every value fits. */
export function createIndexTensor(device: GPUDevice, name: string, shape: readonly number[], dtype: IndexDType, values?: ArrayLike<number>): GpuTensor {
  if (values) {
    const count = elementCount(shape);
    if (values.length !== count) throw new ShapeError(`${name}: ${values.length} values for shape [${shape.join(', ')}]`, { tensor: name });
    const [low, high] = INDEX_RANGE[dtype];
    for (let i = 0; i < count; i++) {
      const value = values[i]!;
      if (!(Number.isInteger(value) && value >= low && value <= high)) {
        throw new ShapeError(`${name}: element ${i} is ${value}, not a ${dtype}`, { tensor: name, index: i });
      }
    }
  }
  const data = values === undefined ? undefined : dtype === 'u32' ? Uint32Array.from(values) : Int32Array.from(values);
  return createTensor(device, name, shape, dtype, data);
}

/** Copies a u32 or i32 tensor back to the CPU. One round trip. */
export async function readIndexTensor(device: GPUDevice, tensor: GpuTensor): Promise<Uint32Array | Int32Array> {
  if (tensor.dtype !== 'u32' && tensor.dtype !== 'i32') throw new TypeError(`readIndexTensor reads u32/i32 tensors; ${tensor.name} is ${tensor.dtype}`);
  const bytes = Math.max(4, elementCount(tensor.shape) * 4);
  const staging = device.createBuffer({ label: `${tensor.name}:readback`, size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder({ label: `read ${tensor.name}` });
  encoder.copyBufferToBuffer(tensor.buffer, byteOffset(tensor), staging, 0, tensor.offset === undefined ? bytes : elementCount(tensor.shape) * 4);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const copy = staging.getMappedRange().slice(0, elementCount(tensor.shape) * 4);
  staging.unmap();
  staging.destroy();
  return tensor.dtype === 'u32' ? new Uint32Array(copy) : new Int32Array(copy);
}
