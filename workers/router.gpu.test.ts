import { readFile } from 'node:fs/promises';
import { unzipSync, zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineBridge } from '../app/state/bridge.ts';
import type { Storage } from '../app/store/storage.ts';
import { parseModelConfig } from '../app/model/config.ts';
import { initLoraAdapter } from '../app/model/lora.ts';
import { exportPeftAdapter, zipPeftAdapter } from '../app/train/peft.ts';
import { Random } from '../app/util/random.ts';
import { startTestEngine, type TestEngine } from '../test/engine.ts';
import { fixturePath } from '../test/fixtures.ts';
import { acquireTestGpu } from '../test/gpu.ts';
import type { HubServer } from '../test/hub-server.ts';
import type { RouterLayersProgress, RouterRecord, RouterTrainProgress, RouterTrainRequest } from './protocol.ts';
import { routedText, unzipBundle } from './router.ts';

const REF = { source: 'aidreams/aidreams260K', revision: 'main' };
let engine: TestEngine;
let server: HubServer;
let storage: Storage;
let bridge: EngineBridge;

/** Two tasks of clearly different kinds: FPB sentences (classification) and Alpaca instructions. */
const recipe = {
  model: REF,
  tasks: [
    { name: 'fpb', source: { file: 'fpb.txt', delimiter: '@', header: false }, format: 'classification', columns: { text: 0, label: 1 }, max_examples: 40, validation_fraction: 0.01 },
    { name: 'alpaca', source: { file: 'alpaca.json' }, format: 'instruction', metric: 'loss', max_examples: 40, validation_fraction: 0.05 },
  ],
  lora: { r: 2, alpha: 4, targets: ['q_proj', 'v_proj'], layout: 'per_task' },
  mixture: { strategy: 'uniform', per: 'batch' },
  batch_size: 2,
  max_length: 64,
  steps: 1,
  eval_examples: 3,
  eval_max_new_tokens: 2,
  seed: 5,
};

/** A library adapter with B ≠ 0, so each expert answers differently from the base model and from the other. */
async function storeExpert(key: string, seed: number): Promise<void> {
  const config = parseModelConfig(JSON.parse(await readFile(fixturePath('models/aidreams260K/config.json'), 'utf8')));
  const adapter = initLoraAdapter(config, { r: 2, alpha: 4, dropout: 0, targets: ['q_proj', 'v_proj'], rslora: false }, seed);
  const random = Random.fromSeed(seed + 100);
  for (const pair of adapter.pairs.values()) random.fillUniform(pair.b, -0.5, 0.5);
  await storage.put('adapters', key, { name: key, baseModel: REF.source }, await zipPeftAdapter(exportPeftAdapter(adapter, config, REF.source)));
}

const request = (change: Partial<RouterTrainRequest> = {}): RouterTrainRequest & { hubEndpoint: string } => ({
  name: 'Worker router',
  recipe,
  experts: [
    { name: 'fpb', adapterKey: 'lib/fpb' },
    { name: 'alpaca', adapterKey: 'lib/alpaca' },
  ],
  fallback: null,
  balance: 'balanced',
  pooling: 'mean',
  temperature: 1,
  threshold: 0,
  maxSteps: 60,
  hubEndpoint: server.endpoint,
  ...change,
});

let trained: RouterRecord;
const progress: RouterTrainProgress[] = [];

beforeAll(async () => {
  engine = await startTestEngine(acquireTestGpu);
  ({ server, storage, bridge } = engine);
  await bridge.request('data.import', { name: 'fpb.txt', file: new Blob([await readFile(fixturePath('datasets/fpb/Sentences_50Agree.txt'))]), options: { delimiter: '@', header: false } });
  await bridge.request('data.import', { name: 'alpaca.json', file: new Blob([await readFile(fixturePath('datasets/alpaca/alpaca_en_demo.json'))]) });
  await storeExpert('lib/fpb', 1);
  await storeExpert('lib/alpaca', 2);
  trained = await bridge.request('router.train', request(), { onProgress: (event) => progress.push(event) });
}, 300_000);
afterAll(() => engine.close());

describe('router commands of the engine worker', { timeout: 300_000 }, () => {
  it('trains a router over library adapters on balanced prompts, reporting its stages and head evaluations, and routes the validation prompts', async () => {
    expect(trained).toMatchObject({ name: 'Worker router', experts: ['fpb', 'alpaca'], expertKeys: ['lib/fpb', 'lib/alpaca'], balance: 'balanced', pooling: 'mean', hidden: null, topK: 1, fallback: null });
    expect(trained.trainCounts![0]).toBe(trained.trainCounts![1]);
    const stages = progress.flatMap((event) => (event.kind === 'stage' ? [event.stage] : []));
    expect(stages).toEqual(['model', 'data', 'features', 'head', 'validate', 'store']);
    const steps = progress.flatMap((event) => (event.kind === 'eval' ? [event.evaluation.step] : []));
    expect(steps.length).toBeGreaterThan(0);
    expect(steps).toEqual(trained.history.map((evaluation) => evaluation.step));
    expect(steps.every((step, i) => step % 10 === 0 && (i === 0 || step > steps[i - 1]!) && step <= 60)).toBe(true);
    // Every validation prompt lands in exactly one cell, and accuracy is the diagonal's share.
    const { confusion, prompts, accuracy } = trained.validation!;
    const cells = Object.values(confusion).flatMap((row) => Object.values(row));
    expect(cells.reduce((sum, count) => sum + count, 0)).toBe(prompts);
    expect(accuracy).toBeCloseTo(((confusion.fpb!.fpb ?? 0) + (confusion.alpaca!.alpaca ?? 0)) / prompts, 12);
    // FPB phrases and Alpaca instructions are told apart by the frozen model's features, far above chance (one in two);
    // how close to perfect is app/route's to show (router.gpu tests there), not the worker's.
    expect(accuracy).toBeGreaterThan(0.75);
  });

  it('compares the router of the same settings at every layer (router.layers): the middle layer’s held-out accuracy and kept step are router.train’s, the best is the arg-max, and nothing is stored', async () => {
    const stored = (await storage.list('routers')).length;
    const events: RouterLayersProgress[] = [];
    const { name: _name, pooling: _pooling, ...settings } = request();
    const comparison = await bridge.request('router.layers', { ...settings, poolings: ['mean'] }, { onProgress: (event) => events.push(event) });
    expect(comparison.results.map((result) => result.layer)).toEqual([0, 1, 2, 3, 4]);
    const middle = comparison.results.find((result) => result.layer === trained.layer)!;
    expect({ heldOutAccuracy: middle.heldOutAccuracy, bestStep: middle.bestStep }).toEqual({ heldOutAccuracy: trained.heldOutAccuracy, bestStep: trained.bestStep });
    expect(comparison.trainCounts).toEqual(trained.trainCounts);
    expect(comparison.best.heldOutAccuracy).toBe(Math.max(...comparison.results.map((result) => result.heldOutAccuracy)));
    expect(events.flatMap((event) => (event.kind === 'stage' ? [event.stage] : []))).toEqual(['model', 'data']);
    const heads = events.flatMap((event) => (event.kind === 'layers' && event.progress.phase === 'heads' ? [event.progress] : []));
    expect(heads.map((event) => event.result!.layer)).toEqual([0, 1, 2, 3, 4]);
    expect(heads.at(-1)).toMatchObject({ done: 5, total: 5, etaSeconds: 0 });
    expect(await storage.list('routers')).toHaveLength(stored);
    await expect(bridge.request('router.layers', { ...settings, poolings: [] })).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
  });

  it('keeps the router in the "routers" store as its bundle zipped, in the layout of docs/router-format.md', async () => {
    const info = await storage.getInfo('routers', trained.key);
    expect((info?.meta as unknown as RouterRecord).name).toBe('Worker router');
    const files = unzipSync((await storage.getBytes('routers', trained.key))!);
    expect(Object.keys(files).sort()).toEqual(['alpaca/adapter_config.json', 'alpaca/adapter_model.safetensors', 'fpb/adapter_config.json', 'fpb/adapter_model.safetensors', 'router.json', 'router.safetensors']);
    const json = JSON.parse(new TextDecoder().decode(files['router.json'])) as { experts: string[]; features: { layer: number; max_tokens: number }; base_model: unknown };
    expect(json.experts).toEqual(['fpb', 'alpaca']);
    expect(json.features.layer).toBe(trained.layer);
    expect(json.base_model).toEqual({ name_or_path: REF.source, revision: 'main' });
    // The experts are the library adapters' own files, byte for byte.
    const stored = unzipSync((await storage.getBytes('adapters', 'lib/fpb'))!);
    expect(files['fpb/adapter_model.safetensors']).toEqual(stored['adapter_model.safetensors']);
  });

  it('answers a Playground prompt with the expert it routes to: the same text as that adapter generating alone', async () => {
    const prompt = 'Give three tips for staying healthy.';
    const base = { ...REF, prompt, maxNewTokens: 6, temperature: 0, topP: 1, hubEndpoint: server.endpoint };
    const order: string[] = [];
    const routed = await bridge.request('router.generate', { ...base, routerKey: trained.key }, { onProgress: (event) => order.push(event.kind) });
    expect(order[0]).toBe('routed');
    const p = Object.values(routed.routing.probabilities);
    expect(p.reduce((sum, value) => sum + value, 0)).toBeCloseTo(1, 5);
    expect(routed.routing.chosen).toBe(Object.entries(routed.routing.probabilities).sort((a, b) => b[1] - a[1])[0]![0]);
    const alone = await bridge.request('model.generate', { ...base, adapterKey: `lib/${routed.routing.chosen}` });
    expect(routed.text).toBe(alone.text);
    const withoutAdapter = await bridge.request('model.generate', base);
    expect(alone.text === withoutAdapter.text && alone.ids.join() === withoutAdapter.ids.join()).toBe(false);
  });

  it('hands a prompt below the threshold to the base model fallback (a bundle whose router.json asks for it, imported)', async () => {
    const entries = unzipSync((await storage.getBytes('routers', trained.key))!);
    const json = JSON.parse(new TextDecoder().decode(entries['router.json'])) as Record<string, unknown>;
    const unsureBundle = zipSync({ ...entries, 'router.json': new TextEncoder().encode(JSON.stringify({ ...json, threshold: 1, fallback: 'base' })) });
    const unsure = await bridge.request('router.import', { name: 'unsure.zip', file: new Blob([unsureBundle as Uint8Array<ArrayBuffer>]) });
    expect(unsure).toMatchObject({ threshold: 1, fallback: 'base' });
    const prompt = 'Operating profit rose to EUR 13.1 mn.';
    const base = { ...REF, prompt, maxNewTokens: 6, temperature: 0, topP: 1, hubEndpoint: server.endpoint };
    const routed = await bridge.request('router.generate', { ...base, routerKey: unsure.key });
    expect(Math.max(...Object.values(routed.routing.probabilities))).toBeLessThan(1);
    expect(routed.routing).toMatchObject({ chosen: 'base', fellBack: true });
    expect(routed.text).toBe((await bridge.request('model.generate', base)).text);
  });

  it('mixes the top two experts with their renormalized probabilities when router.json asks for top_k 2', async () => {
    const entries = unzipSync((await storage.getBytes('routers', trained.key))!);
    const json = JSON.parse(new TextDecoder().decode(entries['router.json'])) as Record<string, unknown>;
    const mixing = await bridge.request('router.import', { name: 'mixing.zip', file: new Blob([zipSync({ ...entries, 'router.json': new TextEncoder().encode(JSON.stringify({ ...json, top_k: 2 })) }) as Uint8Array<ArrayBuffer>]) });
    const routed = await bridge.request('router.generate', { ...REF, prompt: 'Give three tips for staying healthy.', maxNewTokens: 4, temperature: 0, topP: 1, hubEndpoint: server.endpoint, routerKey: mixing.key });
    const { probabilities, mixture } = routed.routing;
    expect(mixture!.map(({ expert }) => expert).sort()).toEqual(['alpaca', 'fpb']);
    for (const { expert, weight } of mixture!) expect(weight).toBeCloseTo(probabilities[expert]! / (probabilities.fpb! + probabilities.alpaca!), 12);
    expect(routed.ids.length).toBeGreaterThan(0);
  });

  it('trains with the base model as the expert of alpaca: its tasks in the record, no folder for it, and its prompts answered with no adapter', async () => {
    const based = await bridge.request('router.train', request({ name: 'Base router', experts: [{ name: 'fpb', adapterKey: 'lib/fpb' }, { name: 'base', adapterKey: null, tasks: ['alpaca'] }] }));
    expect(based).toMatchObject({ experts: ['fpb', 'base'], expertTasks: [['fpb'], ['alpaca']], expertKeys: ['lib/fpb', ''] });
    // The same prompts, balance and seed as the adapter router: the same head, base's class where alpaca's was.
    expect(based.trainCounts).toEqual(trained.trainCounts);
    const { confusion, prompts, accuracy } = based.validation!;
    expect(Object.keys(confusion)).toEqual(['fpb', 'alpaca']);
    expect(accuracy).toBeCloseTo(((confusion.fpb!.fpb ?? 0) + (confusion.alpaca!.base ?? 0)) / prompts, 12);
    expect(confusion.alpaca!.base).toBe(trained.validation!.confusion.alpaca!.alpaca);
    const files = unzipSync((await storage.getBytes('routers', based.key))!);
    expect(Object.keys(files).sort()).toEqual(['fpb/adapter_config.json', 'fpb/adapter_model.safetensors', 'router.json', 'router.safetensors']);
    expect(JSON.parse(new TextDecoder().decode(files['router.json']))).toMatchObject({ expert_tasks: { fpb: ['fpb'], base: ['alpaca'] }, expert_adapters: { fpb: 'fpb', base: null } });
    const prompt = 'Give three tips for staying healthy.';
    const base = { ...REF, prompt, maxNewTokens: 6, temperature: 0, topP: 1, hubEndpoint: server.endpoint };
    const withAdapter = await bridge.request('router.generate', { ...base, routerKey: trained.key });
    const routed = await bridge.request('router.generate', { ...base, routerKey: based.key });
    expect(routed.routing.probabilities).toEqual({ fpb: withAdapter.routing.probabilities.fpb, base: withAdapter.routing.probabilities.alpaca });
    const answerer = routed.routing.chosen === 'base' ? base : { ...base, adapterKey: 'lib/fpb' };
    expect(routed.text).toBe((await bridge.request('model.generate', answerer)).text);
  });

  it('refuses "base" with a library adapter, an adapter expert without one, and a task claimed by two experts, naming them', async () => {
    await expect(bridge.request('router.train', request({ experts: [{ name: 'fpb', adapterKey: 'lib/fpb' }, { name: 'base', adapterKey: 'lib/alpaca', tasks: ['alpaca'] }] }))).rejects.toMatchObject({ code: 'ROUTER_BAD_EXPERT_NAME', message: expect.stringContaining('"base" is the model with no adapter') });
    await expect(bridge.request('router.train', request({ experts: [{ name: 'fpb', adapterKey: null }, { name: 'base', adapterKey: null, tasks: ['alpaca'] }] }))).rejects.toMatchObject({ code: 'ROUTER_BAD_EXPERT_NAME', message: expect.stringContaining('expert "fpb" needs a library adapter') });
    await expect(bridge.request('router.train', request({ experts: [{ name: 'fpb', adapterKey: 'lib/fpb' }, { name: 'base', adapterKey: null, tasks: ['alpaca', 'fpb'] }] }))).rejects.toMatchObject({ code: 'ROUTER_TASK_CLAIMED_TWICE', details: { task: 'fpb', experts: ['fpb', 'base'] } });
  });

  it('refuses fewer than two experts, and an expert named after no task of the recipe, before any feature is computed', async () => {
    await expect(bridge.request('router.train', request({ experts: [{ name: 'fpb', adapterKey: 'lib/fpb' }] }))).rejects.toMatchObject({ code: 'ROUTER_TOO_FEW_EXPERTS' });
    await expect(bridge.request('router.train', request({ experts: [{ name: 'fpb', adapterKey: 'lib/fpb' }, { name: 'gsm8k', adapterKey: 'lib/alpaca' }] }))).rejects.toMatchObject({
      code: 'ROUTER_EXPERT_WITHOUT_TASK',
      message: expect.stringContaining('expert "gsm8k"'),
    });
  });

  it('imports an exported bundle (also zipped as a folder) and refuses one whose expert list does not match its folders', async () => {
    const bytes = (await storage.getBytes('routers', trained.key))!;
    const imported = await bridge.request('router.import', { name: 'exported.zip', file: new Blob([bytes as Uint8Array<ArrayBuffer>]) });
    expect(imported).toMatchObject({ name: 'exported', experts: ['fpb', 'alpaca'], layer: trained.layer, expertKeys: [] });
    const entries = unzipSync(bytes);
    const inFolder = zipSync(Object.fromEntries(Object.entries(entries).map(([path, data]) => [`my-router/${path}`, data])));
    expect([...unzipBundle(inFolder, 'in-folder.zip').keys()].sort()).toEqual(Object.keys(entries).sort());
    await expect(bridge.request('router.import', { name: 'in-folder.zip', file: new Blob([inFolder as Uint8Array<ArrayBuffer>]) })).resolves.toMatchObject({ experts: ['fpb', 'alpaca'] });
    const { ['alpaca/adapter_config.json']: _config, ['alpaca/adapter_model.safetensors']: _weights, ...withoutAlpaca } = entries;
    const extra = { ...withoutAlpaca, 'gsm8k/adapter_config.json': entries['alpaca/adapter_config.json']!, 'gsm8k/adapter_model.safetensors': entries['alpaca/adapter_model.safetensors']! };
    await expect(bridge.request('router.import', { name: 'renamed.zip', file: new Blob([zipSync(extra) as Uint8Array<ArrayBuffer>]) })).rejects.toMatchObject({
      code: 'ROUTER_BUNDLE_MISMATCH',
      message: expect.stringMatching(/"alpaca".*"gsm8k"/),
    });
    await expect(bridge.request('router.import', { name: 'notes.zip', file: new Blob(['not a zip']) })).rejects.toMatchObject({ code: 'ROUTER_BUNDLE_INVALID', message: expect.stringContaining('notes.zip') });
  });

  it("evaluates a stored router: the oracle is the recipe's own evaluation with the task's adapter", async () => {
    const evaluation = await bridge.request('router.evaluate', { routerKey: trained.key, hubEndpoint: server.endpoint });
    expect(Object.keys(evaluation.tasks)).toEqual(['fpb', 'alpaca']);
    for (const [task, row] of Object.entries(evaluation.tasks)) {
      const counted = Object.values(evaluation.confusion[task]!).reduce((sum, count) => sum + count, 0);
      expect(counted).toBe(row.examples);
      expect(row.routing_accuracy).toBeCloseTo((evaluation.confusion[task]![task] ?? 0) / row.examples, 12);
    }
    // Accuracy is a mean over examples either way (a loss is token-weighted in eval.run, example-weighted here).
    const own = await bridge.request('eval.run', { recipe, adapterKey: 'lib/fpb', hubEndpoint: server.endpoint });
    expect(evaluation.tasks.fpb!.oracle).toBeCloseTo(own.tasks.find((result) => result.task === 'fpb')!.score, 6);
    expect(evaluation.tasks.alpaca!.regret).toBeCloseTo(evaluation.tasks.alpaca!.routed - evaluation.tasks.alpaca!.oracle, 12);
    expect(evaluation.tasks.fpb!.shared).toBeNull();
    // The evaluation is kept with the router, for the Evaluate page after a reload.
    expect(((await storage.getInfo('routers', trained.key))?.meta as unknown as RouterRecord).evaluation).toEqual(evaluation);
  });

  it('routes what a person types: a prompt, or the last user message of a chat', () => {
    expect(routedText('hello')).toBe('hello');
    expect(
      routedText([
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'first' },
        { role: 'assistant', content: 'ok' },
        { role: 'user', content: 'second' },
      ]),
    ).toBe('second');
  });
});
