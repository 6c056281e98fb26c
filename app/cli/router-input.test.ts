import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '../../test/fixtures.ts';
import { parseModelConfig, type LoraTarget } from '../model/config.ts';
import { initLoraAdapter } from '../model/lora.ts';
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
});
