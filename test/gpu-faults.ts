/**
 * Failures forced through the real driver, and a count of the buffers that are alive. Nothing here
 * fakes a GPU result: the out-of-memory error comes from Dawn or Chromium refusing a real allocation.
 */

/** Counts the device's buffers created and not yet destroyed while it is installed. */
export interface LiveBuffers {
  readonly live: number;
  /** Buffers created since it was installed, freed or not. */
  readonly created: number;
  /** Labels of the live buffers, for a failing test's message. */
  labels(): string[];
  uninstall(): void;
}

export function trackLiveBuffers(device: GPUDevice): LiveBuffers {
  const alive = new Set<GPUBuffer>();
  let created = 0;
  const create = device.createBuffer;
  device.createBuffer = function (descriptor: GPUBufferDescriptor): GPUBuffer {
    const buffer = create.call(device, descriptor);
    alive.add(buffer);
    created++;
    const destroy = buffer.destroy;
    buffer.destroy = function (): undefined {
      alive.delete(buffer);
      return destroy.call(buffer);
    };
    return buffer;
  };
  return {
    get live() {
      return alive.size;
    },
    get created() {
      return created;
    },
    labels: () => [...alive].map((buffer) => buffer.label),
    uninstall() {
      device.createBuffer = create;
    },
  };
}

/**
 * The next buffer the device creates without mappedAtCreation asks for the adapter's whole maxBufferSize
 * instead. SwiftShader (Dawn in Node and Chromium alike) cannot back an allocation that large and raises
 * a GPUOutOfMemoryError, as a laptop GPU does when a run does not fit; the buffer returned is invalid.
 * (Buffers created mapped are passed through: their data is written at once, which needs the real size.)
 * Returns a function that undoes the change if no such buffer was created.
 */
export function failNextAllocation(device: GPUDevice): () => void {
  const create = device.createBuffer;
  device.createBuffer = function (descriptor: GPUBufferDescriptor): GPUBuffer {
    if (descriptor.mappedAtCreation) return create.call(device, descriptor);
    device.createBuffer = create;
    return create.call(device, { ...descriptor, size: device.limits.maxBufferSize });
  };
  return () => {
    device.createBuffer = create;
  };
}

/**
 * Like failNextAllocation for the buffer labelled `label` (also one created mapped, as weights are:
 * Dawn backs its mapping on the CPU and reports the GPU allocation's failure in the error scope).
 */
export function failAllocationLabelled(device: GPUDevice, label: string): () => void {
  const create = device.createBuffer;
  device.createBuffer = function (descriptor: GPUBufferDescriptor): GPUBuffer {
    if (descriptor.label !== label) return create.call(device, descriptor);
    device.createBuffer = create;
    return create.call(device, { ...descriptor, size: device.limits.maxBufferSize });
  };
  return () => {
    device.createBuffer = create;
  };
}
