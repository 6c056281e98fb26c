/**
 * Bounded submits: long GPU work (a micro-batch's forward and backward over every layer) is cut into
 * command buffers of bounded estimated duration, because a browser resets the GPU when one submit
 * runs for about 10 seconds (ENGINEERING.md §5) — Llama 3.2 1B at 2,048 tokens is about 10¹³ FLOP
 * per micro-batch, tens of seconds on a laptop GPU.
 *
 * The encoder of the work asks `add(flops)` after each piece it encodes (a layer); when the FLOPs
 * pending, at the throughput measured so far, would take longer than the budget, the pending commands
 * are submitted before anything more is encoded, and a new encoder takes over. Submits run in queue order, so the results are the
 * same bits however the work is cut. The throughput starts from a conservative guess for the kind of
 * adapter and follows what is measured. A unit of work (a training step, an evaluation batch, a
 * generation step) is a `TimedWork`: where the adapter has timestamp queries it measures the GPU time
 * of every piece (so the milliseconds a layer takes decide how many layers share a submit); elsewhere
 * the time from its first submit to its results being read, against its FLOP count.
 */
import type { GpuContext, GpuInfo } from './device.ts';
import { PieceTimer } from './piece-timer.ts';

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

/** Where a throughput estimate comes from: the starting guess, GPU timestamps, or the wall clock. */
export type ThroughputSource = 'guess' | 'timestamps' | 'wall clock';

/** The measured throughput of a device, shared by every stream that encodes for it. */
export class ThroughputEstimate {
  private measuredBy: ThroughputSource = 'guess';

  constructor(private flopsPerSecond: number) {}

  get value(): number {
    return this.flopsPerSecond;
  }

  /** What the last measurement came from ('guess' before any). */
  get source(): ThroughputSource {
    return this.measuredBy;
  }

  /** Folds in a measurement; a slower one counts at once (a reset is worse than an extra submit), a faster one gradually. */
  measured(flops: number, seconds: number, source: Exclude<ThroughputSource, 'guess'> = 'wall clock'): void {
    if (!(flops > 0 && seconds > 0)) return;
    const observed = flops / seconds;
    this.flopsPerSecond = observed < this.flopsPerSecond ? observed : 0.8 * this.flopsPerSecond + 0.2 * observed;
    this.measuredBy = source;
  }
}

const deviceThroughputs = new WeakMap<GPUDevice, ThroughputEstimate>();

/**
 * The throughput every unit of work on this device sizes its submits by, unless `budget` gives its own
 * starting point: training, evaluation and generation measure into the same estimate.
 */
export function throughputFor(ctx: GpuContext, budget?: SubmitBudget): ThroughputEstimate {
  if (budget?.flopsPerSecond !== undefined) return new ThroughputEstimate(budget.flopsPerSecond);
  let estimate = deviceThroughputs.get(ctx.device);
  if (!estimate) {
    estimate = new ThroughputEstimate(initialFlopsPerSecond(ctx.info));
    deviceThroughputs.set(ctx.device, estimate);
  }
  return estimate;
}

/**
 * One unit of GPU work cut into bounded submits: its streams share a timer (where the device has
 * timestamp queries), and `measure` folds what it took into the throughput that sized it. End it
 * with `submitLast` (or `resolveInto` the encoder submitted last), `measure` once the results were
 * read, and `destroy` in every case.
 */
export class TimedWork {
  private readonly timer: PieceTimer | undefined;
  private readonly started = performance.now();
  private flops = 0;
  private submitCount = 0;
  private readonly seconds: number;

  /**
   * `measured: false` for work too small to say anything about the GPU's throughput (a one-token decode
   * step is fixed dispatch costs and latency): it is still cut by the estimate, but never lowers it.
   */
  constructor(
    private readonly ctx: GpuContext,
    private readonly label: string,
    private readonly throughput: ThroughputEstimate,
    budget: SubmitBudget | undefined,
    private readonly measured = true,
  ) {
    this.seconds = budget?.seconds ?? DEFAULT_SUBMIT_SECONDS;
    this.timer = measured ? PieceTimer.ifSupported(ctx.device, label) : undefined;
  }

  /** A stream for the next part of the work (each part is submitted before the next one's inputs are written). */
  stream(label = this.label): BoundedSubmits {
    return new BoundedSubmits(this.ctx.device, label, this.seconds, this.throughput, this.timer, (flops, submits) => {
      this.flops += flops;
      this.submitCount += submits;
    });
  }

  /** Command buffers the work's streams submitted so far. */
  get submits(): number {
    return this.submitCount;
  }

  /** Encodes the timestamps' readback into `encoder`, the work's last (submitted after every stream). */
  resolveInto(encoder: GPUCommandEncoder): void {
    this.timer?.resolve(encoder);
  }

  /** Submits the last stream of the work with the timestamps' readback in its last command buffer. */
  submitLast(stream: BoundedSubmits): void {
    stream.flush(this.timer ? (encoder) => this.timer!.resolve(encoder) : undefined);
  }

  /** After the work's results were read: its GPU time from timestamps when there are any, else the wall clock since it began. */
  async measure(): Promise<void> {
    if (!this.measured) return;
    const timed = await this.timer?.read();
    if (timed && timed.flops > 0 && timed.seconds > 0) this.throughput.measured(timed.flops, timed.seconds, 'timestamps');
    else this.throughput.measured(this.flops, (performance.now() - this.started) / 1000, 'wall clock');
  }

  destroy(): void {
    this.timer?.destroy();
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
  /** The pending work reached the budget: it is submitted before anything more is encoded. */
  private due = false;

  constructor(
    private readonly device: GPUDevice,
    private readonly label: string,
    private readonly seconds: number,
    private readonly throughput: ThroughputEstimate,
    private readonly timer?: PieceTimer,
    /** Told of each submit's FLOPs. */
    private readonly onSubmit?: (flops: number, submits: number) => void,
  ) {}

  get encoder(): GPUCommandEncoder {
    if (this.due) this.flush();
    if (!this.current) {
      this.current = this.device.createCommandEncoder({ label: `${this.label} ${this.count}` });
      this.timer?.mark(this.current, null);
    }
    return this.current;
  }

  /** Command buffers submitted so far. */
  get submits(): number {
    return this.count;
  }

  add(flops: number): void {
    this.timer?.mark(this.encoder, flops);
    this.pendingFlops += flops;
    // Submitted when more is encoded (or at the end), so the work's last commands can still join it.
    if (this.pendingFlops / this.throughput.value >= this.seconds) this.due = true;
  }

  /**
   * Submits what is encoded (queue writes after this see it done, as after any submit); `last` adds
   * commands to the command buffer first (one is begun for it if none is open).
   */
  flush(last?: (encoder: GPUCommandEncoder) => void): void {
    this.due = false;
    if (last) last(this.encoder);
    if (!this.current) return;
    this.device.queue.submit([this.current.finish()]);
    this.current = undefined;
    this.count++;
    this.onSubmit?.(this.pendingFlops, 1);
    this.pendingFlops = 0;
  }
}
