import { deleteDB } from 'idb';
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
      ['adapters', 'adapters:bytes', 'checkpoints', 'checkpoints:bytes', 'datasets', 'datasets:bytes', 'models', 'models:bytes', 'runs', 'runs:bytes'],
    );
    db.close();
    await deleteDB(NAME);
  });
});
