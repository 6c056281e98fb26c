import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../app/gpu/device.ts';
import { latestCheckpointMeta } from '../app/train/checkpoint.ts';
import { parseRecipe, recipeHash } from '../app/train/recipe.ts';
import { startTestEngine, type TestEngine } from '../test/engine.ts';
import { fixturePath } from '../test/fixtures.ts';
import { acquireTestGpu } from '../test/gpu.ts';
import type { TrainProgress } from './protocol.ts';
import { readRunRecord } from './run-records.ts';

/** The engine's devices, in order: the test loses the first one in the middle of a run. */
const devices: GpuContext[] = [];
let engine: TestEngine;

beforeAll(async () => {
  engine = await startTestEngine(async () => {
    const ctx = await acquireTestGpu();
    devices.push(ctx);
    return ctx;
  });
  await engine.bridge.request('data.import', { name: 'fpb.txt', file: new Blob([await readFile(fixturePath('datasets/fpb/Sentences_50Agree.txt'))]), options: { delimiter: '@', header: false } });
});
afterAll(async () => {
  await engine.close();
  for (const ctx of devices) ctx.destroy();
});

const recipe = {
  model: { source: 'aidreams/aidreams260K' },
  tasks: [{ name: 'fpb', source: { file: 'fpb.txt', delimiter: '@', header: false }, format: 'classification', columns: { text: 0, label: 1 }, metric: 'loss', max_examples: 16, validation_fraction: 0.01 }],
  lora: { r: 2, alpha: 4, targets: ['q_proj'] },
  batch_size: 2,
  max_length: 64,
  steps: 6,
  eval_every: 1000,
  checkpoint_every: 2,
  seed: 5,
};

describe('a GPU device lost in the middle of a run', { timeout: 300_000 }, () => {
  it('fails the run with the loss and where it resumes, keeps its checkpoint, and resumes on a new device', async () => {
    const { bridge, storage, server } = engine;
    const events: TrainProgress[] = [];
    const lost = bridge.request('train.run', { recipe, runId: 'lost-run', resume: false, hubEndpoint: server.endpoint }, {
      onProgress: (event) => {
        events.push(event);
        // The checkpoint of step 2 is written before its event: lose the device right after it.
        if (event.kind === 'checkpoint' && event.step === 2) devices[0]!.destroy();
      },
    });
    await expect(lost).rejects.toMatchObject({ code: 'DEVICE_LOST', message: expect.stringMatching(/^The GPU device was lost .*Run "lost-run" stopped; its checkpoint at step 2 is intact and it resumes from there\.$/s) });
    const record = await readRunRecord(storage, 'lost-run');
    expect(record).toMatchObject({ status: 'failed', error: { code: 'DEVICE_LOST' } });
    // The newest checkpoint is step 2's, of this recipe; the resume below checks its tensors against their checksum.
    expect(await latestCheckpointMeta(storage, 'lost-run')).toMatchObject({ step: 2, recipeHash: await recipeHash(parseRecipe(recipe)) });

    const resumed = await bridge.request('train.run', { recipe, runId: 'lost-run', resume: true, hubEndpoint: server.endpoint }, { onProgress: (event) => events.push(event) });
    expect(resumed).toMatchObject({ status: 'completed', step: 6, totalSteps: 6 });
    expect(devices).toHaveLength(2);
    const steps = events.filter((event) => event.kind === 'step').map((event) => (event.kind === 'step' ? event.step.step : 0));
    expect(steps.slice(-4)).toEqual([3, 4, 5, 6]);
  });
});
