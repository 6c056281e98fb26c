import { deleteDB, openDB } from 'idb';
import { describe, expect, it } from 'vitest';
import { storageContract } from './contract.ts';
import { SCHEMA_VERSION, openIndexedDbStorage } from './idb.ts';

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
