import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Storage } from './storage.ts';

/**
 * The behaviour every Storage implementation must have. Run by fs.test.ts in Node and by
 * idb.browser.test.ts in real Chromium, so both stores are held to the same specification.
 */
export function storageContract(label: string, open: () => Promise<Storage>, cleanUp: () => Promise<void>): void {
  describe(`${label} storage contract`, () => {
    let storage: Storage;
    beforeEach(async () => {
      storage = await open();
    });
    afterEach(async () => {
      await storage.close();
      await cleanUp();
    });

    it('returns what was put: meta, size and bytes', async () => {
      const bytes = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);
      await storage.put('models', 'org/model@main/model.safetensors', { dtype: 'bf16', files: ['a', 'b'] }, bytes);
      const info = await storage.getInfo('models', 'org/model@main/model.safetensors');
      expect(info).toMatchObject({ key: 'org/model@main/model.safetensors', meta: { dtype: 'bf16', files: ['a', 'b'] }, size: 1000 });
      expect(Array.from((await storage.getBytes('models', 'org/model@main/model.safetensors'))!)).toEqual(Array.from(bytes));
    });

    it('keeps bytes given as a Blob, and gives any item’s bytes back as a Blob', async () => {
      const bytes = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7) % 256);
      await storage.put('models', 'as-blob', { part: 1 }, new Blob([bytes.subarray(0, 1000), bytes.subarray(1000)]));
      await storage.put('models', 'as-bytes', { part: 2 }, bytes);
      expect(await storage.getInfo('models', 'as-blob')).toMatchObject({ meta: { part: 1 }, size: 3000 });
      expect(await storage.getBytes('models', 'as-blob')).toEqual(bytes);
      for (const key of ['as-blob', 'as-bytes']) {
        const blob = (await storage.getBlob('models', key))!;
        expect(blob.size).toBe(3000);
        expect(new Uint8Array(await blob.slice(1500, 1510).arrayBuffer())).toEqual(bytes.subarray(1500, 1510));
        expect(new Uint8Array(await blob.arrayBuffer())).toEqual(bytes);
      }
      await storage.put('models', 'no-bytes', {});
      expect(await storage.getBlob('models', 'no-bytes')).toBeUndefined();
    });

    it('returns undefined for an item that was never put', async () => {
      expect(await storage.getInfo('runs', 'nope')).toBeUndefined();
      expect(await storage.getBytes('runs', 'nope')).toBeUndefined();
      expect(await storage.getBlob('runs', 'nope')).toBeUndefined();
    });

    it('replaces an item whole on a second put, dropping bytes the new one lacks', async () => {
      await storage.put('checkpoints', 'run-1', { step: 10 }, new Uint8Array([1, 2, 3]));
      await storage.put('checkpoints', 'run-1', { step: 20 });
      expect(await storage.getInfo('checkpoints', 'run-1')).toMatchObject({ meta: { step: 20 }, size: 0 });
      expect(await storage.getBytes('checkpoints', 'run-1')).toBeUndefined();
    });

    it('lists items with a key prefix in key order without their bytes', async () => {
      for (const key of ['b/2', 'a/1', 'b/1', 'c']) await storage.put('datasets', key, { key }, new Uint8Array(4));
      expect((await storage.list('datasets', 'b/')).map((item) => item.key)).toEqual(['b/1', 'b/2']);
      expect((await storage.list('datasets')).map((item) => item.key)).toEqual(['a/1', 'b/1', 'b/2', 'c']);
    });

    it('keeps the five stores apart', async () => {
      await storage.put('adapters', 'x', { in: 'adapters' });
      expect(await storage.getInfo('runs', 'x')).toBeUndefined();
    });

    it('deletes an item and says whether there was one', async () => {
      await storage.put('runs', 'r', { done: true }, new Uint8Array(8));
      expect(await storage.delete('runs', 'r')).toBe(true);
      expect(await storage.delete('runs', 'r')).toBe(false);
      expect(await storage.getBytes('runs', 'r')).toBeUndefined();
    });

    it('counts items and bytes per store', async () => {
      await storage.put('models', 'm1', {}, new Uint8Array(100));
      await storage.put('models', 'm2', {}, new Uint8Array(50));
      await storage.put('adapters', 'a', {});
      const usage = await storage.usage();
      expect(usage.models).toEqual({ items: 2, bytes: 150 });
      expect(usage.adapters).toEqual({ items: 1, bytes: 0 });
      expect(usage.runs).toEqual({ items: 0, bytes: 0 });
    });

    it('keeps keys with any characters distinct', async () => {
      const keys = ['a/b', 'a%2Fb', 'a b', 'ä.b', 'A/B'];
      for (const [i, key] of keys.entries()) await storage.put('datasets', key, { i });
      for (const [i, key] of keys.entries()) expect((await storage.getInfo('datasets', key))?.meta).toEqual({ i });
    });

    it('says where an item lives, naming its store and key', () => {
      const location = storage.locate('checkpoints', 'run-1@0000000003');
      expect(location).toMatch(/checkpoints/);
      expect(location).toMatch(/run-1(@|%40)0000000003/);
    });

    it('refuses an empty key and an unknown store with a message naming them', async () => {
      await expect(storage.put('models', '', {})).rejects.toThrow(/1 to 512 characters/);
      await expect(storage.put('weights' as 'models', 'k', {})).rejects.toThrow(/Unknown store "weights"/);
    });
  });
}
