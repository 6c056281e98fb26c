import type { StateCreator } from 'zustand';
import { toErrorReport, type ErrorReport } from '../../errors.ts';
import { openIndexedDbStorage, watchSchemaStatus, type SchemaStatus } from '../../store/idb.ts';
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
    /** What this page's and the engine worker's IndexedDB connections know of other tabs' schema versions. */
    schema: { page: SchemaStatus; engine: SchemaStatus };
  };
  refreshStorage(): Promise<void>;
  /** Asks the browser not to evict our data under storage pressure; a refusal is shown, not fatal. */
  requestPersistence(): Promise<void>;
}

const SCHEMA_UNCHANGED: SchemaStatus = { replaced: false, waitingForOlderTab: false };

export const createStorageSlice: StateCreator<AppState, [], [], StorageSlice> = (set) => {
  watchSchemaStatus((status) => set((state) => ({ storage: { ...state.storage, schema: { ...state.storage.schema, page: status } } })));
  return {
    storage: { persistence: 'unknown', schema: { page: SCHEMA_UNCHANGED, engine: SCHEMA_UNCHANGED } },

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
            schema: state.storage.schema,
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
  };
};
