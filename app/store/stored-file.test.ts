import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixturePath } from '../../test/fixtures.ts';
import { startHubServer, type HubServer } from '../../test/hub-server.ts';
import { openFileStorage } from './fs.ts';
import type { Storage } from './storage.ts';
import { ensureStoredFile, openStoredFile, storedManifest } from './stored-file.ts';

const REPO = 'owner/model';
const FILE = 'model.safetensors';
const CHUNK = 100_000;
let server: HubServer;
let storage: Storage;
let root: string;
let repoDir: string;
let url: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'cocktail-stored-file-'));
  repoDir = join(root, 'repo');
  await mkdir(repoDir);
  await copyFile(fixturePath('models/aidreams260K/model.safetensors'), join(repoDir, FILE));
  server = await startHubServer({ [REPO]: repoDir });
  storage = await openFileStorage(join(root, 'storage'));
  url = `${server.endpoint}/${REPO}/resolve/main/${FILE}`;
});
afterEach(async () => {
  await server.close().catch(() => undefined);
  await rm(root, { recursive: true, force: true });
});

const ensure = () => ensureStoredFile(storage, 'models', 'm/model.safetensors', url, { name: FILE, chunkBytes: CHUNK });
const stored = async () => new Uint8Array(await (await openStoredFile(storage, 'models', 'm/model.safetensors', FILE)).arrayBuffer());
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('resumable downloads that never splice two revisions', { timeout: 60_000 }, () => {
  it('resumes with Range and If-Range carrying the first response’s ETag, and checks the whole file’s SHA-256', async () => {
    const original = new Uint8Array(await readFile(join(repoDir, FILE)));
    server.breakAfter(FILE, 350_000);
    await expect(ensure()).rejects.toMatchObject({ code: 'HUB_INTERRUPTED' });
    expect(await ensure()).toBe(true);
    expect(server.conditional).toEqual([`GET /${REPO}/resolve/main/${FILE} bytes=300000- if-range "${sha256(original)}"`]);
    expect(await stored()).toEqual(original);
    // The checksum covered the chunks stored before the break as well as those after it.
    expect(await storedManifest(storage, 'models', 'm/model.safetensors')).toMatchObject({ complete: true, sha256: sha256(original), etag: `"${sha256(original)}"` });
  });

  it('starts over when the file changed upstream between the break and the resume', async () => {
    server.breakAfter(FILE, 350_000);
    await expect(ensure()).rejects.toMatchObject({ code: 'HUB_INTERRUPTED' });
    const changed = new Uint8Array(await readFile(join(repoDir, FILE)));
    changed.reverse();
    await writeFile(join(repoDir, FILE), changed);
    expect(await ensure()).toBe(true);
    // The server saw an If-Range that no longer matched and sent the whole new file; nothing of the old one is kept.
    expect(server.conditional).toHaveLength(1);
    expect(await stored()).toEqual(changed);
    expect((await storedManifest(storage, 'models', 'm/model.safetensors'))?.sha256).toBe(sha256(changed));
  });

  it('refuses a file whose bytes do not match the SHA-256 the Hub gives, keeps nothing of it, and downloads it afresh next time', async () => {
    server.misreportChecksum(FILE);
    await expect(ensure()).rejects.toMatchObject({ code: 'HUB_CHECKSUM', message: expect.stringMatching(/^model\.safetensors arrived with SHA-256 [0-9a-f]{64}, but the Hub gives 0{64}; it was discarded/) });
    expect(await storedManifest(storage, 'models', 'm/model.safetensors')).toBeUndefined();
    expect(await storage.list('models', 'm/model.safetensors#')).toEqual([]);
    await server.close();
    server = await startHubServer({ [REPO]: repoDir });
    url = `${server.endpoint}/${REPO}/resolve/main/${FILE}`;
    expect(await ensure()).toBe(true);
    expect(server.requests).toEqual([`GET /${REPO}/resolve/main/${FILE}`]);
    expect(await stored()).toEqual(new Uint8Array(await readFile(join(repoDir, FILE))));
  });

  it('starts over rather than resume a part stored without a strong ETag (nothing proves the rest belongs to it)', async () => {
    server.breakAfter(FILE, 350_000);
    await expect(ensure()).rejects.toMatchObject({ code: 'HUB_INTERRUPTED' });
    const manifest = (await storedManifest(storage, 'models', 'm/model.safetensors'))!;
    await storage.put('models', 'm/model.safetensors', { ...manifest, etag: 'W/"weak"' });
    expect(await ensure()).toBe(true);
    expect(server.conditional).toEqual([]);
    expect(server.requests.at(-1)).toBe(`GET /${REPO}/resolve/main/${FILE}`);
    expect(await stored()).toEqual(new Uint8Array(await readFile(join(repoDir, FILE))));
  });
});
