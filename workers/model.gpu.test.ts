import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '../test/fixtures.ts';
import { acquireTestGpu } from '../test/gpu.ts';
import type { HubServer } from '../test/hub-server.ts';
import { startTestEngine, type TestEngine } from '../test/engine.ts';
import type { EngineBridge } from '../app/state/bridge.ts';
import { parseModelConfig } from '../app/model/config.ts';
import { initLoraAdapter } from '../app/model/lora.ts';
import type { Storage } from '../app/store/storage.ts';
import { exportPeftAdapter, zipPeftAdapter } from '../app/train/peft.ts';
import { Random } from '../app/util/random.ts';
import type { GenerateRequest, TrainingPlanRequest } from './protocol.ts';
import { DEFAULT_VERIFY_PROMPT } from './verify.ts';

const MODEL = fixturePath('models/aidreams260K');
const REF = { source: 'aidreams/aidreams260K', revision: 'main' };
let engine: TestEngine;
let server: HubServer;
let storage: Storage;
let bridge: EngineBridge;

beforeAll(async () => {
  engine = await startTestEngine(acquireTestGpu);
  ({ server, storage, bridge } = engine);
  await bridge.request('model.load', { ...REF, hubEndpoint: server.endpoint });
  await storeShiftedAdapter('shifted');
});
afterAll(() => engine.close());

/** A PEFT adapter with non-zero B (a fresh one equals the base model), zipped into the library as training stores one. */
async function storeShiftedAdapter(key: string): Promise<void> {
  const config = parseModelConfig(JSON.parse(await readFile(join(MODEL, 'config.json'), 'utf8')));
  const adapter = initLoraAdapter(config, { r: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'v_proj', 'down_proj'], rslora: false }, 1);
  const random = Random.fromSeed(2);
  for (const pair of adapter.pairs.values()) random.fillUniform(pair.b, -0.5, 0.5);
  await storage.put('adapters', key, { name: key }, await zipPeftAdapter(exportPeftAdapter(adapter, config, REF.source)));
}

const PLAN: TrainingPlanRequest = { batchSize: 2, seqLength: 64, r: 8, targets: ['q_proj', 'v_proj'], adapters: 1, recompute: false, dtype: 'f32', budgetBytes: 2 ** 30 };

const generate = (request: Partial<GenerateRequest>, onText?: (text: string) => void, signal?: AbortSignal) =>
  bridge.request('model.generate', { ...REF, prompt: 'Once upon a time', maxNewTokens: 12, temperature: 0, topP: 1, ...request }, {
    ...(onText ? { onProgress: ({ text }) => onText(text) } : {}),
    ...(signal ? { signal } : {}),
  });

describe('model.plan: what training needs on this GPU', { timeout: 120_000 }, () => {
  it('says a small configuration fits, line by line, within this GPU’s buffer limits', async () => {
    const estimate = await bridge.request('model.plan', { ...REF, plan: PLAN });
    expect(estimate.fits).toBe(true);
    expect(estimate.advice).toEqual([]);
    expect(estimate.totalBytes).toBe(estimate.lines.reduce((sum, line) => sum + line.bytes, 0));
  });

  it('says what to change when the configuration is over the memory budget', async () => {
    const estimate = await bridge.request('model.plan', { ...REF, plan: { ...PLAN, budgetBytes: 1024 } });
    expect(estimate.fits).toBe(false);
    expect(estimate.advice.join(' ')).toMatch(/over the budget[\s\S]*recomputation/);
  });

  it('refuses to plan a model that is not in storage, saying to load it first', async () => {
    await expect(bridge.request('model.plan', { source: 'nobody/nothing', revision: 'main', plan: PLAN })).rejects.toThrow(/load it on the Model page first/);
  });
});

describe('model.generate: streaming text from the session model', { timeout: 120_000 }, () => {
  it('streams each token’s text as it is generated, adding up to the answer', async () => {
    let streamed = '';
    const result = await generate({}, (text) => (streamed += text));
    expect(result.ids.length).toBeGreaterThan(0);
    expect(result.ids.length).toBeLessThanOrEqual(12);
    expect(result.text.length).toBeGreaterThan(0);
    expect(streamed).toBe(result.text);
    expect(result.stopReason === 'max-new-tokens' || result.stopReason === 'eos').toBe(true);
    expect(result.tokensPerSecond).toBeGreaterThan(0);
  });

  it('gives the same text for the same seed when sampling', async () => {
    const sampled = { temperature: 1, topP: 0.9, seed: 7 };
    expect((await generate(sampled)).ids).toEqual((await generate(sampled)).ids);
  });

  it('prompts with chat messages as a messages task trains a model without a chat template', async () => {
    const chat = await generate({ prompt: [{ role: 'user', content: 'Tell me a story.' }] });
    const plain = await generate({ prompt: 'User: Tell me a story.\nAssistant: ' });
    expect(chat.ids).toEqual(plain.ids);
    // The answer says so, for the Playground to tell the user the model has no chat template.
    expect(chat.chatRendering).toBe('plain');
    expect(plain).not.toHaveProperty('chatRendering');
  });

  it('generates with a library adapter differently from the base model', async () => {
    const base = await generate({ maxNewTokens: 8 });
    const adapted = await generate({ maxNewTokens: 8, adapterKey: 'shifted' });
    expect(adapted.ids).not.toEqual(base.ids);
  });

  it('refuses an adapter that is not in the library', async () => {
    await expect(generate({ adapterKey: 'no-such-adapter' })).rejects.toMatchObject({ code: 'ADAPTER_NOT_FOUND' });
  });

  it('stops when cancelled and answers CANCELLED', async () => {
    const controller = new AbortController();
    let tokens = 0;
    const running = generate({ maxNewTokens: 100 }, () => {
      if (++tokens === 2) controller.abort();
    }, controller.signal);
    await expect(running).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(tokens).toBeLessThan(100);
  });

  it('refuses settings out of range, naming the setting', async () => {
    await expect(generate({ topP: 0 })).rejects.toMatchObject({ code: 'GENERATE_BAD_SETTING', message: expect.stringContaining('topP') });
  });
});

describe('model.verify: the engine against ONNX Runtime', { timeout: 120_000 }, () => {
  it('runs a fixed prompt through both on the model’s ONNX export and finds the same logits', async () => {
    const stages: string[] = [];
    const check = await bridge.request('model.verify', { ...REF }, { onProgress: ({ stage }) => stages.push(stage) });
    expect(check.prompt).toBe(DEFAULT_VERIFY_PROMPT);
    expect(check.tokens).toBeGreaterThan(5);
    expect(check.passed).toBe(true);
    expect(check.argmaxDisagreements).toBe(0);
    expect(stages).toEqual(['download', 'engine', 'onnx']);
  });

  it('says there is nothing to check against when the model has no ONNX export', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'cocktail-no-onnx-'));
    try {
      await cp(MODEL, folder, { recursive: true, filter: (path) => !path.includes('onnx') });
      const paths = (await readdir(folder, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => relative(folder, join(e.parentPath, e.name)));
      const files = await Promise.all(paths.map(async (path) => new File([await readFile(join(folder, path))], path)));
      await bridge.request('model.importLocal', { name: 'no-onnx', files, paths });
      await expect(bridge.request('model.verify', { source: 'local/no-onnx', revision: 'local' })).rejects.toMatchObject({
        code: 'VERIFY_NO_ONNX',
        message: expect.stringContaining('has no ONNX export (onnx/model.onnx)'),
      });
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});
