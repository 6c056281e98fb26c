/**
 * Bounded submits: long GPU work (a micro-batch's forward and backward over every layer) is cut into
 * command buffers of bounded estimated duration, because a browser resets the GPU when one submit
 * runs for about 10 seconds (ENGINEERING.md §5) — Llama 3.2 1B at 2,048 tokens is about 10¹³ FLOP
 * per micro-batch, tens of seconds on a laptop GPU.
 *
 * The encoder of the work asks `add(flops)` after each piece it encodes (a layer); when the FLOPs
 * pending, at the throughput measured so far, would take longer than the budget, the pending commands
 * are submitted and a new encoder takes over. Submits run in queue order, so the results are the
 * same bits however the work is cut. The throughput starts from a conservative guess for the kind of
 * adapter and follows what is measured: the caller reports how long its work took (from submit to the
 * GPU finishing it) with `measured(flops, seconds)`.
 */
import type { GpuInfo } from './device.ts';

/** Where work is encoded: a plain encoder (never cut) or a BoundedSubmits. */
export interface CommandStream {
  readonly encoder: GPUCommandEncoder;
  /** Reports work just encoded; may submit it and replace `encoder`. */
  add(flops: number): void;
}

/** A plain encoder as a stream that is never cut. */
export function unboundedStream(encoder: GPUCommandEncoder): CommandStream {
  return { encoder, add: () => {} };
}

export interface SubmitBudget {
  /** Longest estimated duration of one submit, in seconds. */
  seconds: number;
  /** Throughput to start from, in FLOP/s (measurements take over); a guess for the adapter when absent. */
  flopsPerSecond?: number;
}

/** Well under the ~10 s at which browsers reset the GPU, long enough that submits stay few. */
export const DEFAULT_SUBMIT_SECONDS = 1;

/**
 * Conservative starting throughputs: a CPU driver (SwiftShader ran matmuls at 0.1–1.6 GFLOP/s on two
 * cores, ENGINEERING.md §4) and the slowest GPUs the studio expects (integrated: ~2 TFLOP/s peak, of
 * which a WebGPU kernel gets a fraction). Underestimating only means more, shorter submits.
 */
export function initialFlopsPerSecond(info: Pick<GpuInfo, 'adapter'>): number {
  return info.adapter.isFallbackAdapter ? 1e8 : 1e11;
}

/** The measured throughput of a device, shared by every stream that encodes for it. */
export class ThroughputEstimate {
  constructor(private flopsPerSecond: number) {}

  get value(): number {
    return this.flopsPerSecond;
  }

  /** Folds in a measurement; a slower one counts at once (a reset is worse than an extra submit), a faster one gradually. */
  measured(flops: number, seconds: number): void {
    if (!(flops > 0 && seconds > 0)) return;
    const observed = flops / seconds;
    this.flopsPerSecond = observed < this.flopsPerSecond ? observed : 0.8 * this.flopsPerSecond + 0.2 * observed;
  }
}

/** Whether a stream or a plain encoder was given. */
export function isCommandStream(target: GPUCommandEncoder | CommandStream): target is CommandStream {
  return typeof (target as Partial<CommandStream>).add === 'function';
}

export class BoundedSubmits implements CommandStream {
  private current?: GPUCommandEncoder;
  private pendingFlops = 0;
  private count = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly label: string,
    private readonly seconds: number,
    private readonly throughput: ThroughputEstimate,
  ) {}

  get encoder(): GPUCommandEncoder {
    this.current ??= this.device.createCommandEncoder({ label: `${this.label} ${this.count}` });
    return this.current;
  }

  /** Command buffers submitted so far. */
  get submits(): number {
    return this.count;
  }

  add(flops: number): void {
    this.pendingFlops += flops;
    if (this.pendingFlops / this.throughput.value >= this.seconds) this.flush();
  }

  /** Submits what is encoded (queue writes after this see it done, as after any submit). */
  flush(): void {
    if (!this.current) return;
    this.device.queue.submit([this.current.finish()]);
    this.current = undefined;
    this.count++;
    this.pendingFlops = 0;
  }
}
