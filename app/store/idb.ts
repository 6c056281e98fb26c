import { openDB, type IDBPDatabase } from 'idb';
import { CocktailError } from '../errors.ts';
import { STORE_NAMES, checkKey, emptyUsage, type ItemInfo, type Json, type Storage, type StoreName } from './storage.ts';

/**
 * IndexedDB schema, versioned. Each store name has two object stores: `<name>` holds ItemInfo
 * records (keyPath "key"), `<name>:bytes` holds the binary parts under the same key, so listing
 * never loads bytes. A put writes both in one transaction, which IndexedDB commits atomically.
 * To change the schema, bump SCHEMA_VERSION and add a step to `migrate`; never edit a past step.
 */
export const DATABASE_NAME = 'cocktail-studio';
export const SCHEMA_VERSION = 2;

/** The stores each schema version added (STORE_NAMES is the union of them all). */
const STORES_ADDED_IN: Record<number, readonly StoreName[]> = {
  1: ['models', 'datasets', 'runs', 'checkpoints', 'adapters'],
  // Routers over task adapters (app/route): a library of their own, beside the adapters they route between.
  2: ['routers'],
};

function migrate(db: IDBPDatabase, oldVersion: number): void {
  for (let version = oldVersion + 1; version <= SCHEMA_VERSION; version++) {
    for (const name of STORES_ADDED_IN[version] ?? []) {
      db.createObjectStore(name, { keyPath: 'key' });
      db.createObjectStore(bytesStore(name));
    }
  }
}

const bytesStore = (name: StoreName): string => `${name}:bytes`;

export async function openIndexedDbStorage(name = DATABASE_NAME): Promise<Storage> {
  let db: IDBPDatabase;
  try {
    db = await openDB(name, SCHEMA_VERSION, {
      upgrade: (database, oldVersion) => migrate(database as unknown as IDBPDatabase, oldVersion),
      blocked: () => undefined,
    });
  } catch (error) {
    throw new CocktailError('STORAGE_UNAVAILABLE', `IndexedDB could not be opened (${String(error)}); private windows and some browser settings disable it`);
  }
  return new IndexedDbStorage(db);
}

class IndexedDbStorage implements Storage {
  constructor(private readonly db: IDBPDatabase) {}

  locate(store: StoreName, key: string): string {
    return `IndexedDB "${this.db.name}" › ${store} › ${key}`;
  }

  async put(store: StoreName, key: string, meta: Json, bytes?: Uint8Array | Blob): Promise<void> {
    checkKey(store, key);
    const size = bytes === undefined ? 0 : bytes instanceof Blob ? bytes.size : bytes.byteLength;
    const info: ItemInfo = { key, meta, size, updatedAt: Date.now() };
    const tx = this.db.transaction([store, bytesStore(store)], 'readwrite');
    await Promise.all([
      tx.objectStore(store).put(info),
      // A Blob is stored as a Blob: the browser keeps its bytes in a file of their own and hands back a Blob that reads them when asked.
      bytes ? tx.objectStore(bytesStore(store)).put(bytes instanceof Blob ? bytes : bytes.slice(), key) : tx.objectStore(bytesStore(store)).delete(key),
      tx.done,
    ]);
  }

  async getInfo<Meta extends Json>(store: StoreName, key: string): Promise<ItemInfo<Meta> | undefined> {
    checkKey(store, key);
    return (await this.db.get(store, key)) as ItemInfo<Meta> | undefined;
  }

  async getBytes(store: StoreName, key: string): Promise<Uint8Array | undefined> {
    checkKey(store, key);
    const value = (await this.db.get(bytesStore(store), key)) as Uint8Array | Blob | undefined;
    if (value === undefined) return undefined;
    return value instanceof Blob ? new Uint8Array(await value.arrayBuffer()) : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }

  async getBlob(store: StoreName, key: string): Promise<Blob | undefined> {
    checkKey(store, key);
    const value = (await this.db.get(bytesStore(store), key)) as Uint8Array<ArrayBuffer> | Blob | undefined;
    if (value === undefined) return undefined;
    // Items put as bytes come back as bytes, already in memory.
    return value instanceof Blob ? value : new Blob([value]);
  }

  async list<Meta extends Json>(store: StoreName, prefix = ''): Promise<ItemInfo<Meta>[]> {
    checkKey(store, 'list');
    const range = prefix ? IDBKeyRange.bound(prefix, `${prefix}\uffff`) : undefined;
    return (await this.db.getAll(store, range)) as ItemInfo<Meta>[];
  }

  async delete(store: StoreName, key: string): Promise<boolean> {
    checkKey(store, key);
    const tx = this.db.transaction([store, bytesStore(store)], 'readwrite');
    const existed = (await tx.objectStore(store).getKey(key)) !== undefined;
    await Promise.all([tx.objectStore(store).delete(key), tx.objectStore(bytesStore(store)).delete(key), tx.done]);
    return existed;
  }

  async usage(): ReturnType<Storage['usage']> {
    const usage = emptyUsage();
    for (const name of STORE_NAMES) {
      for (const info of (await this.db.getAll(name)) as ItemInfo[]) {
        usage[name].items += 1;
        usage[name].bytes += info.size;
      }
    }
    return usage;
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
