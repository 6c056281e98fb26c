import { LimitError, ShapeError } from '../errors.ts';
import type { TensorDType } from '../dtype.ts';
import { elementCount, viewBytes, type GpuTensor } from '../tensor.ts';

/** Shape and limit checks shared by every op wrapper: they run before anything is encoded. */

export function expectShape(op: string, tensor: GpuTensor, expected: readonly number[], letters: string): void {
  const same = tensor.shape.length === expected.length && tensor.shape.every((dim, i) => dim === expected[i]);
  if (!same) {
    throw new ShapeError(
      `${op}: tensor "${tensor.name}" has shape [${tensor.shape.join(', ')}], expected [${letters}] = [${expected.join(', ')}]`,
      { op, tensor: tensor.name, shape: [...tensor.shape], expected: [...expected] },
    );
  }
}

export function expectRank(op: string, tensor: GpuTensor, rank: number, letters: string): void {
  if (tensor.shape.length !== rank || tensor.shape.some((dim) => !Number.isInteger(dim) || dim < 1)) {
    throw new ShapeError(
      `${op}: tensor "${tensor.name}" has shape [${tensor.shape.join(', ')}], expected ${rank} positive dimensions [${letters}]`,
      { op, tensor: tensor.name, shape: [...tensor.shape] },
    );
  }
}

export function expectDType(op: string, tensor: GpuTensor, allowed: readonly TensorDType[]): void {
  if (!allowed.includes(tensor.dtype)) {
    throw new ShapeError(`${op}: tensor "${tensor.name}" is ${tensor.dtype}; this op takes ${allowed.join(' or ')}`, {
      op,
      tensor: tensor.name,
      dtype: tensor.dtype,
    });
  }
}

/** A storage binding may not exceed maxStorageBufferBindingSize; split such tensors (ENGINEERING.md §5). */
export function expectBindable(op: string, device: GPUDevice, tensor: GpuTensor): void {
  const limit = device.limits.maxStorageBufferBindingSize;
  const bytes = tensor.offset === undefined ? tensor.buffer.size : viewBytes(tensor);
  if (bytes > limit) {
    throw new LimitError(
      `${op}: tensor "${tensor.name}" needs ${bytes} bytes in one binding, over this device's ` +
        `maxStorageBufferBindingSize of ${limit} bytes; split it into smaller tensors`,
      { op, tensor: tensor.name, bytes, limit: 'maxStorageBufferBindingSize', limitValue: limit },
    );
  }
  const needed = elementCount(tensor.shape);
  if (needed === 0) throw new ShapeError(`${op}: tensor "${tensor.name}" is empty`, { op, tensor: tensor.name });
}

export function expectWorkgroups(op: string, device: GPUDevice, counts: readonly number[]): void {
  const limit = device.limits.maxComputeWorkgroupsPerDimension;
  const over = counts.findIndex((count) => count > limit);
  if (over >= 0) {
    throw new LimitError(
      `${op}: needs ${counts[over]} workgroups in dimension ${'xyz'[over]}, over this device's ` +
        `maxComputeWorkgroupsPerDimension of ${limit}; split the call into smaller ones`,
      { op, limit: 'maxComputeWorkgroupsPerDimension', limitValue: limit, workgroups: [...counts] },
    );
  }
}

/** A u32/i32 tensor of the given shape that fits a binding (ids, positions, segments, labels). */
export function expectIndexTensor(op: string, device: GPUDevice, tensor: GpuTensor, dtype: 'u32' | 'i32', expected: readonly number[], letters: string): void {
  expectDType(op, tensor, [dtype]);
  expectShape(op, tensor, expected, letters);
  expectBindable(op, device, tensor);
}

/**
 * WebGPU refuses a dispatch whose writable storage binding shares a buffer with another binding, and
 * then the whole command buffer fails: name the tensors before anything is encoded instead.
 */
export function expectSeparateBuffers(
  op: string,
  written: readonly { name: string; buffer: GPUBuffer }[],
  bound: readonly { name: string; buffer: GPUBuffer }[],
): void {
  for (const output of written) {
    const other = bound.find((tensor) => tensor !== output && tensor.buffer === output.buffer);
    if (other) {
      throw new ShapeError(`${op}: tensor "${output.name}" is written and shares its buffer with "${other.name}"; give it its own buffer`, {
        op,
        tensor: output.name,
        aliases: other.name,
      });
    }
  }
}
