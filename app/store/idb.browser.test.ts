import { deleteDB, openDB } from 'idb';
import { describe, expect, it } from 'vitest';
import { storageContract } from './contract.ts';
import { STORE_NAMES } from './storage.ts';
import { SCHEMA_REPLACED_MESSAGE, SCHEMA_VERSION, openIndexedDbStorage, watchSchemaStatus, type SchemaStatus } from './idb.ts';

const NAME = 'cocktail-studio-test';
storageContract('IndexedDB', () => openIndexedDbStorage(NAME), () => deleteDB(NAME));

describe('IndexedDB schema', () => {
  it(`creates version ${SCHEMA_VERSION} with an info and a bytes store for each kind`, async () => {
    const storage = await openIndexedDbStorage(NAME);
    await storage.close();
    const request = indexedDB.open(NAME);
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    expect(db.version).toBe(SCHEMA_VERSION);
    expect([...db.objectStoreNames].sort()).toEqual(
      ['adapters', 'adapters:bytes', 'checkpoints', 'checkpoints:bytes', 'datasets', 'datasets:bytes', 'models', 'models:bytes', 'routers', 'routers:bytes', 'runs', 'runs:bytes'],
    );
    db.close();
    await deleteDB(NAME);
  });

  it('upgrades a version 1 database to add the routers store, keeping what it held', async () => {
    await deleteDB(NAME);
    const old = await openDB(NAME, 1, {
      upgrade(db) {
        for (const name of ['models', 'datasets', 'runs', 'checkpoints', 'adapters']) {
          db.createObjectStore(name, { keyPath: 'key' });
          db.createObjectStore(`${name}:bytes`);
        }
      },
    });
    await old.put('adapters', { key: 'run/shared', meta: { r: 4 }, size: 0, updatedAt: 1 });
    old.close();
    const storage = await openIndexedDbStorage(NAME);
    expect((await storage.getInfo('adapters', 'run/shared'))?.meta).toEqual({ r: 4 });
    await storage.put('routers', 'router-a', { experts: ['a', 'b'] }, new Uint8Array([1, 2, 3]));
    expect(await storage.getBytes('routers', 'router-a')).toEqual(new Uint8Array([1, 2, 3]));
    await storage.close();
    await deleteDB(NAME);
  });
});

describe('IndexedDB opened by tabs on different schema versions', () => {
  const statuses: SchemaStatus[] = [];
  watchSchemaStatus((status) => statuses.push(status));

  it('lets a newer tab upgrade: the older connection closes, says to reload, and keeps what was stored', async () => {
    await deleteDB(NAME);
    statuses.length = 0;
    const older = await openIndexedDbStorage(NAME);
    await older.put('adapters', 'run/shared', { r: 4 }, new Uint8Array([7, 8]));
    // Without the older connection's `blocking` handler this open would wait forever.
    const newer = await openIndexedDbStorage(NAME, SCHEMA_VERSION + 1);
    expect(statuses).toEqual([{ replaced: true, waitingForOlderTab: false }]);
    await expect(older.getInfo('adapters', 'run/shared')).rejects.toMatchObject({ code: 'STORAGE_REPLACED', message: SCHEMA_REPLACED_MESSAGE });
    expect((await newer.getInfo('adapters', 'run/shared'))?.meta).toEqual({ r: 4 });
    expect(await newer.getBytes('adapters', 'run/shared')).toEqual(new Uint8Array([7, 8]));
    // This tab's code knows only the older version: opening again says to reload, not "storage unavailable".
    await expect(openIndexedDbStorage(NAME)).rejects.toMatchObject({ code: 'STORAGE_REPLACED' });
    await newer.close();
    await deleteDB(NAME);
  });

  it('shows that an upgrade waits for an older tab without the handler, until that tab lets go', async () => {
    await deleteDB(NAME);
    // A tab of an earlier release: its connection has no versionchange handler, so it holds the database.
    const olderTab = await openDB(NAME, SCHEMA_VERSION, {
      upgrade(db) {
        for (const name of STORE_NAMES) {
          db.createObjectStore(name, { keyPath: 'key' });
          db.createObjectStore(`${name}:bytes`);
        }
      },
    });
    statuses.length = 0;
    const opening = openIndexedDbStorage(NAME, SCHEMA_VERSION + 1);
    await expect.poll(() => statuses.at(-1)?.waitingForOlderTab).toBe(true);
    olderTab.close();
    const newer = await opening;
    expect(statuses.at(-1)?.waitingForOlderTab).toBe(false);
    await newer.put('models', 'm', { ok: true });
    expect((await newer.getInfo('models', 'm'))?.meta).toEqual({ ok: true });
    await newer.close();
    await deleteDB(NAME);
  });
});
