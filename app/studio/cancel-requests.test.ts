import { describe, expect, it } from 'vitest';
import type { RunRecord } from '../../workers/protocol.ts';
import { cancelRequests, forgetCancelRequest, rememberCancelRequest, settledRunRecord } from './cancel-requests.ts';

function memoryStore(): Pick<Storage, 'getItem' | 'setItem'> {
  const items = new Map<string, string>();
  return { getItem: (key) => items.get(key) ?? null, setItem: (key, value) => void items.set(key, value) };
}

const record = (status: RunRecord['status'], runId = 'finance-1'): RunRecord => ({
  runId,
  name: 'Finance',
  recipe: {},
  status,
  step: 0,
  totalSteps: 200,
  startedAt: 1,
  updatedAt: 2,
  evaluations: [],
  adapterKeys: [],
});

describe('cancel requests', () => {
  it('reads back as cancelled a run whose page closed after Cancel, before the worker wrote its record', () => {
    const store = memoryStore();
    rememberCancelRequest('finance-1', store);
    expect(settledRunRecord(record('running'), cancelRequests(store))).toMatchObject({ status: 'cancelled', step: 0, totalSteps: 200 });
    // A run nobody cancelled stays "running": the page offers it to resume.
    expect(settledRunRecord(record('running', 'other'), cancelRequests(store)).status).toBe('running');
    // A record that says how the run ended is left as it is.
    expect(settledRunRecord(record('completed'), cancelRequests(store)).status).toBe('completed');
  });

  it('forgets a request once the run has ended, and keeps only the last few', () => {
    const store = memoryStore();
    for (let i = 0; i < 25; i++) rememberCancelRequest(`run-${i}`, store);
    expect(cancelRequests(store)).toHaveLength(20);
    expect(cancelRequests(store).at(-1)).toBe('run-24');
    forgetCancelRequest('run-24', store);
    expect(cancelRequests(store)).not.toContain('run-24');
  });

  it('reads nothing from damaged storage', () => {
    const store = memoryStore();
    store.setItem('cocktail.cancelRequests.v1', '{not json');
    expect(cancelRequests(store)).toEqual([]);
    expect(cancelRequests(undefined)).toEqual([]);
  });
});
