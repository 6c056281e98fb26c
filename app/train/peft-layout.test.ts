import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { fixturePath } from '../../test/fixtures.ts';
import { readPeftAdapter } from '../cli/peft-files.ts';
import { parseModelConfig } from '../model/config.ts';
import { initLoraAdapter } from '../model/lora.ts';
import { checkAdapterBaseModel, locateAdapter } from './peft-layout.ts';
import { exportPeftAdapter, importPeftAdapter, unzipPeftAdapter } from './peft.ts';

const model = parseModelConfig(JSON.parse(await readFile(fixturePath('models/aidreams260K/config.json'), 'utf8')));

/** An adapter as a newer PEFT writes it: keys this engine does not know, all at their defaults. */
async function toolAdapter(seed: number): Promise<{ config: string; weights: Uint8Array<ArrayBuffer> }> {
  const adapter = initLoraAdapter(model, { r: 4, alpha: 8, dropout: 0.05, targets: ['q_proj', 'v_proj'], rslora: false }, seed);
  for (const pair of adapter.pairs.values()) pair.b.fill(seed / 100);
  const files = exportPeftAdapter(adapter, model, 'HuggingFaceTB/SmolLM2-135M');
  const config = { ...(JSON.parse(files.config) as Record<string, unknown>), eva_config: null, corda_config: null, exclude_modules: null, lora_bias: false, megatron_config: null, megatron_core: 'megatron.core', loftq_config: {}, use_qalora: false, qalora_group_size: 16, trainable_token_indices: null, layer_replication: null, runtime_config: { ephemeral_gpu_offload: false }, peft_version: '0.17.1' };
  return { config: JSON.stringify(config), weights: new Uint8Array(await files.weights.arrayBuffer()) };
}

describe('locateAdapter', () => {
  it('takes the final adapter at the top of an output_dir over its checkpoints', () => {
    expect(locateAdapter(['adapter_config.json', 'adapter_model.safetensors', 'checkpoint-10/adapter_config.json', 'checkpoint-10/adapter_model.safetensors'], 'out')).toEqual({ folder: '', candidates: ['', 'checkpoint-10'] });
  });

  it('takes the checkpoint of the highest step when no final adapter was saved (numbers, not text order)', () => {
    const paths = ['checkpoint-500', 'checkpoint-1000', 'checkpoint-90'].flatMap((folder) => [`${folder}/adapter_config.json`, `${folder}/adapter_model.safetensors`, `${folder}/optimizer.pt`]);
    expect(locateAdapter(paths, 'out')).toMatchObject({ folder: 'checkpoint-1000', checkpointStep: 1000 });
  });

  it('finds an output_dir zipped as a folder, and ignores macOS copies', () => {
    const paths = ['run/adapter_config.json', 'run/adapter_model.safetensors', 'run/checkpoint-2/adapter_config.json', 'run/checkpoint-2/adapter_model.safetensors', '__MACOSX/run/._adapter_config.json'];
    expect(locateAdapter(paths, 'run.zip').folder).toBe('run');
  });

  it('refuses a pickled adapter_model.bin and says how to get safetensors', () => {
    expect(() => locateAdapter(['adapter_config.json', 'adapter_model.bin'], 'out')).toThrow(/adapter_model\.bin is a PyTorch pickle.*safe_serialization=True/);
  });

  it('refuses a folder with no adapter, and one with two unrelated adapters', () => {
    expect(() => locateAdapter(['config.json', 'model.safetensors'], 'out')).toThrow(/no folder in it holds both adapter_config\.json and adapter_model\.safetensors/);
    expect(() => locateAdapter(['a/adapter_config.json', 'a/adapter_model.safetensors', 'b/adapter_config.json', 'b/adapter_model.safetensors'], 'out')).toThrow(/holds several adapters \(a, b\)/);
  });
});

describe('adapters as Axolotl, LLaMA-Factory and TRL write them', () => {
  it('reads an output_dir folder with only checkpoints: the latest one, with the newer PEFT keys tolerated', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cocktail-output-dir-'));
    try {
      for (const step of [3, 6]) {
        const adapter = await toolAdapter(step);
        await mkdir(join(dir, `checkpoint-${step}`));
        await writeFile(join(dir, `checkpoint-${step}`, 'adapter_config.json'), adapter.config);
        await writeFile(join(dir, `checkpoint-${step}`, 'adapter_model.safetensors'), adapter.weights);
        await writeFile(join(dir, `checkpoint-${step}`, 'trainer_state.json'), '{}');
      }
      await writeFile(join(dir, 'README.md'), '# model card');
      const imported = await importPeftAdapter(await readPeftAdapter(dir), model);
      expect(imported.config).toEqual({ r: 4, alpha: 8, dropout: 0.05, targets: ['q_proj', 'v_proj'], rslora: false });
      expect([...imported.pairs.values()].every((pair) => pair.b.every((v) => v === Math.fround(6 / 100)))).toBe(true);
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it('reads the final adapter of a zipped output_dir, not a checkpoint\'s config with the final weights', async () => {
    const final = await toolAdapter(9);
    const checkpoint = await toolAdapter(4);
    const zip = zipSync({
      'output/adapter_config.json': new TextEncoder().encode(final.config),
      'output/adapter_model.safetensors': final.weights,
      'output/checkpoint-4/adapter_config.json': new TextEncoder().encode(checkpoint.config),
      'output/checkpoint-4/adapter_model.safetensors': checkpoint.weights,
    });
    const imported = await importPeftAdapter(unzipPeftAdapter(zip, 'output.zip'), model);
    expect([...imported.pairs.values()].every((pair) => pair.b.every((v) => v === Math.fround(9 / 100)))).toBe(true);
  });
});

describe('checkAdapterBaseModel', () => {
  const config = JSON.stringify({ base_model_name_or_path: 'HuggingFaceTB/SmolLM2-135M' });

  it('refuses an adapter trained on another Hub model, naming both', () => {
    expect(() => checkAdapterBaseModel(config, 'Qwen/Qwen2.5-0.5B', 'output')).toThrow('output: the adapter was trained on HuggingFaceTB/SmolLM2-135M (base_model_name_or_path in adapter_config.json), not on Qwen/Qwen2.5-0.5B');
  });

  it('accepts the same model in another case, and cannot compare with a model opened from disk', () => {
    expect(() => checkAdapterBaseModel(config, 'huggingfacetb/smollm2-135m', 'output')).not.toThrow();
    expect(() => checkAdapterBaseModel(config, 'local/my-model', 'output')).not.toThrow();
  });

  it('refuses, through the tensor shapes, an adapter of a model with other dimensions', async () => {
    const other = parseModelConfig(JSON.parse(await readFile(fixturePath('configs/SmolLM2-135M.config.json'), 'utf8')));
    const adapter = await toolAdapter(1);
    await expect(importPeftAdapter({ config: adapter.config, weights: new Blob([adapter.weights]) }, other)).rejects.toThrow(/has shape \[4, \d+\]; this model needs \[4, 576\]/);
  });
});
