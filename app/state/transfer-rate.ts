/**
 * Download speed and time left from a running byte count: the speed over the last few seconds (a
 * whole-download average would lag behind a network that slows down or recovers).
 */
export class TransferRate {
  private readonly samples: { at: number; bytes: number }[] = [];

  constructor(
    private readonly windowMs = 3000,
    /** Below this span the speed is noise (one network read); report nothing yet. */
    private readonly minSpanMs = 250,
  ) {}

  /** Records that `bytes` had been transferred in total at time `at` (milliseconds). */
  add(at: number, bytes: number): void {
    this.samples.push({ at, bytes });
    // Keep one sample older than the window, so the window is always fully covered.
    while (this.samples.length > 2 && this.samples[1]!.at <= at - this.windowMs) this.samples.shift();
  }

  /** Bytes per second over the window; undefined until it spans enough time. */
  bytesPerSecond(): number | undefined {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (!first || !last || last.at - first.at < this.minSpanMs) return undefined;
    return ((last.bytes - first.bytes) * 1000) / (last.at - first.at);
  }
}

/** Seconds until `remaining` bytes arrive at `bytesPerSecond`; undefined when that cannot be said. */
export function secondsLeft(remaining: number, bytesPerSecond: number | undefined): number | undefined {
  if (bytesPerSecond === undefined || !(bytesPerSecond > 0) || remaining < 0) return undefined;
  return remaining / bytesPerSecond;
}
