import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createFrameBatcher, FALLBACK_FLUSH_MS, type FrameClock } from './frame-batcher.ts';

/** A requestAnimationFrame the test advances by hand; timers are Vitest's fake timers. */
function fakeFrames() {
  let next = 1;
  const callbacks = new Map<number, () => void>();
  const clock: FrameClock = {
    requestFrame: (callback) => {
      callbacks.set(next, callback);
      return next++;
    },
    cancelFrame: (handle) => void callbacks.delete(handle),
    setTimer: (callback, ms) => setTimeout(callback, ms),
    clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  };
  const frame = () => {
    const due = [...callbacks.values()];
    callbacks.clear();
    for (const callback of due) callback();
  };
  return { clock, frame, pending: () => callbacks.size };
}

describe('createFrameBatcher', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('delivers everything pushed between two frames as one batch, at the frame', () => {
    const { clock, frame } = fakeFrames();
    const batches: number[][] = [];
    const batcher = createFrameBatcher<number>((items) => batches.push(items), clock);
    for (let step = 1; step <= 50; step++) batcher.push(step);
    expect(batches).toEqual([]);
    frame();
    expect(batches).toEqual([Array.from({ length: 50 }, (_, i) => i + 1)]);
    batcher.push(51);
    batcher.push(52);
    frame();
    expect(batches).toEqual([Array.from({ length: 50 }, (_, i) => i + 1), [51, 52]]);
  });

  it('asks for one frame per batch, and none when nothing is queued', () => {
    const { clock, frame, pending } = fakeFrames();
    const deliver = vi.fn();
    const batcher = createFrameBatcher<string>(deliver, clock);
    batcher.push('a');
    batcher.push('b');
    expect(pending()).toBe(1);
    frame();
    expect(pending()).toBe(0);
    frame();
    expect(deliver).toHaveBeenCalledTimes(1);
  });

  it('flushes by timer when no frame comes (a hidden tab), so a background run is not held back', () => {
    const { clock, frame } = fakeFrames();
    const batches: string[][] = [];
    const batcher = createFrameBatcher<string>((items) => batches.push(items), clock);
    batcher.push('step 1');
    vi.advanceTimersByTime(FALLBACK_FLUSH_MS - 1);
    expect(batches).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(batches).toEqual([['step 1']]);
    frame();
    expect(batches).toHaveLength(1);
  });

  it('a frame that comes first cancels the fallback timer', () => {
    const { clock, frame } = fakeFrames();
    const deliver = vi.fn();
    const batcher = createFrameBatcher<number>(deliver, clock);
    batcher.push(1);
    frame();
    vi.advanceTimersByTime(10 * FALLBACK_FLUSH_MS);
    expect(deliver).toHaveBeenCalledTimes(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('uses a timer alone where there is no requestAnimationFrame', () => {
    const deliver = vi.fn();
    const batcher = createFrameBatcher<number>(deliver, {
      setTimer: (callback, ms) => setTimeout(callback, ms),
      clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
    });
    batcher.push(1);
    batcher.push(2);
    vi.advanceTimersByTime(17);
    expect(deliver).toHaveBeenCalledExactlyOnceWith([1, 2]);
  });

  it('flush hands over the queue at once; dispose drops it and cancels what was scheduled', () => {
    const { clock, frame, pending } = fakeFrames();
    const batches: number[][] = [];
    const batcher = createFrameBatcher<number>((items) => batches.push(items), clock);
    batcher.push(1);
    batcher.flush();
    expect(batches).toEqual([[1]]);
    expect(pending()).toBe(0);
    batcher.flush();
    expect(batches).toHaveLength(1);
    batcher.push(2);
    batcher.dispose();
    frame();
    vi.runAllTimers();
    expect(batches).toEqual([[1]]);
  });
});
