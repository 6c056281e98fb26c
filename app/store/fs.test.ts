import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { storageContract } from './contract.ts';
import { FILE_FORMAT_VERSION, openFileStorage, writeRawItemFile } from './fs.ts';

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

  it('refuses an item whose header is not JSON with a typed error naming its path, not a SyntaxError', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cocktail-store-'));
    const storage = await openFileStorage(dir);
    const header = new TextEncoder().encode('{"info": {"key": "r", "me');
    const prefix = new DataView(new ArrayBuffer(12));
    prefix.setUint32(0, 0x54534b43, true);
    prefix.setUint32(4, FILE_FORMAT_VERSION, true);
    prefix.setUint32(8, header.byteLength, true);
    await writeRawItemFile(dir, 'checkpoints', 'r@1', new Uint8Array([...new Uint8Array(prefix.buffer), ...header]));
    const failure = await storage.getInfo('checkpoints', 'r@1').catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: 'STORAGE_CORRUPT', message: expect.stringMatching(/checkpoints\/r%401\.item: header is not valid JSON/) });
    expect(storage.locate('checkpoints', 'r@1')).toBe(join(dir, 'checkpoints', 'r%401.item'));
    await rm(dir, { recursive: true });
  });

  it('removes temporary files an interrupted put left behind when opened, but not those of a live writer', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cocktail-store-'));
    await openFileStorage(dir);
    const gone = spawnSync(process.execPath, ['-e', '0']).pid;
    await writeFile(join(dir, 'checkpoints', `run%401.item.${gone}.0.tmp`), new Uint8Array(100));
    await writeFile(join(dir, 'checkpoints', `run%402.item.${process.pid}.7.tmp`), new Uint8Array(100));
    await openFileStorage(dir);
    expect(await readdir(join(dir, 'checkpoints'))).toEqual([`run%402.item.${process.pid}.7.tmp`]);
    await rm(dir, { recursive: true });
  });
});
