import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '../test/fixtures.ts';
import { acquireTestGpu } from '../test/gpu.ts';
import { startHubServer, type HubServer } from '../test/hub-server.ts';
import { messagePortWorker } from '../test/ports.ts';
import { EngineBridge } from '../app/state/bridge.ts';
import { openFileStorage } from '../app/store/fs.ts';
import type { Storage } from '../app/store/storage.ts';
import { unzipPeftAdapter } from '../app/train/peft.ts';
import { createEngine } from './engine.ts';
import type { TrainProgress } from './protocol.ts';

let server: HubServer;
let storage: Storage;
let root: string;
let bridge: EngineBridge;
const channel = new MessageChannel();

beforeAll(async () => {
  server = await startHubServer({ 'aidreams/aidreams260K': fixturePath('models/aidreams260K') });
  root = await mkdtemp(join(tmpdir(), 'cocktail-engine-'));
  storage = await openFileStorage(root);
  const handle = createEngine((event) => channel.port2.postMessage(event), acquireTestGpu, async () => storage);
  channel.port2.onmessage = (event) => handle(event.data);
  bridge = new EngineBridge(messagePortWorker(channel.port1));
});
afterAll(async () => {
  bridge.dispose();
  channel.port2.close();
  await server.close();
  await rm(root, { recursive: true, force: true });
});

const recipe = (steps: number) => ({
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

  it('refuses a recipe with problems, naming them, before loading anything', async () => {
    await expect(bridge.request('train.run', { recipe: { model: { source: 'x' }, tasks: [] }, runId: 'bad', resume: false })).rejects.toThrow(/recipe of run "bad" has 2 problems[\s\S]*tasks: must NOT have fewer than 1 items/);
  });
});
