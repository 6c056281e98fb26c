import { deleteDB } from 'idb';
import { afterAll, describe, expect, it } from 'vitest';
import { commands } from 'vitest/browser';
import { startEngine } from '../app/state/engine.ts';
import { DATABASE_NAME } from '../app/store/idb.ts';

/**
 * The engine as the studio runs it: a module Worker bundled by Vite, with IndexedDB and WebGPU in
 * Chromium, and ONNX Runtime's WebAssembly fetched from the URL the bundler gives it.
 */
const MODEL = '../shared/fixtures/models/aidreams260K';
const PATHS = ['config.json', 'generation_config.json', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors', 'onnx/model.onnx'];

async function fixtureFile(path: string): Promise<File> {
  const base64 = await commands.readFile(`${MODEL}/${path}`, 'base64');
  const bytes = Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
  return new File([bytes], path.split('/').at(-1)!);
}

const bridge = startEngine({});
afterAll(async () => {
  bridge.dispose();
  await deleteDB(DATABASE_NAME);
});

describe('the engine worker in Chromium', { timeout: 120_000 }, () => {
  it('imports a model folder into IndexedDB and verifies the engine against ONNX Runtime on its export', async () => {
    const files = await Promise.all(PATHS.map(fixtureFile));
    const summary = await bridge.request('model.importLocal', { name: 'aidreams-browser', files, paths: PATHS });
    expect(summary).toMatchObject({ source: 'local/aidreams-browser', hasOnnx: true });
    const stages: string[] = [];
    const check = await bridge.request('model.verify', { source: summary.source, revision: summary.revision }, { onProgress: ({ stage }) => stages.push(stage) });
    expect(stages).toEqual(['download', 'engine', 'onnx']);
    expect(check.passed).toBe(true);
    expect(check.argmaxDisagreements).toBe(0);
    expect(check.tokens).toBeGreaterThan(5);
  });

  it('imports picked files by their own names when no paths are given', async () => {
    const files = await Promise.all(PATHS.filter((path) => !path.includes('/')).map(fixtureFile));
    const summary = await bridge.request('model.importLocal', { name: 'flat-files', files });
    expect(summary).toMatchObject({ source: 'local/flat-files', hasOnnx: false, layers: 4 });
  });
});
