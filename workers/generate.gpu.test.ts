import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../app/gpu/device.ts';
import { loadModel, type LoadedModel } from '../app/model/load.ts';
import { initLoraAdapter } from '../app/model/lora.ts';
import { filesFromDirectory } from '../app/model/node-source.ts';
import { openFileStorage } from '../app/store/fs.ts';
import type { Storage } from '../app/store/storage.ts';
import { exportPeftAdapter, zipPeftAdapter } from '../app/train/peft.ts';
import { fixturePath } from '../test/fixtures.ts';
import { failNextAllocation, trackLiveBuffers } from '../test/gpu-faults.ts';
import { acquireTestGpu } from '../test/gpu.ts';
import { generateInStudio, promptIds } from './generate.ts';

let ctx: GpuContext;
let model: LoadedModel;
let storage: Storage;
let root: string;
beforeAll(async () => {
  ctx = await acquireTestGpu();
  model = await loadModel(ctx, await filesFromDirectory(fixturePath('models/aidreams260K')));
  root = await mkdtemp(join(tmpdir(), 'cocktail-generate-'));
  storage = await openFileStorage(root);
  const adapter = initLoraAdapter(model.config, { r: 2, alpha: 4, dropout: 0, targets: ['q_proj', 'v_proj'], rslora: false }, 3);
  await storage.put('adapters', 'run/shared', { runId: 'run', name: 'shared' }, await zipPeftAdapter(exportPeftAdapter(adapter, model.config, 'aidreams260K')));
});
afterAll(async () => {
  model?.gpu.destroy();
  ctx?.destroy();
  await rm(root, { recursive: true, force: true });
});

const request = { source: 'aidreams/aidreams260K', revision: 'main', adapterKey: 'run/shared', prompt: 'Once upon a time', maxNewTokens: 3, temperature: 0, topP: 1 };

describe('generation in the studio when the GPU runs out of memory', { timeout: 120_000 }, () => {
  it('fails with the out-of-memory message and frees the adapter it uploaded and everything the generator made', async () => {
    // A first generation warms the caches (pipelines, uniforms) that outlive a request by design.
    await generateInStudio(request, model, ctx, storage, new AbortController().signal, () => undefined);
    const live = trackLiveBuffers(ctx.device);
    try {
      const undo = failNextAllocation(ctx.device);
      await expect(generateInStudio(request, model, ctx, storage, new AbortController().signal, () => undefined)).rejects.toMatchObject({
        code: 'OUT_OF_MEMORY',
        // The KV cache holds the prompt and the new tokens, not the model's whole context.
        message: expect.stringMatching(new RegExp(`^allocating a ${promptIds(model.tokenizer, request.prompt).length + request.maxNewTokens}-token KV cache failed on the GPU`)),
      });
      undo();
      expect(live.labels()).toEqual([]);
    } finally {
      live.uninstall();
    }
    // Nothing was left behind that breaks the next request.
    const again = await generateInStudio(request, model, ctx, storage, new AbortController().signal, () => undefined);
    expect(again.ids.length).toBeGreaterThan(0);
  });
});
