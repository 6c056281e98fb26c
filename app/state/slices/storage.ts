import type { StateCreator } from 'zustand';
import { toErrorReport, type ErrorReport } from '../../errors.ts';
import { openIndexedDbStorage } from '../../store/idb.ts';
import type { StoreName, StoreUsage } from '../../store/storage.ts';
import type { AppState } from '../store.ts';

export type Persistence = 'unknown' | 'persisted' | 'best-effort' | 'refused' | 'unsupported';

export interface StorageSlice {
  storage: {
    /** navigator.storage.estimate(): bytes used by this origin and the quota the browser grants it. */
    estimate?: { usage: number; quota: number };
    persistence: Persistence;
    perStore?: Record<StoreName, StoreUsage>;
    error?: ErrorReport;
  };
  refreshStorage(): Promise<void>;
  /** Asks the browser not to evict our data under storage pressure; a refusal is shown, not fatal. */
  requestPersistence(): Promise<void>;
}

export const createStorageSlice: StateCreator<AppState, [], [], StorageSlice> = (set) => ({
  storage: { persistence: 'unknown' },

  async refreshStorage() {
    const manager = navigator.storage;
    try {
      const [estimate, persisted, database] = await Promise.all([
        manager?.estimate ? manager.estimate() : undefined,
        manager?.persisted ? manager.persisted() : undefined,
        openIndexedDbStorage(),
      ]);
      const perStore = await database.usage();
      await database.close();
      set((state) => ({
        storage: {
          ...(estimate ? { estimate: { usage: estimate.usage ?? 0, quota: estimate.quota ?? 0 } } : {}),
          persistence: persisted === undefined ? 'unsupported' : persisted ? 'persisted' : state.storage.persistence === 'refused' ? 'refused' : 'best-effort',
          perStore,
        },
      }));
    } catch (error) {
      set((state) => ({ storage: { ...state.storage, error: toErrorReport(error) } }));
    }
  },

  async requestPersistence() {
    if (!navigator.storage?.persist) {
      set((state) => ({ storage: { ...state.storage, persistence: 'unsupported' } }));
      return;
    }
    const granted = await navigator.storage.persist();
    set((state) => ({ storage: { ...state.storage, persistence: granted ? 'persisted' : 'refused' } }));
  },
});
