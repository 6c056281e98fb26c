/** Progress events for the page: the engine reports every chunk and row, the page needs ten a second. */

export const PROGRESS_INTERVAL_MS = 100;

/**
 * Calls `send` at most once per `interval` ms, always for the first event and for one that completes
 * a stage (done === total), so the UI never misses a start or an end.
 */
export function everyInterval<T extends { done: number; total: number }>(interval: number, send: (event: T) => void, now: () => number = () => performance.now()): (event: T) => void {
  let last = -Infinity;
  return (event) => {
    const time = now();
    if (time - last >= interval || event.done >= event.total) {
      last = time;
      send(event);
    }
  };
}
