import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireTestGpu } from '../../test/gpu.ts';
import { loadFixtureModel } from '../../test/model.ts';
import { textTasks } from '../../test/tasks.ts';
import type { GpuContext } from '../gpu/device.ts';
import { uploadModel, type GpuModel } from '../model/gpu-model.ts';
import { filesFromDirectory } from '../model/node-source.ts';
import { loadTokenizer } from '../model/tokenizer.ts';
import { openFileStorage } from '../store/fs.ts';
import type { Storage } from '../store/storage.ts';
import { exportPeftAdapter, importPeftAdapter } from './peft.ts';
import { parseRecipe, type Recipe } from './recipe.ts';
import type { PreparedTask } from './task-data.ts';
import { Trainer } from './trainer.ts';

let ctx: GpuContext;
let model: GpuModel;
let tasks: PreparedTask[];
let storage: Storage;
let root: string;
beforeAll(async () => {
  ctx = await acquireTestGpu();
  const fixture = await loadFixtureModel();
  model = await uploadModel(ctx, fixture.config, fixture.weights);
  tasks = await textTasks(await loadTokenizer(await filesFromDirectory(fixture.dir), fixture.config), { count: 64, maxTokens: 24 });
  root = await mkdtemp(join(tmpdir(), 'cocktail-train-'));
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
    tasks: [
      { name: 'fpb', source: { file: 'fpb.txt' }, format: 'text' },
      { name: 'alpaca', source: { file: 'alpaca.json' }, format: 'text', role: 'regularizer' },
    ],
    mixture: { strategy: 'temperature', temperature: 2 },
    lora: { r: 4, alpha: 8, dropout: 0.1, targets: ['q_proj', 'v_proj', 'down_proj'] },
    optimizer: { lr: 3e-3 },
    schedule: { kind: 'constant', warmup_steps: 0 },
    batch_size: 4,
    grad_accum: 2,
    max_length: 24,
    steps: 6,
    checkpoint_every: 1000,
    seed: 11,
    ...overrides,
  });

async function adapterBits(trainer: Trainer): Promise<number[]> {
  const adapters = await trainer.adaptersNow();
  return [...adapters.values()].flatMap((adapter) => [...adapter.pairs.values()].flatMap((pair) => [...new Uint32Array(pair.a.buffer), ...new Uint32Array(pair.b.buffer)]));
}

describe('trainer on the real aidreams260K model', { timeout: 300_000 }, () => {
  it('lowers the training loss of a real task over 30 steps, reporting each task’s loss', async () => {
    const trainer = await Trainer.create(ctx, model, tasks, recipe({ steps: 30, grad_accum: 1 }), { runId: 'learns' });
    const records = [];
    while (!trainer.done) records.push(await trainer.trainStep());
    trainer.destroy();
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(records.slice(-5).map((r) => r.loss))).toBeLessThan(mean(records.slice(0, 5).map((r) => r.loss)) - 0.2);
    expect(records.every((r) => Number.isFinite(r.loss) && !r.skipped)).toBe(true);
    expect(records.some((r) => r.taskLosses[0] !== null) && records.some((r) => r.taskLosses[1] !== null)).toBe(true);
  });

  it('N steps straight and k steps + checkpoint + resume + N − k steps give bit-identical adapters and losses', async () => {
    const straight = await Trainer.create(ctx, model, tasks, recipe(), { runId: 'straight', storage });
    const straightLosses = [];
    while (!straight.done) straightLosses.push((await straight.trainStep()).loss);
    const straightBits = await adapterBits(straight);
    straight.destroy();

    const first = await Trainer.create(ctx, model, tasks, recipe(), { runId: 'resumed', storage });
    const losses = [(await first.trainStep()).loss, (await first.trainStep()).loss, (await first.trainStep()).loss];
    await first.saveCheckpoint();
    first.destroy();
    const second = await Trainer.create(ctx, model, tasks, recipe(), { runId: 'resumed', storage, resume: true });
    expect(second.step).toBe(3);
    while (!second.done) losses.push((await second.trainStep()).loss);
    expect(losses).toEqual(straightLosses);
    expect(await adapterBits(second)).toEqual(straightBits);
    second.destroy();
  });

  it('refuses to resume a checkpoint made with a different recipe', async () => {
    const trainer = await Trainer.create(ctx, model, tasks, recipe(), { runId: 'other-recipe', storage });
    await trainer.trainStep();
    await trainer.saveCheckpoint();
    trainer.destroy();
    await expect(Trainer.create(ctx, model, tasks, recipe({ seed: 12 }), { runId: 'other-recipe', storage, resume: true })).rejects.toThrow(/made with a different recipe/);
  });

  it('skips a step whose gradients are not finite, visibly, and never applies it', async () => {
    // A learning rate near f32's largest value makes B overflow to infinity after one step (RMSNorm
    // would absorb any finite blow-up), so the next forward and gradients are not finite.
    const trainer = await Trainer.create(ctx, model, tasks, recipe({ optimizer: { lr: 3e38 }, lora: { r: 4, alpha: 8, dropout: 0, targets: ['down_proj'] } }), { runId: 'nonfinite' });
    const records = [await trainer.trainStep()];
    let before = await adapterBits(trainer);
    for (let i = 0; i < 4 && !records.at(-1)!.skipped; i++) {
      before = await adapterBits(trainer);
      records.push(await trainer.trainStep());
    }
    expect(records.at(-1)!.skipped).toBe(true);
    expect(await adapterBits(trainer)).toEqual(before);
    trainer.destroy();
  });

  it('stops on a non-finite step when the recipe says so', async () => {
    const trainer = await Trainer.create(ctx, model, tasks, recipe({ nonfinite: 'stop', optimizer: { lr: 3e38 }, lora: { r: 4, alpha: 8, dropout: 0, targets: ['down_proj'] } }), { runId: 'stop' });
    await expect((async () => {
      for (let i = 0; i < 5; i++) await trainer.trainStep();
    })()).rejects.toThrow(/non-finite loss or gradient/);
    trainer.destroy();
  });

  it('trains one adapter per task with the per-task layout, each only on its own task', async () => {
    const trainer = await Trainer.create(ctx, model, tasks, recipe({ lora: { r: 4, alpha: 8, dropout: 0, targets: ['q_proj'], layout: 'per_task' }, mixture: { strategy: 'round_robin', per: 'batch' }, grad_accum: 1, steps: 2 }), { runId: 'per-task' });
    await trainer.trainStep();
    const afterOne = await trainer.adaptersNow();
    const bOf = (name: string) => [...afterOne.get(name)!.pairs.values()].flatMap((pair) => Array.from(pair.b));
    // Round-robin: step 1 is fpb's, so only fpb's adapter has moved (B starts at zero).
    expect(bOf('fpb').some((v) => v !== 0)).toBe(true);
    expect(bOf('alpaca').every((v) => v === 0)).toBe(true);
    trainer.destroy();
  });

  it('continues from an imported PEFT adapter, and refuses one of another rank', async () => {
    const first = await Trainer.create(ctx, model, tasks, recipe({ steps: 2 }), { runId: 'export-me' });
    await first.trainStep();
    await first.trainStep();
    const trained = (await first.adaptersNow()).get('shared')!;
    first.destroy();
    const imported = await importPeftAdapter(exportPeftAdapter(trained, model.config, 'aidreams260K'), model.config);
    const second = await Trainer.create(ctx, model, tasks, recipe({ steps: 2 }), { runId: 'continue', initialAdapters: [imported] });
    const start = (await second.adaptersNow()).get('shared')!;
    for (const [key, pair] of trained.pairs) expect(Array.from(start.pairs.get(key)!.b)).toEqual(Array.from(pair.b));
    expect((await second.trainStep()).gpuBytes).toBeGreaterThan(model.bytes);
    second.destroy();
    await expect(Trainer.create(ctx, model, tasks, recipe({ steps: 2, lora: { r: 8, alpha: 8, targets: ['q_proj', 'v_proj', 'down_proj'] } }), { runId: 'mismatch', initialAdapters: [imported] })).rejects.toThrow(
      /the starting adapter has r=4 .* the recipe asks for r=8/,
    );
  });
});
