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

/**
 * What this tab knows about other tabs' schema versions. `replaced`: a tab with a newer schema asked for
 * the database, so this tab let its connection go and must be reloaded. `waitingForOlderTab`: this tab's
 * upgrade waits for a tab on an older schema (one without this handler) to let go. Either way nothing
 * stored is lost: an upgrade only adds stores.
 */
export interface SchemaStatus {
  replaced: boolean;
  waitingForOlderTab: boolean;
}

export const SCHEMA_REPLACED_MESSAGE = 'Cocktail Studio was updated in another tab; reload this one. Nothing you have stored is lost.';
export const SCHEMA_WAITING_MESSAGE =
  'Cocktail Studio is open in another tab on an older version, which holds its storage; reload or close that tab to go on. Nothing you have stored is lost.';

const schemaListeners = new Set<(status: SchemaStatus) => void>();
let replaced = false;
let waitingOpens = 0;

function announceSchema(): void {
  const status: SchemaStatus = { replaced, waitingForOlderTab: waitingOpens > 0 };
  for (const listener of schemaListeners) listener(status);
}

/** Calls `listener` whenever this tab's SchemaStatus changes (the studio shows it as a notice); returns the unsubscribe. */
export function watchSchemaStatus(listener: (status: SchemaStatus) => void): () => void {
  schemaListeners.add(listener);
  return () => schemaListeners.delete(listener);
}

const replacedError = (): CocktailError => new CocktailError('STORAGE_REPLACED', SCHEMA_REPLACED_MESSAGE);

/**
 * `schemaVersion` is SCHEMA_VERSION outside tests; a test opens a later one to play the tab of a newer
 * release (the steps it adds are none, so the upgrade keeps every store as it is).
 */
export async function openIndexedDbStorage(name = DATABASE_NAME, schemaVersion = SCHEMA_VERSION): Promise<Storage> {
  let connectionReplaced = false;
  let waiting = false;
  const stopWaiting = (): void => {
    if (!waiting) return;
    waiting = false;
    waitingOpens -= 1;
    announceSchema();
  };
  let db: IDBPDatabase;
  try {
    db = await openDB(name, schemaVersion, {
      upgrade: (database, oldVersion) => migrate(database as unknown as IDBPDatabase, oldVersion),
      // Another tab still holds the database at an older version: the upgrade waits until it lets go.
      blocked: () => {
        if (waiting) return;
        waiting = true;
        waitingOpens += 1;
        announceSchema();
      },
      // A newer tab waits for this connection: let go at once (IndexedDB would otherwise hold its upgrade forever).
      blocking: (_current, _next, event) => {
        (event.target as IDBDatabase).close();
        connectionReplaced = true;
        replaced = true;
        announceSchema();
      },
    });
  } catch (error) {
    // The database is at a later version than this tab's code knows: a newer release opened it.
    if (error instanceof DOMException && error.name === 'VersionError') {
      replaced = true;
      announceSchema();
      throw replacedError();
    }
    throw new CocktailError('STORAGE_UNAVAILABLE', `IndexedDB could not be opened (${String(error)}); private windows and some browser settings disable it`);
  } finally {
    stopWaiting();
  }
  return new IndexedDbStorage(db, () => connectionReplaced);
}

class IndexedDbStorage implements Storage {
  constructor(
    private readonly connection: IDBPDatabase,
    private readonly replacedByNewerTab: () => boolean,
  ) {}

  /** The connection, unless a newer tab took the database: then the typed error that says to reload. */
  private get db(): IDBPDatabase {
    if (this.replacedByNewerTab()) throw replacedError();
    return this.connection;
  }

  locate(store: StoreName, key: string): string {
    return `IndexedDB "${this.connection.name}" › ${store} › ${key}`;
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
    this.connection.close();
  }
}
