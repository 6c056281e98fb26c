/** Cancellation between steps of a long preparation, with the same code as the data pipeline's. */
import { DataError } from '../../data/index.ts';

export function throwIfCancelled(signal: AbortSignal | undefined, task: string): void {
  if (signal?.aborted) throw new DataError('DATA_CANCELLED', `Preparation of task "${task}" was cancelled.`, { task });
}

/** Lets a worker's event loop deliver a Cancel message between chunks of synchronous work. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
