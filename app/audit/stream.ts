/** Long audits run in slices: progress every slice, a turn of the event loop so cancel and the UI get through. */
import { CocktailError } from '../errors.ts';

export const SLICE_ROWS = 2000;

export interface StreamContext {
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

/** Call once per row; every SLICE_ROWS rows it reports progress, yields and checks for cancel. */
export async function atRow(index: number, total: number, context: StreamContext, task: string): Promise<void> {
  if (index % SLICE_ROWS !== 0) return;
  context.onProgress?.(index, total);
  await new Promise<void>((resolve) => setTimeout(resolve, 0));
  if (context.signal?.aborted) throw new CocktailError('CANCELLED', `the audit of task "${task}" was cancelled`, { task });
}
