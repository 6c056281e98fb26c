/** Progress events for the page: the engine reports every chunk and row, the page needs ten a second. */

export const PROGRESS_INTERVAL_MS = 100;

export { everyInterval } from '../app/util/every-interval.ts';
