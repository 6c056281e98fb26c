import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '../test/fixtures.ts';
import { acquireTestGpu } from '../test/gpu.ts';
import { trackLiveBuffers, type LiveBuffers } from '../test/gpu-faults.ts';
import type { HubServer } from '../test/hub-server.ts';
import { startTestEngine, type TestEngine } from '../test/engine.ts';
import type { EngineBridge } from '../app/state/bridge.ts';
import type { Storage } from '../app/store/storage.ts';
import { unzipPeftAdapter } from '../app/train/peft.ts';
import type { RunRecord, TrainProgress } from './protocol.ts';
import { readRunRecord } from './run-records.ts';

let engine: TestEngine;
let server: HubServer;
let storage: Storage;
let bridge: EngineBridge;
/** Every buffer the engine creates on its device, from the moment it acquires it. */
let buffers: LiveBuffers | undefined;

beforeAll(async () => {
  engine = await startTestEngine(async () => {
    const ctx = await acquireTestGpu();
    buffers = trackLiveBuffers(ctx.device);
    return ctx;
  });
  ({ server, storage, bridge } = engine);
});
afterAll(() => engine.close());

const recipe = (steps: number, settings: Record<string, unknown> = {}) => ({
  model: { source: 'aidreams/aidreams260K' },
  tasks: [
    { name: 'fpb', source: { file: 'fpb.txt', delimiter: '@', header: false }, format: 'classification', columns: { text: 0, label: 1 }, max_examples: 24 },
    { name: 'alpaca', source: { file: 'alpaca.json' }, format: 'instruction', role: 'regularizer', max_examples: 12 },
  ],
  lora: { r: 2, alpha: 4, targets: ['q_proj'] },
  batch_size: 2,
  max_length: 64,
  steps,
  eval_every: 1000,
  eval_examples: 2,
  eval_max_new_tokens: 4,
  checkpoint_every: 1000,
  seed: 5,
  ...settings,
});

/** One small task scored by its loss: for properties of the run rather than of the training. */
const lightRecipe = (steps: number, settings: Record<string, unknown> = {}) => ({
  ...recipe(steps, settings),
  tasks: [{ name: 'fpb', source: { file: 'fpb.txt', delimiter: '@', header: false }, format: 'classification', columns: { text: 0, label: 1 }, metric: 'loss', max_examples: 16, validation_fraction: 0.01 }],
});

describe('engine worker: importing task files and training through the protocol', { timeout: 300_000 }, () => {
  it('imports the real FPB file and Alpaca JSON, with row counts, columns and a preview', async () => {
    const progress: number[] = [];
    const fpb = await bridge.request('data.import', { name: 'fpb.txt', file: new Blob([await readFile(fixturePath('datasets/fpb/Sentences_50Agree.txt'))]), options: { delimiter: '@', header: false } }, { onProgress: (p) => progress.push(p.bytesRead) });
    expect(fpb).toMatchObject({ name: 'fpb.txt', rows: 4846, columns: ['column_1', 'column_2'] });
    expect(fpb.preview[0]!.values.column_2).toMatch(/^(negative|neutral|positive)$/);
    expect(progress.length).toBeGreaterThan(0);
    const alpaca = await bridge.request('data.import', { name: 'alpaca.json', file: new Blob([await readFile(fixturePath('datasets/alpaca/alpaca_en_demo.json'))]) });
    expect(alpaca.rows).toBe(999);
  });

  it("refuses a recipe past this adapter's per-buffer limit with no memory budget set, before downloading the weights or allocating anything", async () => {
    // 128 tokens (the fixture's whole context) × 16,384 rows × 172 intermediate features × 4 bytes: 1.34 GiB in one buffer.
    const tooWide = lightRecipe(2, { batch_size: 16_384, max_length: 128 });
    const failure = await bridge.request('train.run', { recipe: tooWide, runId: 'too-wide', resume: false, hubEndpoint: server.endpoint }).then(
      () => undefined,
      (error: unknown) => error as { code: string; message: string; details: Record<string, number> },
    );
    expect(failure).toMatchObject({ code: 'PLAN_DOES_NOT_FIT' });
    expect(failure!.message).toMatch(
      /^aidreams\/aidreams260K with this recipe does not fit this GPU: MLP activation \[tokens, intermediate\] needs 1\.34 GiB in one buffer, over this GPU's limit of [\d.]+ [MG]iB: lower the batch size or max_length\. Would fit: batch_size \d+, max_length 128/,
    );
    const { largestBufferBytes, bufferLimitBytes } = failure!.details;
    expect(largestBufferBytes).toBe(16_384 * 128 * 172 * 4);
    expect(largestBufferBytes).toBeGreaterThan(bufferLimitBytes!);
    expect(failure!.details).not.toHaveProperty('hasBytes');
    // What it suggests does fit: a batch small enough for the limit.
    const suggested = Number(/Would fit: batch_size (\d+)/.exec(failure!.message)![1]);
    expect(suggested * 128 * 172 * 4).toBeLessThanOrEqual(bufferLimitBytes!);
    expect(server.requests).toEqual(['GET /aidreams/aidreams260K/resolve/main/config.json']);
    expect(buffers?.created ?? 0).toBe(0);
    buffers?.uninstall();
  });

  it('trains a recipe from a Hub-layout server and imported files, streams steps, and stores the PEFT adapter', async () => {
    const events: TrainProgress[] = [];
    const result = await bridge.request('train.run', { recipe: recipe(2), runId: 'protocol-run', resume: false, hubEndpoint: server.endpoint }, { onProgress: (event) => events.push(event) });
    expect(result).toMatchObject({ status: 'completed', step: 2, totalSteps: 2, adapterKeys: ['protocol-run/shared'] });
    expect(events.filter((e) => e.kind === 'step').map((e) => (e.kind === 'step' ? e.step.step : 0))).toEqual([1, 2]);
    expect(events.some((e) => e.kind === 'eval')).toBe(true);
    const zip = await storage.getBytes('adapters', 'protocol-run/shared');
    expect(JSON.parse(unzipPeftAdapter(zip!).config)).toMatchObject({ peft_type: 'LORA', r: 2, target_modules: ['q_proj'] });
  });

  it('pauses a run at a checkpoint and resumes it to the end', async () => {
    const first = await bridge.request('train.run', { recipe: recipe(4), runId: 'paused-run', resume: false, hubEndpoint: server.endpoint }, {
      onProgress: (event) => {
        if (event.kind === 'step' && event.step.step === 1) void bridge.request('train.pause', { runId: 'paused-run' });
      },
    });
    expect(first.status).toBe('paused');
    expect(first.step).toBeLessThan(4);
    const second = await bridge.request('train.run', { recipe: recipe(4), runId: 'paused-run', resume: true, hubEndpoint: server.endpoint });
    expect(second).toMatchObject({ status: 'completed', step: 4 });
  });

  it('keeps a record of the run: running while it trains, then completed with its evaluations and adapters', async () => {
    let whileRunning: RunRecord | undefined;
    await bridge.request('train.run', { recipe: lightRecipe(2), runId: 'recorded-run', resume: false, hubEndpoint: server.endpoint }, {
      onProgress: (event) => {
        if (event.kind === 'step' && event.step.step === 1) void readRunRecord(storage, 'recorded-run').then((record) => (whileRunning = record));
      },
    });
    expect(whileRunning).toMatchObject({ runId: 'recorded-run', status: 'running', totalSteps: 2 });
    const record = await readRunRecord(storage, 'recorded-run');
    expect(record).toMatchObject({ status: 'completed', step: 2, totalSteps: 2, adapterKeys: ['recorded-run/shared'], recipe: lightRecipe(2) });
    expect(record!.evaluations.map((evaluation) => evaluation.step)).toEqual([2]);
    expect(record!.evaluations[0]!.tasks.map((task) => task.task)).toEqual(['fpb']);
    expect(record!.updatedAt).toBeGreaterThanOrEqual(record!.startedAt);
  });

  it('records a paused run as paused at its step, and the resumed run keeps the evaluations of its earlier part', async () => {
    const evaluated = lightRecipe(4, { eval_every: 1 });
    const first = await bridge.request('train.run', { recipe: evaluated, runId: 'resumed-run', resume: false, hubEndpoint: server.endpoint }, {
      onProgress: (event) => {
        if (event.kind === 'step' && event.step.step === 1) void bridge.request('train.pause', { runId: 'resumed-run' });
      },
    });
    const paused = await readRunRecord(storage, 'resumed-run');
    expect(paused).toMatchObject({ status: 'paused', step: first.step });
    expect(paused!.evaluations.map((evaluation) => evaluation.step)).toEqual(Array.from({ length: first.step }, (_, i) => i + 1));
    await bridge.request('train.run', { recipe: evaluated, runId: 'resumed-run', resume: true, hubEndpoint: server.endpoint });
    const done = await readRunRecord(storage, 'resumed-run');
    expect(done).toMatchObject({ status: 'completed', step: 4, startedAt: paused!.startedAt });
    expect(done!.evaluations.map((evaluation) => evaluation.step)).toEqual([1, 2, 3, 4]);
  });

  it('records a cancelled run as cancelled', async () => {
    const controller = new AbortController();
    const running = bridge.request('train.run', { recipe: lightRecipe(4), runId: 'cancelled-run', resume: false, hubEndpoint: server.endpoint }, {
      signal: controller.signal,
      onProgress: (event) => {
        if (event.kind === 'step') controller.abort();
      },
    });
    await expect(running).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(await readRunRecord(storage, 'cancelled-run')).toMatchObject({ status: 'cancelled', error: { code: 'CANCELLED' } });
  });

  it('records a run cancelled while its data is prepared as cancelled, not failed', async () => {
    const controller = new AbortController();
    const running = bridge.request('train.run', { recipe: lightRecipe(4), runId: 'cancelled-early', resume: false, hubEndpoint: server.endpoint }, {
      signal: controller.signal,
      onProgress: (event) => {
        if (event.kind === 'prepare') controller.abort();
      },
    });
    await expect(running).rejects.toMatchObject({ code: 'CANCELLED', message: 'run "cancelled-early" was cancelled before training started' });
    expect(await readRunRecord(storage, 'cancelled-early')).toMatchObject({ status: 'cancelled', step: 0, error: { code: 'CANCELLED' } });
  });

  it('records a failed run with the error that stopped it', async () => {
    const missing = { ...lightRecipe(2), tasks: [{ name: 'gone', source: { file: 'never-imported.txt' }, format: 'text' }] };
    await expect(bridge.request('train.run', { recipe: missing, runId: 'failed-run', resume: false, hubEndpoint: server.endpoint })).rejects.toMatchObject({ code: 'PREPARE_FILE_NOT_FOUND' });
    expect(await readRunRecord(storage, 'failed-run')).toMatchObject({ status: 'failed', error: { code: 'PREPARE_FILE_NOT_FOUND', message: expect.stringContaining('never-imported.txt') } });
  });

  it("evaluates a recipe's tasks with an adapter from the library, with stages and each task's metric", async () => {
    const events: TrainProgress[] = [];
    const result = await bridge.request('eval.run', { recipe: recipe(2), adapterKey: 'protocol-run/shared', hubEndpoint: server.endpoint }, { onProgress: (event) => events.push(event) });
    expect(result.tasks.map((task) => [task.task, task.metric])).toEqual([
      ['fpb', 'accuracy'],
      ['alpaca', 'rouge_l'],
    ]);
    expect(result.tasks.every((task) => Number.isFinite(task.loss))).toBe(true);
    expect(events.filter((event) => event.kind === 'stage').map((event) => (event.kind === 'stage' ? event.stage : ''))).toEqual(['model', 'data', 'evaluate']);
    expect(events.at(-1)).toMatchObject({ kind: 'eval' });
  });

  it('evaluates the base model when no adapter is given, and refuses an adapter that is not in the library', async () => {
    const base = await bridge.request('eval.run', { recipe: lightRecipe(2), hubEndpoint: server.endpoint });
    expect(base.tasks.map((task) => task.task)).toEqual(['fpb']);
    await expect(bridge.request('eval.run', { recipe: lightRecipe(2), adapterKey: 'no-such-run/shared', hubEndpoint: server.endpoint })).rejects.toMatchObject({ code: 'ADAPTER_NOT_FOUND' });
  });

  it('refuses a recipe with problems, naming them, before loading anything', async () => {
    await expect(bridge.request('train.run', { recipe: { model: { source: 'x' }, tasks: [] }, runId: 'bad', resume: false })).rejects.toThrow(/recipe of run "bad" has 2 problems[\s\S]*tasks: add at least one task/);
  });

  it('runs one GPU job at a time: a generation asked for during training waits for it, and is told so', async () => {
    const order: string[] = [];
    const queued: (string | null)[] = [];
    let trainingStarted!: () => void;
    const started = new Promise<void>((resolve) => (trainingStarted = resolve));
    const training = bridge
      .request('train.run', { recipe: lightRecipe(2), runId: 'queue-run', resume: false, hubEndpoint: server.endpoint }, { onProgress: (event) => event.kind === 'stage' && trainingStarted() })
      .then((result) => (order.push('train.run'), result));
    await started;
    const generation = bridge
      .request('model.generate', { source: 'aidreams/aidreams260K', revision: 'main', hubEndpoint: server.endpoint, prompt: 'Once upon a time', maxNewTokens: 3, temperature: 0, topP: 1 }, { onQueued: (behind) => queued.push(behind) })
      .then((result) => (order.push('model.generate'), result));
    const [trained, generated] = await Promise.all([training, generation]);
    expect(trained.status).toBe('completed');
    expect(generated.ids.length).toBeGreaterThan(0);
    expect(queued).toEqual(['train.run', null]);
    expect(order).toEqual(['train.run', 'model.generate']);
  });
});
