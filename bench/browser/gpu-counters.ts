/**
 * Counts what an engine asks of WebGPU while counting is on, by wrapping the prototype methods every
 * device shares: compute dispatches, queue submits, bytes written to the GPU (queue.writeBuffer and
 * buffers mapped at creation that are not read-back buffers), and buffers mapped for reading
 * (readbacks). busyMs is the time during which the queue held submitted work not yet done: each
 * submit's interval runs from the later of its submit and the previous submit's completion to its
 * own completion (onSubmittedWorkDone), so the GPU's idle gaps while the CPU encodes are not counted.
 */
export interface GpuCounts {
  dispatches: number;
  submits: number;
  bytesToGpu: number;
  readbacks: number;
  busyMs: number;
}

export interface GpuCounter {
  start(): void;
  /** Stops counting once all submitted work is done; returns what was counted since start(). */
  stop(device: GPUDevice): Promise<GpuCounts>;
}

function byteLengthOf(data: BufferSource | SharedArrayBuffer, dataOffset = 0, size?: number): number {
  const elementBytes = ArrayBuffer.isView(data) && 'BYTES_PER_ELEMENT' in data ? (data as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT : 1;
  if (size !== undefined) return size * elementBytes;
  return data.byteLength - dataOffset * elementBytes;
}

/** Installs the wrappers once per page; counting is off until start(). */
export function installGpuCounter(): GpuCounter {
  let on = false;
  let counts: GpuCounts = { dispatches: 0, submits: 0, bytesToGpu: 0, readbacks: 0, busyMs: 0 };
  let lastCompletion = 0;
  const pending: Promise<void>[] = [];
  const pass = GPUComputePassEncoder.prototype;
  const dispatch = pass.dispatchWorkgroups;
  pass.dispatchWorkgroups = function (this: GPUComputePassEncoder, ...args: Parameters<typeof dispatch>) {
    if (on) counts.dispatches++;
    return dispatch.apply(this, args);
  };
  const queue = GPUQueue.prototype;
  const submit = queue.submit;
  queue.submit = function (this: GPUQueue, buffers: Iterable<GPUCommandBuffer>) {
    const result = submit.call(this, buffers);
    if (on) {
      counts.submits++;
      const submitted = performance.now();
      pending.push(
        this.onSubmittedWorkDone().then(() => {
          const done = performance.now();
          counts.busyMs += Math.max(0, done - Math.max(submitted, lastCompletion));
          lastCompletion = Math.max(lastCompletion, done);
        }),
      );
    }
    return result;
  };
  const writeBuffer = queue.writeBuffer;
  queue.writeBuffer = function (this: GPUQueue, buffer: GPUBuffer, offset: number, data: BufferSource | SharedArrayBuffer, dataOffset?: number, size?: number) {
    if (on) counts.bytesToGpu += byteLengthOf(data, dataOffset, size);
    return writeBuffer.call(this, buffer, offset, data as BufferSource, dataOffset, size);
  };
  const device = GPUDevice.prototype;
  const createBuffer = device.createBuffer;
  device.createBuffer = function (this: GPUDevice, descriptor: GPUBufferDescriptor) {
    if (on && descriptor.mappedAtCreation && !(descriptor.usage & GPUBufferUsage.MAP_READ)) counts.bytesToGpu += descriptor.size;
    return createBuffer.call(this, descriptor);
  };
  const buffer = GPUBuffer.prototype;
  const mapAsync = buffer.mapAsync;
  buffer.mapAsync = function (this: GPUBuffer, mode: GPUMapModeFlags, offset?: number, size?: number) {
    if (on && mode & GPUMapMode.READ) counts.readbacks++;
    return mapAsync.call(this, mode, offset, size);
  };
  return {
    start() {
      counts = { dispatches: 0, submits: 0, bytesToGpu: 0, readbacks: 0, busyMs: 0 };
      lastCompletion = 0;
      pending.length = 0;
      on = true;
    },
    async stop(gpuDevice) {
      await gpuDevice.queue.onSubmittedWorkDone();
      await Promise.all(pending);
      on = false;
      return { ...counts };
    },
  };
}
