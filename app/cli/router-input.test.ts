import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '../../test/fixtures.ts';
import { parseModelConfig, type LoraTarget } from '../model/config.ts';
import { initLoraAdapter } from '../model/lora.ts';
import { writeRouterBundle } from '../route/bundle.ts';
import { exportPeftAdapter } from '../train/peft.ts';

const run = promisify(execFile);
const BIN = resolve(import.meta.dirname, '../../bin/cocktail.mjs');
const refusal = (args: string[]) =>
  run(process.execPath, [BIN, ...args]).then(
    () => {
      throw new Error(`cocktail ${args.join(' ')} succeeded`);
    },
    (error: { stderr: string }) => error.stderr,
  );

/** `cocktail router train` refuses bad experts before it reads a task file or touches the GPU. */
describe('cocktail router train refuses bad experts', { timeout: 120_000 }, () => {
  let dir: string;
  let recipePath: string;
  const expert = async (name: string, targets: LoraTarget[]) => {
    const config = parseModelConfig(JSON.parse(await readFile(fixturePath('models/aidreams260K/config.json'), 'utf8')));
    const files = exportPeftAdapter(initLoraAdapter(config, { r: 4, alpha: 8, dropout: 0, targets, rslora: false }, 1), config, fixturePath('models/aidreams260K'));
    const folder = join(dir, name);
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, 'adapter_config.json'), files.config);
    await writeFile(join(folder, 'adapter_model.safetensors'), new Uint8Array(await files.weights.arrayBuffer()));
    return folder;
  };
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cocktail-router-input-'));
    recipePath = join(dir, 'recipe.json');
    const task = (name: string) => ({ name, source: { file: 'missing.json' }, format: 'instruction' });
    await writeFile(recipePath, JSON.stringify({ model: { source: fixturePath('models/aidreams260K') }, tasks: [task('fpb'), task('alpaca')], mixture: { strategy: 'round_robin', per: 'batch' }, lora: { r: 4, alpha: 8, targets: ['q_proj', 'v_proj'], layout: 'per_task' }, steps: 1 }));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true });
  });

  it('refuses one expert', async () => {
    const fpb = await expert('adapter-fpb', ['q_proj', 'v_proj']);
    expect(await refusal(['router', 'train', '--recipe', recipePath, '--experts', fpb, '--out', join(dir, 'out')])).toMatch(/at least two experts; got 1 \("fpb"\) \[ROUTER_TOO_FEW_EXPERTS\]/);
  });

  it('refuses experts that adapt other modules, naming which', async () => {
    const experts = [await expert('adapter-fpb', ['q_proj', 'v_proj']), await expert('adapter-alpaca', ['q_proj', 'v_proj', 'down_proj'])].join(',');
    expect(await refusal(['router', 'train', '--recipe', recipePath, '--experts', experts, '--out', join(dir, 'out')])).toMatch(/expert "alpaca" adapts down_proj, q_proj, v_proj, but expert "fpb" adapts q_proj, v_proj \(target_modules\)/);
  });

  it('refuses a pooling it does not know, listing mean, last and mean_last', async () => {
    const experts = [await expert('adapter-fpb', ['q_proj', 'v_proj']), await expert('adapter-alpaca', ['q_proj', 'v_proj'])].join(',');
    expect(await refusal(['router', 'train', '--recipe', recipePath, '--experts', experts, '--pooling', 'max', '--out', join(dir, 'out')])).toMatch(/--pooling must be mean, last, mean_last, got "max"/);
  });

  it('refuses an expert with no task of its name, listing the tasks', async () => {
    const experts = [await expert('adapter-fpb', ['q_proj', 'v_proj']), await expert('adapter-math', ['q_proj', 'v_proj'])].join(',');
    expect(await refusal(['router', 'train', '--recipe', recipePath, '--experts', experts, '--out', join(dir, 'out')])).toMatch(/expert "math" has no task of that name in the recipe \(tasks: fpb, alpaca\)/);
  });

  it('refuses a task assigned to two experts, and a task the recipe lacks, naming them', async () => {
    const fpb = await expert('adapter-fpb', ['q_proj', 'v_proj']);
    expect(await refusal(['router', 'train', '--recipe', recipePath, '--experts', `${fpb},base`, '--expert-tasks', 'base=alpaca+fpb', '--out', join(dir, 'out')])).toMatch(/task "fpb" is assigned to expert "fpb" and to expert "base": every task teaches exactly one expert \[ROUTER_TASK_CLAIMED_TWICE\]/);
    expect(await refusal(['router', 'train', '--recipe', recipePath, '--experts', `${fpb},base`, '--expert-tasks', 'base=gsm8k', '--out', join(dir, 'out')])).toMatch(/task "gsm8k" is not in the recipe \(tasks: fpb, alpaca\).*\[ROUTER_UNKNOWN_TASK\]/);
    expect(await refusal(['router', 'train', '--recipe', recipePath, '--experts', `${fpb},base`, '--out', join(dir, 'out')])).toMatch(/expert "base" has no task of that name in the recipe \(tasks: fpb, alpaca\).*\[ROUTER_EXPERT_WITHOUT_TASK\]/);
    expect(await refusal(['router', 'train', '--recipe', recipePath, '--experts', 'base', '--expert-tasks', 'base=alpaca', '--out', join(dir, 'out')])).toMatch(/at least two experts; got 1 \("base"\)/);
  });
});

/** `cocktail route` and `generate --router` refuse a bundle whose experts were trained on another model than the one they load, before loading it. */
describe('cocktail route and generate --router check the experts’ base model', { timeout: 120_000 }, () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cocktail-route-model-'));
    const config = parseModelConfig(JSON.parse(await readFile(fixturePath('models/aidreams260K/config.json'), 'utf8')));
    const adapterFor = (seed: number, base: string) => exportPeftAdapter(initLoraAdapter(config, { r: 2, alpha: 4, dropout: 0, targets: ['q_proj'], rslora: false }, seed), config, base);
    const C = config.hiddenSize;
    const head = { featureMean: new Float32Array(C), featureScale: new Float32Array(C).fill(1), layers: [{ inFeatures: C, outFeatures: 3, w: new Float32Array(3 * C), b: new Float32Array(3) }], temperature: 1 };
    const bundle = writeRouterBundle({
      router: { experts: ['fpb', 'gsm8k', 'base'], tasks: [['fpb'], ['gsm8k'], ['alpaca']], feature: { layer: 1, pooling: 'mean' }, input: 'typed', head, policy: { topK: 1, threshold: 0, fallback: null }, baseModel: { name: 'aidreams/aidreams260K', revision: 'main' } },
      adapters: new Map([['fpb', adapterFor(1, 'aidreams/aidreams260K')], ['gsm8k', adapterFor(2, 'HuggingFaceTB/SmolLM2-135M')]]),
    });
    for (const [path, blob] of bundle) {
      await mkdir(join(dir, 'router', path, '..'), { recursive: true });
      await writeFile(join(dir, 'router', path), new Uint8Array(await blob.arrayBuffer()));
    }
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true });
  });

  it('refuses, naming the expert and both models', async () => {
    const want = /expert "gsm8k": the adapter was trained on HuggingFaceTB\/SmolLM2-135M \(base_model_name_or_path in adapter_config.json\), not on aidreams\/aidreams260K.*\[ADAPTER_BASE_MISMATCH\]/;
    expect(await refusal(['route', '--router', join(dir, 'router'), '--prompt', 'hello', '--json'])).toMatch(want);
    expect(await refusal(['generate', '--router', join(dir, 'router'), '--prompt', 'hello', '--json'])).toMatch(want);
  });
});
