import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '../../test/fixtures.ts';
import { failAllocationLabelled, failNextAllocation, trackLiveBuffers } from '../../test/gpu-faults.ts';
import { acquireTestGpu } from '../../test/gpu.ts';
import { loadFixtureModel } from '../../test/model.ts';
import { textTasks } from '../../test/tasks.ts';
import type { GpuContext } from '../gpu/device.ts';
import { uploadModel, type GpuModel } from '../model/gpu-model.ts';
import { locateWeights } from '../model/weights.ts';
import type { ModelFiles } from '../model/source.ts';
import { filesFromDirectory } from '../model/node-source.ts';
import { loadTokenizer } from '../model/tokenizer.ts';
import { Generator } from '../model/generate.ts';
import { openFileStorage } from '../store/fs.ts';
import type { Storage } from '../store/storage.ts';
import { initLoraAdapter } from '../model/lora.ts';
import { exportPeftAdapter } from './peft.ts';
import { parseRecipe, type Recipe } from './recipe.ts';
import { evaluateRecipe, runRecipe, type RunEnvironment } from './run.ts';
import type { PreparedTask } from './task-data.ts';
import { Trainer } from './trainer.ts';
import { checkpointKey } from './checkpoint.ts';

let ctx: GpuContext;
let model: GpuModel;
let tasks: PreparedTask[];
let storage: Storage;
let root: string;
beforeAll(async () => {
  ctx = await acquireTestGpu();
  const fixture = await loadFixtureModel();
  model = await uploadModel(ctx, fixture.config, fixture.weights);
  tasks = await textTasks(await loadTokenizer(await filesFromDirectory(fixture.dir), fixture.config), { count: 24, maxTokens: 16 });
  root = await mkdtemp(join(tmpdir(), 'cocktail-gpu-failures-'));
  storage = await openFileStorage(root);
});
afterAll(async () => {
  model?.destroy();
  ctx?.destroy();
  await rm(root, { recursive: true, force: true });
});

const recipe = (overrides: Record<string, unknown> = {}): Recipe =>
  parseRecipe({
    model: { source: 'aidreams260K' },
    tasks: [{ name: 'fpb', source: { file: 'fpb.txt' }, format: 'text' }],
    lora: { r: 2, alpha: 4, dropout: 0.1, targets: ['q_proj', 'v_proj'] },
    optimizer: { lr: 3e-3 },
    schedule: { kind: 'constant', warmup_steps: 0 },
    batch_size: 2,
    grad_accum: 2,
    max_length: 16,
    steps: 6,
    checkpoint_every: 2,
    seed: 5,
    ...overrides,
  });

/** Two steps and their checkpoint, then the stored checkpoint's bytes and meta as they are now. */
async function trainedToCheckpoint(runId: string): Promise<{ trainer: Trainer; saved: () => Promise<unknown> }> {
  const trainer = await Trainer.create(ctx, model, tasks, recipe(), { runId, storage });
  await trainer.trainStep();
  await trainer.trainStep(); // checkpoint_every 2: saved here
  const saved = async () => ({ meta: (await storage.getInfo('checkpoints', checkpointKey(runId, 2)))?.meta, bytes: await storage.getBytes('checkpoints', checkpointKey(runId, 2)) });
  return { trainer, saved };
}

/** The stored checkpoint is unchanged, and a resumed trainer continues from its step. */
async function expectCheckpointIntact(runId: string, before: unknown, saved: () => Promise<unknown>): Promise<void> {
  expect(await saved()).toEqual(before);
  const resumed = await Trainer.create(ctx, model, tasks, recipe(), { runId, storage, resume: true });
  expect(resumed.step).toBe(2);
  const next = await resumed.trainStep();
  expect(next.step).toBe(3);
  expect(Number.isFinite(next.loss)).toBe(true);
  resumed.destroy();
}

describe('GPU errors stop a run visibly and keep its last checkpoint (Dawn)', { timeout: 300_000 }, () => {
  it('a step whose allocation runs out of GPU memory fails with the GPU message and advice, counts nothing, and the checkpoint survives', async () => {
    const { trainer, saved } = await trainedToCheckpoint('oom-step');
    const before = await saved();
    const undo = failNextAllocation(ctx.device);
    const failure = await trainer.trainStep().then(
      () => undefined,
      (error: unknown) => error,
    );
    undo();
    expect(failure).toMatchObject({ code: 'OUT_OF_MEMORY' });
    const message = (failure as Error).message;
    expect(message).toMatch(/^training step 3 failed on the GPU\. The GPU ran out of memory: /);
    expect(message).toMatch(/smaller batch_size, recompute: true, a shorter max_length/);
    // Nothing of the failed step was read or counted, and the half-applied state can neither train on nor be saved.
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
    const failure = await trainer.trainStep().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toMatchObject({ code: 'VALIDATION' });
    expect((failure as Error).message).toMatch(/^training step 3 failed on the GPU\. WebGPU validation error: .*destroyed/is);
    expect(trainer.step).toBe(2);
    trainer.destroy();
    await expectCheckpointIntact('invalid-step', before, saved);
  });

  it('a run too large for the GPU fails in Trainer.create with the out-of-memory advice and leaves no buffer allocated', async () => {
    const live = trackLiveBuffers(ctx.device);
    try {
      const undo = failNextAllocation(ctx.device);
      await expect(Trainer.create(ctx, model, tasks, recipe(), { runId: 'oom-create' })).rejects.toMatchObject({ code: 'OUT_OF_MEMORY', message: expect.stringMatching(/^allocating the run's 2 × 16 training batch failed on the GPU/) });
      undo();
      expect(live.labels()).toEqual([]);
    } finally {
      live.uninstall();
    }
  });

  it('Trainer.create frees its buffers when the checkpoint it resumes from cannot be used', async () => {
    const trainer = await Trainer.create(ctx, model, tasks, recipe(), { runId: 'bad-resume', storage });
    await trainer.trainStep();
    await trainer.saveCheckpoint();
    trainer.destroy();
    const live = trackLiveBuffers(ctx.device);
    try {
      await expect(Trainer.create(ctx, model, tasks, recipe({ seed: 6 }), { runId: 'bad-resume', storage, resume: true })).rejects.toThrow(/made with a different recipe/);
      expect(live.labels()).toEqual([]);
    } finally {
      live.uninstall();
    }
  });

  it('Trainer.create frees what it allocated when its constructor throws half way (an imported adapter of another rank)', async () => {
    const first = await Trainer.create(ctx, model, tasks, recipe(), { runId: 'rank-4' });
    const adapter = (await first.adaptersNow()).get('shared')!;
    first.destroy();
    const live = trackLiveBuffers(ctx.device);
    try {
      // Per-task adapters: the first is allocated before the second (of another rank) is refused.
      const twoTasks = [tasks[0]!, { ...tasks[0]!, name: 'copy' }];
      const perTask = recipe({ tasks: [{ name: 'fpb', source: { file: 'fpb.txt' }, format: 'text' }, { name: 'copy', source: { file: 'fpb.txt' }, format: 'text' }], lora: { r: 2, alpha: 4, targets: ['q_proj', 'v_proj'], layout: 'per_task' }, mixture: { strategy: 'round_robin', per: 'batch' } });
      const wrongRank = { ...adapter, config: { ...adapter.config, r: 8 } };
      await expect(Trainer.create(ctx, model, twoTasks, perTask, { runId: 'half', initialAdapters: [adapter, wrongRank] })).rejects.toMatchObject({ code: 'TRAIN_ADAPTER_MISMATCH' });
      expect(live.labels()).toEqual([]);
    } finally {
      live.uninstall();
    }
  });

  it('generation stops with the out-of-memory message when its KV cache does not fit, instead of reading stale tokens', async () => {
    const undo = failNextAllocation(ctx.device);
    const generator = new Generator(ctx, model, { capacity: 32 });
    undo();
    await expect(generator.generate([1, 5, 9], { maxNewTokens: 4 })).rejects.toMatchObject({ code: 'OUT_OF_MEMORY', message: expect.stringMatching(/^allocating a 32-token KV cache failed on the GPU/) });
    generator.destroy();
  });

  it('evaluateRecipe frees the model it loaded when the adapter it was given does not fit the model', async () => {
    const env: RunEnvironment = {
      ctx,
      storage,
      openModel: async () => filesFromDirectory(fixturePath('models/aidreams260K')),
      openTaskFile: async () => new Blob([await readFile(fixturePath('datasets/fpb/Sentences_50Agree.txt'))]),
    };
    const evaluation = parseRecipe({
      model: { source: 'aidreams260K' },
      tasks: [{ name: 'fpb', source: { file: 'fpb.txt', delimiter: '@', header: false }, format: 'classification', columns: { text: 0, label: 1 }, metric: 'loss', max_examples: 8 }],
      batch_size: 2,
      max_length: 128,
      steps: 1,
    });
    // An adapter for a model with another hidden size: refused after the model is on the GPU.
    const wide = { ...model.config, hiddenSize: model.config.hiddenSize * 2 };
    const adapter = exportPeftAdapter(initLoraAdapter(wide, { r: 2, alpha: 4, dropout: 0, targets: ['q_proj'], rslora: false }, 1), wide, 'elsewhere');
    const live = trackLiveBuffers(ctx.device);
    try {
      await expect(evaluateRecipe(evaluation, env, adapter)).rejects.toMatchObject({ code: 'ADAPTER_INVALID' });
      expect(live.labels()).toEqual([]);
    } finally {
      live.uninstall();
    }
  });

  it('uploadModel that runs out of GPU memory half way frees every weight it had uploaded', async () => {
    const fixture = await loadFixtureModel();
    const live = trackLiveBuffers(ctx.device);
    try {
      // A projection of the middle layer: the embedding and the layers before it are on the GPU by then.
      const undo = failAllocationLabelled(ctx.device, `model.layers.${fixture.config.numLayers >> 1}.mlp.up_proj.weight`);
      await expect(uploadModel(ctx, fixture.config, fixture.weights)).rejects.toMatchObject({
        code: 'OUT_OF_MEMORY',
        message: expect.stringMatching(new RegExp(`^uploading the ${fixture.config.numLayers}-layer model's weights failed on the GPU\\. The GPU ran out of memory: .*smaller model`, 's')),
      });
      undo();
      // The embedding and every weight before the failing one were uploaded, and then freed.
      expect(live.created).toBeGreaterThan(1 + 7 * (fixture.config.numLayers >> 1));
      expect(live.labels()).toEqual([]);
    } finally {
      live.uninstall();
    }
  });

  it('uploadModel whose weight file fails to read half way frees every weight it had uploaded', async () => {
    const fixture = await loadFixtureModel();
    const files = await filesFromDirectory(fixture.dir);
    const bytes = new Uint8Array(await (await files.open('model.safetensors')).arrayBuffer());
    // The file as a disk or a download gives it up: its header and the first half of its data, then an error.
    const cutAt = bytes.length >> 1;
    const failing: ModelFiles = {
      label: files.label,
      has: (path) => files.has(path),
      list: () => files.list(),
      open: async (path) => (path === 'model.safetensors' ? failingBlob(bytes, cutAt) : files.open(path)),
    };
    const weights = await locateWeights(failing, fixture.config);
    const live = trackLiveBuffers(ctx.device);
    try {
      await expect(uploadModel(ctx, fixture.config, weights)).rejects.toThrow(/read failed past byte/);
      expect(live.created).toBeGreaterThan(0);
      expect(live.labels()).toEqual([]);
    } finally {
      live.uninstall();
    }
  });

  it('a final evaluation that fails on the GPU loses nothing: the last step is checkpointed and its adapter exported first, and the run resumes to completion', async () => {
    const env: RunEnvironment = {
      ctx,
      storage,
      openModel: async () => filesFromDirectory(fixturePath('models/aidreams260K')),
      openTaskFile: async () => new Blob([await readFile(fixturePath('datasets/fpb/Sentences_50Agree.txt'))]),
    };
    const run = parseRecipe({
      model: { source: 'aidreams260K' },
      tasks: [{ name: 'fpb', source: { file: 'fpb.txt', delimiter: '@', header: false }, format: 'classification', columns: { text: 0, label: 1 }, metric: 'loss', max_examples: 16 }],
      lora: { r: 2, alpha: 4, targets: ['q_proj'] },
      batch_size: 2,
      max_length: 128,
      steps: 3,
      eval_every: 1000,
      checkpoint_every: 1000,
      seed: 5,
    });
    const stages: string[] = [];
    let undo: (() => void) | undefined;
    const failure = await runRecipe(run, 'final-eval-fails', env, {
      onStage: (stage) => {
        stages.push(stage);
        // The first allocation of the final evaluation asks for more than the GPU has.
        if (stage === 'evaluate') undo = failNextAllocation(ctx.device);
      },
    }).then(
      () => undefined,
      (error: unknown) => error as Error & { code?: string },
    );
    undo?.();
    expect(stages).toEqual(['model', 'data', 'train', 'export', 'evaluate']);
    expect(failure?.code).toBe('OUT_OF_MEMORY');
    expect(failure?.message).toMatch(/failed on the GPU\. The GPU ran out of memory/);
    // Saved before the evaluation began: the checkpoint of the last step and the exported adapter.
    expect((await storage.getInfo('checkpoints', checkpointKey('final-eval-fails', 3)))?.meta).toMatchObject({ step: 3 });
    expect(await storage.getInfo('adapters', 'final-eval-fails/shared')).toMatchObject({ meta: { steps: 3 } });
    const resumed = await runRecipe(run, 'final-eval-fails', env, {}, { resume: true });
    expect(resumed).toMatchObject({ status: 'completed', step: 3 });
  });
});

/** A Blob whose slices past `cutAt` fail to read, as a file on a disk that fails or a stream that breaks. */
function failingBlob(bytes: Uint8Array, cutAt: number): Blob {
  const whole = new Blob([bytes as Uint8Array<ArrayBuffer>]);
  const sliceOf = (start = 0, end = bytes.length): Blob => {
    if (end <= cutAt) return whole.slice(start, end);
    const broken = whole.slice(start, end);
    return Object.assign(broken, {
      arrayBuffer: async () => {
        throw new Error(`read failed past byte ${cutAt}`);
      },
    });
  };
  return Object.assign(whole.slice(0), { slice: sliceOf });
}
