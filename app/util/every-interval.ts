/**
 * Calls `send` at most once per `interval` ms, always for the first event and for one that completes
 * a stage (done === total), so a reader never misses a start or an end. The engine reports every chunk
 * and row; a page needs ten a second and a terminal one or two.
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
