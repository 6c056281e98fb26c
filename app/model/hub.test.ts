import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixturePath } from '../../test/fixtures.ts';
import { startHubServer, type HubServer } from '../../test/hub-server.ts';
import { openFileStorage } from '../store/fs.ts';
import type { Storage } from '../store/storage.ts';
import { parseModelConfig } from './config.ts';
import { cacheKey, filesFromHub, hubFileUrl, type HubProgress } from './hub.ts';
import { readJsonFile } from './source.ts';
import { locateWeights } from './weights.ts';

const REPO = 'aidreams/aidreams260K';
let server: HubServer;
let storage: Storage;
let root: string;

beforeEach(async () => {
  server = await startHubServer({ [REPO]: fixturePath('models/aidreams260K') });
  root = await mkdtemp(join(tmpdir(), 'cocktail-hub-'));
  storage = await openFileStorage(root);
});
afterEach(async () => {
  await server.close().catch(() => undefined);
  await rm(root, { recursive: true, force: true });
});

const fixtureBytes = async (path: string) => new Uint8Array(await readFile(fixturePath(`models/aidreams260K/${path}`)));

describe('models from the Hub layout', { timeout: 60_000 }, () => {
  it('builds file URLs in the Hub layout', () => {
    expect(hubFileUrl('https://huggingface.co/', 'HuggingFaceTB/SmolLM2-135M', 'main', 'onnx/model.onnx')).toBe(
      'https://huggingface.co/HuggingFaceTB/SmolLM2-135M/resolve/main/onnx/model.onnx',
    );
  });

  it('downloads every file with progress and gives back the same bytes', async () => {
    const progress: HubProgress[] = [];
    const files = await filesFromHub(REPO, { storage, endpoint: server.endpoint, chunkBytes: 100_000, onProgress: (p) => progress.push(p) });
    expect(files.list()).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json']);
    const weights = new Uint8Array(await (await files.open('model.safetensors')).arrayBuffer());
    expect(weights).toEqual(await fixtureBytes('model.safetensors'));
    const last = progress.filter((p) => p.file === 'model.safetensors').at(-1)!;
    expect(last).toMatchObject({ loaded: 927_832, total: 927_832 });
  });

  it('loads a second time from the cache with the server stopped', async () => {
    await filesFromHub(REPO, { storage, endpoint: server.endpoint, chunkBytes: 100_000 });
    await server.close();
    const files = await filesFromHub(REPO, { storage, endpoint: server.endpoint, chunkBytes: 100_000 });
    expect(new Uint8Array(await (await files.open('tokenizer.json')).arrayBuffer())).toEqual(await fixtureBytes('tokenizer.json'));
  });

  it('names the file when a download breaks off, and resumes from the last whole chunk', async () => {
    server.breakAfter('model.safetensors', 350_000);
    await expect(filesFromHub(REPO, { storage, endpoint: server.endpoint, chunkBytes: 100_000 })).rejects.toThrow(/Download of model\.safetensors (broke off|ended) at \d+ of 927832 bytes/);
    const files = await filesFromHub(REPO, { storage, endpoint: server.endpoint, chunkBytes: 100_000 });
    expect(server.requests).toContain(`GET /${REPO}/resolve/main/model.safetensors bytes=300000-`);
    expect(new Uint8Array(await (await files.open('model.safetensors')).arrayBuffer())).toEqual(await fixtureBytes('model.safetensors'));
  });

  it('does not count a half-downloaded file as cached', async () => {
    server.breakAfter('model.safetensors', 350_000);
    await expect(filesFromHub(REPO, { storage, endpoint: server.endpoint, chunkBytes: 100_000 })).rejects.toThrow();
    await server.close();
    await expect(filesFromHub(REPO, { storage, endpoint: server.endpoint, chunkBytes: 100_000 })).rejects.toThrow(/Could not reach .*model\.safetensors/);
  });

  it('fetches optional extra files such as the ONNX export when asked', async () => {
    const files = await filesFromHub(REPO, { storage, endpoint: server.endpoint, extraFiles: ['onnx/model.onnx'] });
    expect(files.has('onnx/model.onnx')).toBe(true);
  });

  it('says which repository and file when the repository does not exist', async () => {
    await expect(filesFromHub('nobody/nothing', { storage, endpoint: server.endpoint })).rejects.toThrow(/nobody\/nothing\/resolve\/main\/config\.json answered 404/);
  });

  it('downloads a gated repository with an access token, and says what is missing without one or with a wrong one', async () => {
    const gated = await startHubServer({ 'meta-llama/tiny': fixturePath('models/aidreams260K') }, { gated: { 'meta-llama/tiny': 'hf_reader' } });
    try {
      const options = { storage, endpoint: gated.endpoint };
      await expect(filesFromHub('meta-llama/tiny', options)).rejects.toMatchObject({ code: 'HUB_FORBIDDEN', message: expect.stringMatching(/config\.json answered 401: the repository is gated or private and no access token was given/) });
      await expect(filesFromHub('meta-llama/tiny', { ...options, accessToken: 'hf_wrong' })).rejects.toThrow(/the access token given does not grant it/);
      const files = await filesFromHub('meta-llama/tiny', { ...options, accessToken: 'hf_reader' });
      expect(new Uint8Array(await (await files.open('model.safetensors')).arrayBuffer())).toEqual(await fixtureBytes('model.safetensors'));
    } finally {
      await gated.close();
    }
  });

  it('refuses something that is not a repository id', async () => {
    await expect(filesFromHub('not a repo!', { storage, endpoint: server.endpoint })).rejects.toThrow(/is not a Hub repository id/);
  });
});

describe('a broken file of a Hub model', { timeout: 60_000 }, () => {
  it('is named by its repository, revision and full path in the cache', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'cocktail-broken-model-'));
    await cp(fixturePath('models/aidreams260K'), folder, { recursive: true });
    const bytes = await fixtureBytes('model.safetensors');
    // A header length past the end of the file: the safetensors reader refuses it.
    new DataView(bytes.buffer).setBigUint64(0, BigInt(bytes.byteLength), true);
    await writeFile(join(folder, 'model.safetensors'), bytes);
    const broken = await startHubServer({ 'aidreams/broken': folder });
    try {
      const files = await filesFromHub('aidreams/broken', { storage, endpoint: broken.endpoint });
      const config = parseModelConfig(await readJsonFile(files, 'config.json'));
      const cached = storage.locate('models', cacheKey('aidreams/broken', 'main', 'model.safetensors'));
      expect(cached.startsWith(root)).toBe(true);
      await expect(locateWeights(files, config)).rejects.toMatchObject({
        code: 'SAFETENSORS_INVALID',
        message: expect.stringContaining(`aidreams/broken@main/model.safetensors (cached at ${cached}): `),
      });
    } finally {
      await broken.close();
      await rm(folder, { recursive: true, force: true });
    }
  });
});
