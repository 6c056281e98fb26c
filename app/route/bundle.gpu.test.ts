import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { fixturePath } from '../../test/fixtures.ts';
import { setUpTestGpu } from '../../test/gpu-harness.ts';
import { parseModelConfig, type LoraTarget, type ModelConfig } from '../model/config.ts';
import { initLoraAdapter } from '../model/lora.ts';
import { exportPeftAdapter, type PeftFiles } from '../train/peft.ts';
import { Random } from '../util/random.ts';
import { readRouterBundle, writeRouterBundle, type RouterBundle } from './bundle.ts';
import { loadExperts } from './experts.ts';
import { featureWidth, type Pooling } from './features.ts';
import { headProbabilities, trainRouterHead } from './head.ts';
import { routerTasks } from './router.ts';

const gpu = setUpTestGpu();
const config = async (): Promise<ModelConfig> => parseModelConfig(JSON.parse(await readFile(fixturePath('models/aidreams260K/config.json'), 'utf8')));
const BASE = 'aidreams/aidreams260K';

function adapter(model: ModelConfig, seed: number, targets: LoraTarget[] = ['q_proj', 'v_proj'], base = BASE): PeftFiles {
  return exportPeftAdapter(initLoraAdapter(model, { r: 4, alpha: 8, dropout: 0, targets, rslora: false }, seed), model, base);
}

async function trainedBundle(model: ModelConfig, hidden?: number, pooling: Pooling = 'mean'): Promise<RouterBundle> {
  const random = Random.fromSeed(1);
  const C = featureWidth(pooling, model.hiddenSize);
  const set = (N: number) => ({ features: random.fillUniform(new Float32Array(N * C), -3, 3), labels: Int32Array.from({ length: N }, (_, n) => n % 3) });
  const { head } = await trainRouterHead(gpu.ctx, set(30), set(9), { experts: 3, maxSteps: 20, temperature: 0.8, ...(hidden ? { hidden } : {}) });
  return {
    router: { experts: ['fpb', 'gsm8k', 'alpaca'], feature: { layer: 2, pooling }, input: 'typed', head, policy: { topK: 1, threshold: 0.5, fallback: 'shared' }, baseModel: { name: BASE, revision: 'main' } },
    adapters: new Map(['fpb', 'gsm8k', 'alpaca', 'shared'].map((name, i) => [name, adapter(model, i + 1)])),
  };
}

describe('router bundle', () => {
  for (const hidden of [undefined, 8]) {
    it(`writes PEFT's multi-adapter layout, router.safetensors and router.json, and loads back with the same probabilities (${hidden ? 'hidden layer' : 'linear head'})`, async () => {
      const model = await config();
      const bundle = await trainedBundle(model, hidden);
      const files = writeRouterBundle(bundle, { maxTokens: 128 });
      expect([...files.keys()].sort()).toEqual([
        'alpaca/adapter_config.json', 'alpaca/adapter_model.safetensors', 'fpb/adapter_config.json', 'fpb/adapter_model.safetensors',
        'gsm8k/adapter_config.json', 'gsm8k/adapter_model.safetensors', 'router.json', 'router.safetensors',
        'shared/adapter_config.json', 'shared/adapter_model.safetensors',
      ]);
      const json = JSON.parse(await files.get('router.json')!.text()) as Record<string, unknown>;
      expect(json).toMatchObject({
        format: 'cocktail-router', version: 1, experts: ['fpb', 'gsm8k', 'alpaca'], base_model: { name_or_path: BASE, revision: 'main' },
        features: { layer: 2, pooling: 'mean', input: 'typed', add_bos: true, max_tokens: 128 }, template: '{prompt}',
        head: { in_features: 64, hidden: hidden ?? null, activation: hidden ? 'relu' : null, out_features: 3, standardize: true },
        temperature: 0.8, top_k: 1, threshold: 0.5, fallback: 'shared',
      });
      const back = await readRouterBundle(files, 'bundle');
      expect(back.router.experts).toEqual(bundle.router.experts);
      expect(back.router.policy).toEqual(bundle.router.policy);
      expect(await back.adapters.get('gsm8k')!.weights.arrayBuffer()).toEqual(await bundle.adapters.get('gsm8k')!.weights.arrayBuffer());
      const features = Random.fromSeed(5).fillUniform(new Float32Array(7 * 64), -3, 3);
      expect(Array.from(await headProbabilities(gpu.ctx, back.router.head, features))).toEqual(Array.from(await headProbabilities(gpu.ctx, bundle.router.head, features)));
    });
  }

  it('keeps "mean_last" pooling: router.json names it with in_features 2C, and it loads back with the same probabilities', async () => {
    const model = await config();
    const bundle = await trainedBundle(model, 8, 'mean_last');
    const files = writeRouterBundle(bundle, { maxTokens: 128 });
    const json = JSON.parse(await files.get('router.json')!.text()) as Record<string, unknown>;
    expect(json).toMatchObject({ features: { layer: 2, pooling: 'mean_last' }, head: { in_features: 2 * model.hiddenSize, hidden: 8, out_features: 3 } });
    const back = await readRouterBundle(files, 'bundle');
    expect(back.router.feature).toEqual({ layer: 2, pooling: 'mean_last' });
    const features = Random.fromSeed(5).fillUniform(new Float32Array(7 * 2 * model.hiddenSize), -3, 3);
    expect(Array.from(await headProbabilities(gpu.ctx, back.router.head, features))).toEqual(Array.from(await headProbabilities(gpu.ctx, bundle.router.head, features)));
  });

  it('refuses a router.json with a pooling it does not know, naming the choices', async () => {
    const files = writeRouterBundle(await trainedBundle(await config()), { maxTokens: 128 });
    const json = JSON.parse(await files.get('router.json')!.text()) as { features: { pooling: string } };
    json.features.pooling = 'max';
    files.set('router.json', new Blob([JSON.stringify(json)]));
    await expect(readRouterBundle(files, 'bundle')).rejects.toMatchObject({ code: 'ROUTER_BAD_POOLING', message: expect.stringMatching(/"mean", "last", "mean_last", got "max"/) });
  });

  it('refuses a bundle whose expert list does not match its folders, naming the missing and the unlisted', async () => {
    const model = await config();
    const files = writeRouterBundle(await trainedBundle(model));
    const broken = new Map(files);
    broken.delete('gsm8k/adapter_model.safetensors');
    broken.set('stray/adapter_config.json', new Blob(['{}']));
    await expect(readRouterBundle(broken, 'my-router')).rejects.toMatchObject({ code: 'ROUTER_BUNDLE_MISMATCH' });
    await expect(readRouterBundle(broken, 'my-router')).rejects.toThrow(/my-router: the expert list of router.json \(fpb, gsm8k, alpaca\) does not match the bundle's folders: no adapter folder .* for "gsm8k"; folder\(s\) "stray" that router.json does not list/);
  });

  it('refuses a router.json with fewer than two experts', async () => {
    const model = await config();
    const files = new Map(writeRouterBundle(await trainedBundle(model)));
    const json = JSON.parse(await files.get('router.json')!.text()) as { experts: string[] };
    files.set('router.json', new Blob([JSON.stringify({ ...json, experts: ['fpb'] })]));
    await expect(readRouterBundle(files, 'b')).rejects.toMatchObject({ code: 'ROUTER_TOO_FEW_EXPERTS' });
  });
});

describe('router bundle with the shared adapter and "base" as experts', () => {
  /** fpb and gsm8k adapters, the shared cocktail adapter learning alpaca, and base (no adapter) learning dolly and tweets. */
  async function mixedBundle(): Promise<RouterBundle> {
    const model = await config();
    const bundle = await trainedBundle(model);
    const random = Random.fromSeed(2);
    const C = model.hiddenSize;
    const set = (N: number) => ({ features: random.fillUniform(new Float32Array(N * C), -3, 3), labels: Int32Array.from({ length: N }, (_, n) => n % 4) });
    const { head } = await trainRouterHead(gpu.ctx, set(40), set(12), { experts: 4, maxSteps: 10 });
    return {
      router: { ...bundle.router, experts: ['fpb', 'gsm8k', 'shared', 'base'], tasks: [['fpb'], ['gsm8k'], ['alpaca'], ['dolly', 'tweets']], head, policy: { topK: 1, threshold: 0.4, fallback: 'shared' } },
      adapters: new Map(['fpb', 'gsm8k', 'shared'].map((name, i) => [name, adapter(model, i + 1)])),
    };
  }

  it('lists each expert with its tasks, marks "base" as no adapter, writes no folder for it, and reads back the same', async () => {
    const bundle = await mixedBundle();
    const files = writeRouterBundle(bundle);
    const folders = [...new Set([...files.keys()].filter((path) => path.includes('/')).map((path) => path.split('/')[0]))].sort();
    expect(folders).toEqual(['fpb', 'gsm8k', 'shared']);
    const json = JSON.parse(await files.get('router.json')!.text()) as Record<string, unknown>;
    expect(json).toMatchObject({
      experts: ['fpb', 'gsm8k', 'shared', 'base'],
      expert_tasks: { fpb: ['fpb'], gsm8k: ['gsm8k'], shared: ['alpaca'], base: ['dolly', 'tweets'] },
      expert_adapters: { fpb: 'fpb', gsm8k: 'gsm8k', shared: 'shared', base: null },
      head: { out_features: 4 },
      fallback: 'shared',
    });
    const back = await readRouterBundle(files, 'mixed');
    expect(back.router.experts).toEqual(bundle.router.experts);
    expect(back.router.tasks).toEqual(bundle.router.tasks);
    expect([...back.adapters.keys()].sort()).toEqual(['fpb', 'gsm8k', 'shared']);
  });

  it('still refuses folders that do not match: a folder for "base", or a listed adapter without one', async () => {
    const files = writeRouterBundle(await mixedBundle());
    const withBaseFolder = new Map(files).set('base/adapter_config.json', files.get('fpb/adapter_config.json')!).set('base/adapter_model.safetensors', files.get('fpb/adapter_model.safetensors')!);
    await expect(readRouterBundle(withBaseFolder, 'b')).rejects.toThrow(expect.objectContaining({ code: 'ROUTER_BUNDLE_MISMATCH', message: expect.stringContaining('folder(s) "base" that router.json does not list') }));
    const withoutShared = new Map([...files].filter(([path]) => !path.startsWith('shared/')));
    await expect(readRouterBundle(withoutShared, 'b')).rejects.toThrow(expect.objectContaining({ code: 'ROUTER_BUNDLE_MISMATCH', message: expect.stringContaining('for "shared"') }));
  });

  it('refuses expert_adapters that give "base" a folder or an adapter none, and expert_tasks where a task teaches two experts', async () => {
    const files = writeRouterBundle(await mixedBundle());
    const json = JSON.parse(await files.get('router.json')!.text()) as Record<string, Record<string, unknown>>;
    const edited = (change: Record<string, unknown>) => new Map(files).set('router.json', new Blob([JSON.stringify({ ...json, ...change })]));
    await expect(readRouterBundle(edited({ expert_adapters: { ...json.expert_adapters, base: 'base' } }), 'b')).rejects.toThrow(/expert_adapters gives expert "base" "base"; it must be null/);
    await expect(readRouterBundle(edited({ expert_adapters: { ...json.expert_adapters, gsm8k: null } }), 'b')).rejects.toThrow(/expert_adapters gives expert "gsm8k" null; it must be its folder "gsm8k"/);
    await expect(readRouterBundle(edited({ expert_tasks: { ...json.expert_tasks, base: ['dolly', 'alpaca'] } }), 'b')).rejects.toThrow(/expert_tasks: task "alpaca" is assigned to expert "shared" and to expert "base"/);
    await expect(readRouterBundle(edited({ expert_tasks: { ...json.expert_tasks, gsm8k: [] } }), 'b')).rejects.toMatchObject({ code: 'ROUTER_BUNDLE_INVALID', message: expect.stringContaining('expert "gsm8k" has no task') });
  });

  it('reads a bundle from before assignments unchanged: each expert learned from its own name’s task', async () => {
    const files = writeRouterBundle(await trainedBundle(await config()));
    const { expert_tasks: _tasks, expert_adapters: _adapters, ...old } = JSON.parse(await files.get('router.json')!.text()) as Record<string, unknown>;
    const back = await readRouterBundle(new Map(files).set('router.json', new Blob([JSON.stringify(old)])), 'old');
    expect(back.router.tasks).toBeUndefined();
    expect(routerTasks(back.router)).toEqual([['fpb'], ['gsm8k'], ['alpaca']]);
  });
});

describe('experts a router refuses', () => {
  it('refuses fewer than two experts', async () => {
    const model = await config();
    await expect(loadExperts([{ name: 'fpb', files: adapter(model, 1) }], model, BASE)).rejects.toThrow(/at least two experts; got 1 \("fpb"\)/);
  });

  it('refuses an expert of another base model, naming it and both bases', async () => {
    const model = await config();
    const experts = [{ name: 'fpb', files: adapter(model, 1) }, { name: 'gsm8k', files: adapter(model, 2, ['q_proj', 'v_proj'], 'HuggingFaceTB/SmolLM2-135M') }];
    await expect(loadExperts(experts, model, BASE)).rejects.toThrow(/expert "gsm8k" was trained on HuggingFaceTB\/SmolLM2-135M, but expert "fpb" on aidreams\/aidreams260K/);
  });

  it('refuses experts that adapt other target modules, naming which', async () => {
    const model = await config();
    const experts = [{ name: 'fpb', files: adapter(model, 1) }, { name: 'alpaca', files: adapter(model, 2, ['q_proj', 'v_proj', 'down_proj']) }];
    await expect(loadExperts(experts, model, BASE)).rejects.toMatchObject({ code: 'ROUTER_EXPERT_TARGETS_MISMATCH' });
    await expect(loadExperts(experts, model, BASE)).rejects.toThrow(/expert "alpaca" adapts down_proj, q_proj, v_proj, but expert "fpb" adapts q_proj, v_proj/);
  });

  it('refuses experts trained on another Hub model than the recipe’s', async () => {
    const model = await config();
    const experts = [{ name: 'fpb', files: adapter(model, 1) }, { name: 'gsm8k', files: adapter(model, 2) }];
    await expect(loadExperts(experts, model, 'someone/other-model')).rejects.toMatchObject({ code: 'ADAPTER_BASE_MISMATCH' });
  });
});
