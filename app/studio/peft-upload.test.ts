import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { fixturePath } from '../../test/fixtures.ts';
import { parseModelConfig, type ModelConfig } from '../model/config.ts';
import { initLoraAdapter, type LoraConfig } from '../model/lora.ts';
import { writeSafetensors } from '../model/safetensors.ts';
import { exportPeftAdapter, zipPeftAdapter, type PeftFiles } from '../train/peft.ts';
import { checkPeftAdapter, importedAdapterKey, readPeftUpload, type NamedBlob } from './peft-upload.ts';

const aidreams = async (): Promise<ModelConfig> => parseModelConfig(JSON.parse(await readFile(fixturePath('models/aidreams260K/config.json'), 'utf8')));
const LORA: LoraConfig = { r: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'v_proj'], rslora: false };
const named = (parts: BlobPart[], name: string): NamedBlob => Object.assign(new Blob(parts), { name });

async function peftFiles(model: ModelConfig, lora = LORA): Promise<PeftFiles> {
  return exportPeftAdapter(initLoraAdapter(model, lora, 1), model, 'aidreams/aidreams260K');
}

describe('readPeftUpload', () => {
  it('reads a zip and names the adapter after it', async () => {
    const files = await peftFiles(await aidreams());
    const upload = await readPeftUpload([named([(await zipPeftAdapter(files)) as BlobPart], 'run-7-shared-peft.zip')]);
    expect(upload.suggestedName).toBe('run-7-shared');
    expect(upload.source).toBe('run-7-shared-peft.zip');
    expect(upload.files.config).toBe(files.config);
    expect(upload.files.weights.size).toBe(files.weights.size);
  });

  it('reads the two files chosen together, in either order', async () => {
    const files = await peftFiles(await aidreams());
    const upload = await readPeftUpload([named([files.weights], 'adapter_model.safetensors'), named([files.config], 'adapter_config.json')]);
    expect(upload.files.config).toBe(files.config);
    expect(upload.suggestedName).toBe('adapter');
  });

  it('names the file at fault when the choice is not an adapter', async () => {
    await expect(readPeftUpload([named(['{}'], 'adapter_config.json')])).rejects.toThrow(/adapter_config.json: is not a .zip/);
    await expect(readPeftUpload([named(['{}'], 'adapter_config.json'), named(['x'], 'notes.txt')])).rejects.toThrow(/notes.txt: is not part of a PEFT adapter/);
    await expect(readPeftUpload([named(['x'], 'adapter_model.safetensors'), named(['x'], 'adapter_model.safetensors')])).rejects.toThrow(/adapter_model.safetensors: was chosen twice/);
    await expect(readPeftUpload([named(['not a zip'], 'broken.zip')])).rejects.toThrow(/broken.zip is not a readable zip/);
    await expect(readPeftUpload([])).rejects.toThrow(/Choose a PEFT adapter/);
  });
});

describe('checkPeftAdapter', () => {
  it('checks every tensor against the model it is for', async () => {
    const model = await aidreams();
    const summary = await checkPeftAdapter(await peftFiles(model), model);
    expect(summary).toEqual({ r: 4, alpha: 8, targets: ['q_proj', 'v_proj'], baseModel: 'aidreams/aidreams260K', tensors: 2 * 2 * model.numLayers, checkedAgainstModel: true });
  });

  it('refuses an adapter made for another shape of model, naming the weights file and tensor', async () => {
    const model = await aidreams();
    const wider = { ...model, hiddenSize: 128, intermediateSize: 344 };
    const files = await peftFiles(wider as ModelConfig);
    await expect(checkPeftAdapter(files, model)).rejects.toThrow(/adapter_model.safetensors: tensor "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight" has shape \[4, 128\]/);
  });

  it('without the model, still checks the config and that the tensors have rank r', async () => {
    const model = await aidreams();
    const files = await peftFiles(model);
    expect(await checkPeftAdapter(files)).toMatchObject({ r: 4, tensors: 16, checkedAgainstModel: false });

    const wrongRank = { ...files, config: files.config.replace('"r": 4', '"r": 8') };
    await expect(checkPeftAdapter(wrongRank)).rejects.toThrow(/adapter_model.safetensors: tensor ".*lora_A.weight" has shape \[4, 64\]; with r=8/);
    await expect(checkPeftAdapter({ ...files, config: '{"peft_type": "PREFIX_TUNING"}' })).rejects.toThrow(/adapter_config.json: peft_type is "PREFIX_TUNING"/);
    await expect(checkPeftAdapter({ ...files, config: 'nope' })).rejects.toThrow(/adapter_config.json: not valid JSON/);
    const empty = writeSafetensors([{ name: 'x', dtype: 'F32', shape: [1], data: new Uint8Array(4) }], { format: 'pt' });
    await expect(checkPeftAdapter({ ...files, weights: empty })).rejects.toThrow(/adapter_model.safetensors: holds no lora_A or lora_B tensors/);
    await expect(checkPeftAdapter({ ...files, weights: new Blob([new Uint8Array(3)]) })).rejects.toThrow(/adapter_model.safetensors/);
  });
});

describe('importedAdapterKey', () => {
  it('keeps imports apart from runs and never overwrites one', () => {
    expect(importedAdapterKey('my adapter', new Set())).toBe('imported/my adapter');
    expect(importedAdapterKey('a/b', new Set(['imported/a-b', 'imported/a-b-2']))).toBe('imported/a-b-3');
  });
});
