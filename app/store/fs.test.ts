import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { storageContract } from './contract.ts';
import { openFileStorage, writeRawItemFile } from './fs.ts';

let root = '';
storageContract(
  'file',
  async () => openFileStorage((root = await mkdtemp(join(tmpdir(), 'cocktail-store-')))),
  () => rm(root, { recursive: true, force: true }),
);

describe('file storage', () => {
  it('leaves no temporary files behind after a put', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cocktail-store-'));
    const storage = await openFileStorage(dir);
    await storage.put('checkpoints', 'run/step-1', { step: 1 }, new Uint8Array(10));
    expect(await readdir(join(dir, 'checkpoints'))).toEqual(['run%2fstep-1.item']);
    await rm(dir, { recursive: true });
  });

  it('refuses a file that is not a storage item, naming its path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cocktail-store-'));
    const storage = await openFileStorage(dir);
    await writeRawItemFile(dir, 'runs', 'torn', new TextEncoder().encode('garbage'));
    await expect(storage.getInfo('runs', 'torn')).rejects.toThrow(/runs\/torn\.item: not a Cocktail Studio storage item/);
    await rm(dir, { recursive: true });
  });
});
