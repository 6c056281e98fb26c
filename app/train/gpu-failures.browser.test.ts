import { deleteDB } from 'idb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failNextAllocation } from '../../test/gpu-faults.ts';
import { acquireTestGpu } from '../../test/gpu.ts';
import { QWEN2_TINY, randomModel, randomTask, type RandomModel } from '../../test/random-model.ts';
import type { GpuContext } from '../gpu/device.ts';
import { openIndexedDbStorage } from '../store/idb.ts';
import type { Storage } from '../store/storage.ts';
import { checkpointKey } from './checkpoint.ts';
import { parseRecipe } from './recipe.ts';
import { Trainer } from './trainer.ts';

/**
 * The GPU failures of gpu-failures.gpu.test.ts (Dawn in Node) in Chromium: its WebGPU implementation,
 * its error scopes and its out-of-memory path, with checkpoints in IndexedDB as the studio keeps them.
 * A random-weight Qwen2 (GQA, biases, untied head, bf16) stands in for a model read from disk.
 */
const DATABASE = 'cocktail-gpu-failures-test';
let ctx: GpuContext;
let model: RandomModel;
let storage: Storage;
beforeAll(async () => {
  ctx = await acquireTestGpu();
  model = await randomModel(ctx, QWEN2_TINY, 'bf16', 21);
  storage = await openIndexedDbStorage(DATABASE);
});
afterAll(async () => {
  await storage?.close();
  await deleteDB(DATABASE);
  model?.gpu.destroy();
  ctx?.destroy();
});

const tasks = () => [randomTask('a', QWEN2_TINY.vocab_size, [7, 9, 5, 8, 6, 9, 4, 7], 41)];
const recipe = parseRecipe({
  model: { source: 'random' },
  tasks: [{ name: 'a', source: { file: 'a.jsonl' }, format: 'text' }],
  lora: { r: 2, alpha: 4, dropout: 0.1, targets: ['q_proj', 'v_proj'] },
  optimizer: { lr: 3e-3 },
  schedule: { kind: 'constant', warmup_steps: 0 },
  batch_size: 2,
  grad_accum: 2,
  max_length: 16,
  steps: 6,
  checkpoint_every: 2,
  seed: 5,
});

/** Two steps (the second saves the checkpoint), and a reader of the stored checkpoint as it is now. */
async function trainedToCheckpoint(runId: string) {
  const trainer = await Trainer.create(ctx, model.gpu, tasks(), recipe, { runId, storage });
  await trainer.trainStep();
  await trainer.trainStep();
  const saved = async () => ({ meta: (await storage.getInfo('checkpoints', checkpointKey(runId, 2)))?.meta, bytes: await storage.getBytes('checkpoints', checkpointKey(runId, 2)) });
  return { trainer, saved };
}

async function failureOf(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  return promise.then(
    () => {
      throw new Error('expected the step to fail');
    },
    (error: unknown) => error as Error & { code?: string },
  );
}

/** The stored checkpoint is unchanged, and a trainer resumed from it continues at step 3. */
async function expectCheckpointIntact(runId: string, before: unknown, saved: () => Promise<unknown>) {
  const after = await saved();
  expect(after).toEqual(before);
  const resumed = await Trainer.create(ctx, model.gpu, tasks(), recipe, { runId, storage, resume: true });
  expect(resumed.step).toBe(2);
  const next = await resumed.trainStep();
  expect(next.step).toBe(3);
  expect(Number.isFinite(next.loss)).toBe(true);
  resumed.destroy();
}

describe('GPU errors stop a run visibly and keep its last checkpoint (Chromium)', { timeout: 120_000 }, () => {
  it('a step whose allocation runs out of GPU memory fails with the GPU message and advice, and the checkpoint in IndexedDB survives', async () => {
    const { trainer, saved } = await trainedToCheckpoint('oom-step');
    const before = await saved();
    expect((before as { bytes?: Uint8Array }).bytes?.byteLength).toBeGreaterThan(0);
    const undo = failNextAllocation(ctx.device);
    const failure = await failureOf(trainer.trainStep());
    undo();
    expect(failure.code).toBe('OUT_OF_MEMORY');
    expect(failure.message).toMatch(/^training step 3 failed on the GPU\. The GPU ran out of memory: .+ smaller batch_size, recompute: true, a shorter max_length/s);
    expect(trainer.step).toBe(2);
    expect(trainer.history.map((record) => record.step)).toEqual([1, 2]);
    await expect(trainer.trainStep()).rejects.toMatchObject({ code: 'TRAIN_FAILED' });
    await expect(trainer.saveCheckpoint()).rejects.toMatchObject({ code: 'TRAIN_FAILED' });
    trainer.destroy();
    await expectCheckpointIntact('oom-step', before, saved);
  });

  it('a step the GPU refuses (a destroyed buffer) fails with the validation message, and the checkpoint survives', async () => {
    const { trainer, saved } = await trainedToCheckpoint('invalid-step');
    const before = await saved();
    trainer.gpuAdapters()[0]!.destroy();
    const failure = await failureOf(trainer.trainStep());
    expect(failure.code).toBe('VALIDATION');
    expect(failure.message).toMatch(/^training step 3 failed on the GPU\. WebGPU validation error: .*destroyed/is);
    expect(trainer.step).toBe(2);
    trainer.destroy();
    await expectCheckpointIntact('invalid-step', before, saved);
  });
});
