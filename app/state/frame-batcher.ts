/**
 * Collects events that arrive faster than the screen can show them (training steps on a fast GPU,
 * preparation progress) and hands them over in one batch per animation frame, so the store — and
 * every component that selects from it — updates at most once a frame however many events came.
 *
 * A hidden tab gets no animation frames at all, which would hold back every event of a run left
 * training in the background until the tab is shown again; so each batch is also flushed by a timer
 * when no frame comes in time, and by the timer alone where there is no requestAnimationFrame.
 */

export interface FrameClock {
  requestFrame?: (callback: () => void) => number;
  cancelFrame?: (handle: number) => void;
  setTimer(callback: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

export interface FrameBatcher<T> {
  push(item: T): void;
  /** Hands over what is queued now (e.g. before the final result is applied), without waiting for a frame. */
  flush(): void;
  /** Drops what is queued and stops any pending flush. */
  dispose(): void;
}

/** A batch waits at most this long for a frame before the timer flushes it (a hidden tab has none). */
export const FALLBACK_FLUSH_MS = 200;

export function browserFrameClock(): FrameClock {
  const raf = globalThis.requestAnimationFrame;
  const caf = globalThis.cancelAnimationFrame;
  return {
    ...(typeof raf === 'function' && typeof caf === 'function' ? { requestFrame: (callback: () => void) => raf(() => callback()), cancelFrame: (handle: number) => caf(handle) } : {}),
    setTimer: (callback, ms) => globalThis.setTimeout(callback, ms),
    clearTimer: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
  };
}

export function createFrameBatcher<T>(deliver: (items: T[]) => void, clock: FrameClock = browserFrameClock()): FrameBatcher<T> {
  let queue: T[] = [];
  let frame: number | undefined;
  let timer: unknown;

  const cancelScheduled = () => {
    if (frame !== undefined) clock.cancelFrame?.(frame);
    if (timer !== undefined) clock.clearTimer(timer);
    frame = undefined;
    timer = undefined;
  };

  const flush = () => {
    cancelScheduled();
    if (queue.length === 0) return;
    const items = queue;
    queue = [];
    deliver(items);
  };

  return {
    push(item) {
      queue.push(item);
      if (timer !== undefined) return;
      if (clock.requestFrame) frame = clock.requestFrame(flush);
      timer = clock.setTimer(flush, clock.requestFrame ? FALLBACK_FLUSH_MS : 1000 / 60);
    },
    flush,
    dispose() {
      cancelScheduled();
      queue = [];
    },
  };
}
