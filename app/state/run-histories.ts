/**
 * The step history of stored runs, for charts and exports outside the Train page. A run's steps live
 * in its checkpoint's meta (the runs store keeps only the record): a run without a checkpoint yet has
 * no steps to show, only its evaluations.
 */
import { openIndexedDbStorage } from '../store/idb.ts';
import type { Storage } from '../store/storage.ts';
import { latestCheckpointMeta } from '../train/checkpoint.ts';
import type { StepLike } from '../studio/run-metrics.ts';

export async function runHistory(storage: Storage, runId: string): Promise<StepLike[]> {
  const meta = await latestCheckpointMeta(storage, runId);
  return (meta?.history ?? []) as unknown as StepLike[];
}

/** Histories of several runs in one storage visit, by run id. */
export async function readRunHistories(runIds: readonly string[]): Promise<Map<string, StepLike[]>> {
  const storage = await openIndexedDbStorage();
  try {
    return new Map(await Promise.all(runIds.map(async (runId) => [runId, await runHistory(storage, runId)] as const)));
  } finally {
    await storage.close();
  }
}
