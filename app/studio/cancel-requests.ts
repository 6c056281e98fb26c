/**
 * Cancel, remembered by the page. The worker writes a run's record as "cancelled" only once the run
 * has unwound, which can take a while (a model loading, a long submit); a page closed in between
 * leaves the record "running", and it would be offered after the reload as a run "stopped when the
 * page was closed", to resume. The page writes the request here synchronously when Cancel is
 * pressed, so a record the worker never finished is still read back as cancelled.
 */
import type { RunRecord } from '../../workers/protocol.ts';

export const CANCEL_REQUESTS_STORAGE_KEY = 'cocktail.cancelRequests.v1';
/** Only the last few matter: a request is dropped once the record says how the run ended. */
const MAX_REQUESTS = 20;

type KeyValueStore = Pick<Storage, 'getItem' | 'setItem'>;

export function cancelRequests(store: KeyValueStore | undefined = globalThis.localStorage): string[] {
  try {
    const parsed: unknown = JSON.parse(store?.getItem(CANCEL_REQUESTS_STORAGE_KEY) ?? '[]');
    return Array.isArray(parsed) ? parsed.filter((id): id is string => typeof id === 'string') : [];
  } catch {
    return [];
  }
}

function write(ids: readonly string[], store: KeyValueStore | undefined): void {
  try {
    store?.setItem(CANCEL_REQUESTS_STORAGE_KEY, JSON.stringify(ids.slice(-MAX_REQUESTS)));
  } catch {
    // A browser that stores nothing still cancels; only a page closed mid-cancel is shown as interrupted.
  }
}

export function rememberCancelRequest(runId: string, store: KeyValueStore | undefined = globalThis.localStorage): void {
  write([...cancelRequests(store).filter((id) => id !== runId), runId], store);
}

export function forgetCancelRequest(runId: string, store: KeyValueStore | undefined = globalThis.localStorage): void {
  const ids = cancelRequests(store);
  if (ids.includes(runId)) write(ids.filter((id) => id !== runId), store);
}

/** The record as it ended: one still "running" whose cancel was asked for ended cancelled. */
export function settledRunRecord(record: RunRecord, cancelled: readonly string[]): RunRecord {
  if (record.status !== 'running' || !cancelled.includes(record.runId)) return record;
  const { error: _error, ...rest } = record;
  return { ...rest, status: 'cancelled' };
}
