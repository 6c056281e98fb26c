/**
 * How long the GPU itself took for each piece of a unit of work (a layer's forward or backward, the
 * LM head), from timestamp queries: an empty compute pass whose timestampWrites record the GPU clock is
 * encoded before the first piece of each command buffer and after every piece. The wall clock from
 * submit to readback also counts encoding on the CPU, the queue's latency and the map; timestamps
 * count only the GPU's work, which is what a browser's watchdog limits.
 *
 * Only where the device was created with 'timestamp-query' (app/gpu/device.ts asks for it when the
 * adapter has it). The query set and its buffers live as long as one unit of work: `destroy` frees them.
 */

/** What one unit of work measured: the FLOPs of the timed pieces and the GPU seconds they took. */
export interface PieceTimes {
  flops: number;
  seconds: number;
  pieces: number;
}

/** At most this many timestamps per unit of work (WebGPU's limit for a query set); later pieces go untimed. */
const MAX_QUERIES = 4096;

export class PieceTimer {
  private readonly querySet: GPUQuerySet;
  private readonly resolved: GPUBuffer;
  private readonly staging: GPUBuffer;
  /** FLOPs of the piece that ends at each timestamp; null for a timestamp that starts a command buffer. */
  private readonly marks: (number | null)[] = [];
  private resolvedCount = 0;

  constructor(
    device: GPUDevice,
    label: string,
    private readonly capacity = MAX_QUERIES,
  ) {
    this.querySet = device.createQuerySet({ label: `${label}:timestamps`, type: 'timestamp', count: capacity });
    this.resolved = device.createBuffer({ label: `${label}:timestamps resolved`, size: capacity * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    this.staging = device.createBuffer({ label: `${label}:timestamps readback`, size: capacity * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  /** A timer when the device can write timestamps, otherwise undefined. */
  static ifSupported(device: GPUDevice, label: string): PieceTimer | undefined {
    return device.features.has('timestamp-query') ? new PieceTimer(device, label) : undefined;
  }

  /** Records the GPU clock where `encoder` is now: the start of its first piece (`flops` null) or the end of a piece of `flops`. */
  mark(encoder: GPUCommandEncoder, flops: number | null): void {
    if (this.marks.length >= this.capacity) return;
    encoder.beginComputePass({ timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: this.marks.length } }).end();
    this.marks.push(flops);
  }

  /** Encodes the copy of every timestamp so far to where `read` finds it; the last encoder of the work, after every mark. */
  resolve(encoder: GPUCommandEncoder): void {
    this.resolvedCount = this.marks.length;
    if (this.resolvedCount === 0) return;
    encoder.resolveQuerySet(this.querySet, 0, this.resolvedCount, this.resolved, 0);
    encoder.copyBufferToBuffer(this.resolved, 0, this.staging, 0, this.resolvedCount * 8);
  }

  /** The timed pieces' FLOPs and GPU seconds, once the work with `resolve` was submitted. */
  async read(): Promise<PieceTimes> {
    const count = this.resolvedCount;
    if (count === 0) return { flops: 0, seconds: 0, pieces: 0 };
    await this.staging.mapAsync(GPUMapMode.READ, 0, count * 8);
    const ticks = new BigInt64Array(this.staging.getMappedRange(0, count * 8).slice(0));
    this.staging.unmap();
    let flops = 0;
    let nanoseconds = 0;
    let pieces = 0;
    for (let i = 1; i < count; i++) {
      const pieceFlops = this.marks[i];
      const elapsed = Number(ticks[i]! - ticks[i - 1]!);
      // A clock that went backwards (allowed by the spec, e.g. after a power-state change) measures nothing.
      if (pieceFlops === null || pieceFlops === undefined || !(elapsed >= 0)) continue;
      flops += pieceFlops;
      nanoseconds += elapsed;
      pieces++;
    }
    return { flops, seconds: nanoseconds / 1e9, pieces };
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolved.destroy();
    this.staging.destroy();
  }
}
