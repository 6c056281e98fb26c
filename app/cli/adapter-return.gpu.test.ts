import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { fixturePath } from '../../test/fixtures.ts';
import { parseModelConfig } from '../model/config.ts';
import { initLoraAdapter } from '../model/lora.ts';
import { exportPeftAdapter } from '../train/peft.ts';

const run = promisify(execFile);
const BIN = resolve(import.meta.dirname, '../../bin/cocktail.mjs');

/** What a cluster run leaves in output_dir: checkpoint-N folders with the adapter and the Trainer's state, keys of a newer PEFT. */
async function writeOutputDir(dir: string): Promise<void> {
  const model = parseModelConfig(JSON.parse(await readFile(fixturePath('models/aidreams260K/config.json'), 'utf8')));
  for (const step of [2, 4]) {
    const adapter = initLoraAdapter(model, { r: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'v_proj'], rslora: false }, step);
    for (const pair of adapter.pairs.values()) pair.b.forEach((_, i) => (pair.b[i] = Math.sin(i + step) * 0.05));
    const files = exportPeftAdapter(adapter, model, 'aidreams260K');
    const folder = join(dir, `checkpoint-${step}`);
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, 'adapter_config.json'), JSON.stringify({ ...(JSON.parse(files.config) as object), lora_bias: false, exclude_modules: null, peft_version: '0.17.1' }));
    await writeFile(join(folder, 'adapter_model.safetensors'), new Uint8Array(await files.weights.arrayBuffer()));
    await writeFile(join(folder, 'trainer_state.json'), JSON.stringify({ global_step: step }));
  }
}

describe('an adapter trained by another engine, back in the CLI', { timeout: 300_000 }, () => {
  it('evaluates an output_dir (its latest checkpoint-N) and trains on from it with --init-adapter and --steps', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cocktail-return-'));
    try {
      const recipePath = join(dir, 'recipe.json');
      await writeFile(
        recipePath,
        JSON.stringify({
          model: { source: fixturePath('models/aidreams260K') },
          tasks: [{ name: 'tweets', source: { file: fixturePath('datasets/twitter_fin_sentiment/sent_valid.csv') }, format: 'classification', columns: { text: 'text', label: 'label' }, max_examples: 8, validation_fraction: 0.002 }],
          lora: { r: 4, alpha: 8, targets: ['q_proj', 'v_proj'] },
          batch_size: 2,
          max_length: 64,
          steps: 20,
          eval_every: 1000,
          eval_examples: 4,
          seed: 2,
        }),
      );
      const output = join(dir, 'output');
      await writeOutputDir(output);
      const evaluate = async (adapter: string) => JSON.parse((await run(process.execPath, [BIN, 'eval', '--recipe', recipePath, '--adapter', adapter, '--json'])).stdout.trim()) as Record<string, unknown>;
      const fromOutputDir = await evaluate(output);
      const fromLatest = await evaluate(join(output, 'checkpoint-4'));
      expect(fromOutputDir).toMatchObject({ task: 'tweets', metric: 'accuracy' });
      expect(fromOutputDir.loss).toBe(fromLatest.loss);

      // --steps replaces the recipe's 20 steps; --init-adapter is lora.init_from, read from the same output_dir.
      const { stdout } = await run(process.execPath, [BIN, 'train', '--recipe', recipePath, '--init-adapter', output, '--steps', '2', '--out', join(dir, 'run'), '--json'], { maxBuffer: 16 * 2 ** 20 });
      const events = stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(events.filter((event) => event.event === 'step').map((event) => event.step)).toEqual([1, 2]);
      expect(events.find((event) => event.event === 'step')).toMatchObject({ totalSteps: 2 });
      expect(events.some((event) => event.event === 'adapter')).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
