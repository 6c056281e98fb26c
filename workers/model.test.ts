import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '../test/fixtures.ts';
import { startHubServer, type HubServer } from '../test/hub-server.ts';
import { noGpu, startTestEngine, type TestEngine } from '../test/engine.ts';
import type { EngineBridge } from '../app/state/bridge.ts';
import { cachePrefix, filesFromHub } from '../app/model/hub.ts';
import { readSafetensorsHeader, readTensorBytes, writeSafetensors } from '../app/model/safetensors.ts';
import type { Storage } from '../app/store/storage.ts';
import { localModelName } from './local-import.ts';

const MODEL = fixturePath('models/aidreams260K');
let engine: TestEngine;
let server: HubServer;
let storage: Storage;
let bridge: EngineBridge;

beforeAll(async () => {
  engine = await startTestEngine(noGpu('loading and importing models needs no GPU'));
  ({ server, storage, bridge } = engine);
});
afterAll(() => engine.close());

/** The fixture folder as a page hands it over: the files and their paths inside the folder. */
async function pickedFolder(dir = MODEL, extra: Record<string, Blob> = {}): Promise<{ files: File[]; paths: string[] }> {
  const entries = (await readdir(dir, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile());
  const picked = new Map<string, Blob>();
  for (const entry of entries) picked.set(relative(dir, join(entry.parentPath, entry.name)), new Blob([await readFile(join(entry.parentPath, entry.name))]));
  for (const [path, blob] of Object.entries(extra)) picked.set(path, blob);
  const paths = [...picked.keys()];
  return { files: paths.map((path) => new File([picked.get(path)!], path.split('/').at(-1)!)), paths };
}

/** Every item a model left in the "models" store. */
const storedItems = async (source: string, revision: string) => (await storage.list('models', cachePrefix(source, revision))).map((item) => item.key);

const refuseNetwork: typeof fetch = (input) => Promise.reject(new Error(`network used for ${String(input)}`));

describe('model.load: Hub models into storage', { timeout: 60_000 }, () => {
  it('downloads a Hub model with progress and describes it: config facts, weight dtype, files with sizes, chat template, ONNX export', async () => {
    const files = new Set<string>();
    const summary = await bridge.request('model.load', { source: 'aidreams/aidreams260K', revision: 'main', hubEndpoint: server.endpoint }, { onProgress: (p) => files.add(p.file) });
    expect(summary).toMatchObject({
      source: 'aidreams/aidreams260K',
      revision: 'main',
      label: 'aidreams/aidreams260K@main',
      architecture: 'LlamaForCausalLM',
      layers: 4,
      hiddenSize: 64,
      heads: 4,
      kvHeads: 4,
      vocabSize: 512,
      maxPositions: 128,
      weightDtype: 'f32',
      hasChatTemplate: false,
      hasOnnx: true,
    });
    expect(summary.parameters).toBeGreaterThan(200_000);
    expect(summary.files).toContainEqual({ path: 'model.safetensors', bytes: 927832 });
    expect(summary.files).toContainEqual({ path: 'onnx/model.onnx', bytes: 1094344 });
    expect(summary.totalBytes).toBe(summary.files.reduce((sum, file) => sum + file.bytes, 0));
    expect(files).toContain('model.safetensors');
  });

  it('loads a model it has downloaded again without the network', async () => {
    const before = server.requests.length;
    const summary = await bridge.request('model.load', { source: 'aidreams/aidreams260K', revision: 'main', hubEndpoint: 'http://127.0.0.1:9' });
    expect(summary.hasOnnx).toBe(true);
    expect(server.requests.length).toBe(before);
  });

  it('refuses a Hub model that is not in storage when the Hub cannot be reached, saying so', async () => {
    await expect(bridge.request('model.load', { source: 'nobody/nothing', revision: 'main', hubEndpoint: 'http://127.0.0.1:9' })).rejects.toMatchObject({
      code: 'HUB_NETWORK',
      message: expect.stringContaining('config.json'),
    });
  });

  it('loads a Hub model without an ONNX export, and remembers the export is absent', async () => {
    const withoutOnnx = await mkdtemp(join(tmpdir(), 'cocktail-no-onnx-'));
    await cp(MODEL, withoutOnnx, { recursive: true, filter: (path) => !path.includes('onnx') });
    const hub = await startHubServer({ 'aidreams/plain': withoutOnnx });
    try {
      expect((await bridge.request('model.load', { source: 'aidreams/plain', revision: 'main', hubEndpoint: hub.endpoint })).hasOnnx).toBe(false);
      expect((await bridge.request('model.load', { source: 'aidreams/plain', revision: 'main', hubEndpoint: 'http://127.0.0.1:9' })).hasOnnx).toBe(false);
    } finally {
      await hub.close();
      await rm(withoutOnnx, { recursive: true, force: true });
    }
  });

  it('refuses a local model that was never imported, saying to import it', async () => {
    await expect(bridge.request('model.load', { source: 'local/never-imported', revision: 'local' })).rejects.toMatchObject({
      code: 'MODEL_NOT_FOUND',
      message: expect.stringContaining('import its folder again'),
    });
  });
});

describe('model.importLocal: a picked folder into storage as local/<name>', { timeout: 60_000 }, () => {
  it('makes a model name a valid source part', () => {
    expect(localModelName(' my model (v2) ')).toBe('my-model-v2');
    expect(() => localModelName('///')).toThrow(/cannot name a model/);
  });

  it('imports a folder with progress per file and describes it', async () => {
    const progress = new Map<string, number>();
    const summary = await bridge.request('model.importLocal', { name: 'tiny', ...(await pickedFolder()) }, { onProgress: (p) => progress.set(p.file, p.loaded / p.total) });
    expect(summary).toMatchObject({ source: 'local/tiny', revision: 'local', label: 'local/tiny', layers: 4, weightDtype: 'f32', hasOnnx: true });
    expect(progress.get('model.safetensors')).toBe(1);
    expect(progress.get('onnx/model.onnx')).toBe(1);
  });

  it('loads an imported model from storage alone, and training finds every file in it without the network', async () => {
    const before = server.requests.length;
    const summary = await bridge.request('model.load', { source: 'local/tiny', revision: 'local', hubEndpoint: server.endpoint });
    expect(summary.files.map((file) => file.path)).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'onnx/model.onnx', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json']);
    expect(server.requests.length).toBe(before);
    const files = await filesFromHub('local/tiny', { storage, revision: 'local', fetch: refuseNetwork });
    const stored = Buffer.from(await (await files.open('model.safetensors')).arrayBuffer());
    expect(stored.equals(await readFile(join(MODEL, 'model.safetensors')))).toBe(true);
  });

  it('keeps only the files the studio loads', async () => {
    const summary = await bridge.request('model.importLocal', { name: 'with-extras', ...(await pickedFolder(MODEL, { 'README.md': new Blob(['# notes']), 'pytorch_model.bin': new Blob([new Uint8Array(64)]) })) });
    expect(summary.files.map((file) => file.path)).not.toContain('README.md');
    expect((await storedItems('local/with-extras', 'local')).some((key) => key.includes('pytorch_model.bin') || key.includes('README'))).toBe(false);
  });

  it('refuses files without config.json, naming it, and stores nothing', async () => {
    const { files, paths } = await pickedFolder();
    const keep = paths.map((path, index) => ({ path, file: files[index]! })).filter(({ path }) => path !== 'config.json');
    await expect(bridge.request('model.importLocal', { name: 'no-config', files: keep.map((k) => k.file), paths: keep.map((k) => k.path) })).rejects.toMatchObject({
      code: 'MODEL_FILE_MISSING',
      message: expect.stringContaining('config.json is missing'),
    });
    expect(await storedItems('local/no-config', 'local')).toEqual([]);
  });

  it('refuses weights with a tensor of the wrong shape, naming the file and the tensor, and stores nothing', async () => {
    const original = await readSafetensorsHeader(new Blob([await readFile(join(MODEL, 'model.safetensors'))]), 'model.safetensors');
    const tensors = await Promise.all(
      [...original.tensors.values()].map(async (entry) => {
        const data = new Uint8Array(await readTensorBytes(original, entry.name));
        // One row short: [172, 64] stored as [171, 64].
        if (entry.name !== 'model.layers.1.mlp.up_proj.weight') return { name: entry.name, dtype: entry.dtype, shape: entry.shape, data };
        return { name: entry.name, dtype: entry.dtype, shape: [entry.shape[0]! - 1, entry.shape[1]!], data: data.slice(0, (entry.shape[0]! - 1) * entry.shape[1]! * 4) };
      }),
    );
    const { files, paths } = await pickedFolder(MODEL, { 'model.safetensors': writeSafetensors(tensors) });
    await expect(bridge.request('model.importLocal', { name: 'mis-shaped', files, paths })).rejects.toMatchObject({
      code: 'MODEL_WEIGHT_SHAPE',
      message: expect.stringMatching(/model\.safetensors: tensor "model\.layers\.1\.mlp\.up_proj\.weight" has shape \[171, 64\] but config\.json implies \[172, 64\]/),
    });
    expect(await storedItems('local/mis-shaped', 'local')).toEqual([]);
  });

  it('deletes what it wrote when the import is cancelled part-way', async () => {
    const controller = new AbortController();
    const picked = await pickedFolder();
    const importing = bridge.request('model.importLocal', { name: 'cancelled', ...picked }, {
      signal: controller.signal,
      onProgress: () => controller.abort(),
    });
    await expect(importing).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(await storedItems('local/cancelled', 'local')).toEqual([]);
  });
});
