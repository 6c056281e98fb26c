/**
 * One storage interface for everything the studio keeps: IndexedDB in the browser (idb.ts), files
 * in Node (fs.ts). An item is a small JSON `meta` plus optional bytes; listing reads metas only, so a
 * library of gigabyte models lists instantly. A put replaces an item atomically: a crash mid-write
 * leaves the previous item whole (checkpoints depend on that).
 */
import { CocktailError } from '../errors.ts';

export const STORE_NAMES = ['models', 'datasets', 'runs', 'checkpoints', 'adapters', 'routers'] as const;
export type StoreName = (typeof STORE_NAMES)[number];

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface ItemInfo<Meta extends Json = Json> {
  key: string;
  meta: Meta;
  /** Bytes of the binary part (0 when there is none). */
  size: number;
  /** Milliseconds since the epoch of the last put. */
  updatedAt: number;
  /** Set (and meta null) when a listed item cannot be read: what is wrong with it, naming where it is. */
  problem?: string;
}

export interface StoreUsage {
  items: number;
  bytes: number;
}

export interface Storage {
  /** Bytes given as a Blob are kept as one where the platform can (IndexedDB), so reading them back can be lazy. */
  put(store: StoreName, key: string, meta: Json, bytes?: Uint8Array | Blob): Promise<void>;
  getInfo<Meta extends Json = Json>(store: StoreName, key: string): Promise<ItemInfo<Meta> | undefined>;
  getBytes(store: StoreName, key: string): Promise<Uint8Array | undefined>;
  /**
   * The bytes as a Blob that reads them only when sliced or read, where the platform allows: the
   * Blob IndexedDB kept (the browser holds it on disk), a range of the item's file in Node. Large
   * files are opened this way, so opening one never holds it in memory.
   */
  getBlob(store: StoreName, key: string): Promise<Blob | undefined>;
  /** Items whose key starts with `prefix`, sorted by key. */
  list<Meta extends Json = Json>(store: StoreName, prefix?: string): Promise<ItemInfo<Meta>[]>;
  /** True when an item was deleted. */
  delete(store: StoreName, key: string): Promise<boolean>;
  /** Where an item lives, for messages: a file path in Node, the database and store in a browser. */
  locate(store: StoreName, key: string): string;
  /** Items and bytes per store, as the library page shows them. */
  usage(): Promise<Record<StoreName, StoreUsage>>;
  close(): Promise<void>;
}

export const MAX_KEY_LENGTH = 512;

/**
 * Items of the "runs" store under this prefix belong to experiments (app/experiment: a manifest and
 * one record per finished arm and seed), not to single runs: run listings skip them.
 */
export const EXPERIMENT_KEY_PREFIX = 'experiments/';

export function isExperimentItem(key: string): boolean {
  return key.startsWith(EXPERIMENT_KEY_PREFIX);
}

export function checkKey(store: string, key: string): void {
  if (!(STORE_NAMES as readonly string[]).includes(store)) {
    throw new CocktailError('STORAGE_BAD_STORE', `Unknown store "${store}"; stores are ${STORE_NAMES.join(', ')}`, { store });
  }
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new CocktailError('STORAGE_BAD_KEY', `Storage keys are 1 to ${MAX_KEY_LENGTH} characters; got ${typeof key === 'string' ? `${key.length} characters` : typeof key} in "${store}"`, { store });
  }
}

export function emptyUsage(): Record<StoreName, StoreUsage> {
  return Object.fromEntries(STORE_NAMES.map((name) => [name, { items: 0, bytes: 0 }])) as Record<StoreName, StoreUsage>;
}
