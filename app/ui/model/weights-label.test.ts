import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { fixturePath } from '../../../test/fixtures.ts';
import { knownInt4, packAwq, packedTensors, packGptq } from '../../../test/prequantized.ts';
import { LORA_TARGETS, loraTargetsOf, parseModelConfig, projectionFeatures } from '../../model/config.ts';
import { filesFromDirectory } from '../../model/node-source.ts';
import { prequantizedFormatOf } from '../../model/prequantized.ts';
import { randomModelTensors } from '../../model/random-model.ts';
import { writeSafetensors } from '../../model/safetensors.ts';
import { filesFromList } from '../../model/source.ts';
import { weightsLabel } from './weights-label.ts';
import { summarizeModel } from '../../../workers/model-summary.ts';

const MODEL = fixturePath('models/aidreams260K');

/**
 * aidreams260K's shape and tokenizer stored as a GPTQ or AWQ checkpoint (intermediate size 128, so every
 * projection holds whole groups): projections packed as AutoGPTQ/AutoAWQ pack them (test/prequantized.ts),
 * embeddings and norms f16, as such checkpoints ship.
 */
async function prequantizedFolder(quantization: Record<string, unknown>): Promise<File[]> {
  const raw = { ...(JSON.parse(await readFile(`${MODEL}/config.json`, 'utf8')) as object), intermediate_size: 128, torch_dtype: 'float16', quantization_config: quantization };
  const config = parseModelConfig(raw);
  const format = prequantizedFormatOf(raw, 'config.json')!;
  let seed = 5;
  const tensors = randomModelTensors(config, { dtype: 'f16', seed }).flatMap((tensor) => {
    const match = /^model\.layers\.\d+\.(.+)\.weight$/.exec(tensor.name);
    const target = loraTargetsOf(config).find((t) => match && LORA_TARGETS[t] === match[1]);
    if (!target) return [tensor];
    const { inFeatures: K, outFeatures: N } = projectionFeatures(config, target);
    const known = knownInt4(N, K, format.group, seed++, { symmetric: format.symmetric, scale: 0.03 });
    return packedTensors(tensor.name.replace(/\.weight$/, ''), format.method, known, format.method === 'gptq' ? packGptq(known, { v1: true }) : packAwq(known));
  });
  const file = async (name: string) => new File([await readFile(`${MODEL}/${name}`)], name);
  return [
    new File([JSON.stringify(raw)], 'config.json'),
    new File([writeSafetensors(tensors, { format: 'pt' })], 'model.safetensors'),
    await file('tokenizer.json'),
    await file('tokenizer_config.json'),
  ];
}

const summarize = async (files: File[], label: string) => {
  const sizes = new Map(files.map((f) => [f.name, f.size]));
  return summarizeModel(filesFromList(files, label), { source: `local/${label}`, revision: 'local', label: `local/${label}` }, async (path) => sizes.get(path)!);
};

describe('the model card of a pre-quantized checkpoint', () => {
  it('says int4 with the method and group of a GPTQ checkpoint, not the f16 of its tables', async () => {
    const summary = await summarize(await prequantizedFolder({ quant_method: 'gptq', bits: 4, group_size: 32, desc_act: false, sym: true }), 'gptq');
    expect(summary.weightDtype).toBe('f16');
    expect(summary.prequantized).toEqual({ method: 'gptq', group: 32, symmetric: true });
    expect(weightsLabel(summary)).toBe('int4 (GPTQ, group 32, symmetric); embeddings and norms f16');
  });

  it('says int4 with the method and group of an AWQ checkpoint (zero points, so not symmetric)', async () => {
    const summary = await summarize(await prequantizedFolder({ quant_method: 'awq', bits: 4, group_size: 64, version: 'gemm', zero_point: true }), 'awq');
    expect(summary.prequantized).toEqual({ method: 'awq', group: 64, symmetric: false });
    expect(weightsLabel(summary)).toBe('int4 (AWQ, group 64); embeddings and norms f16');
  });

  it('says the stored dtype of a model that is not pre-quantized', async () => {
    const files = await filesFromDirectory(MODEL);
    const summary = await summarizeModel(files, { source: 'local/tiny', revision: 'local', label: 'local/tiny' }, async () => 0);
    expect(summary.prequantized).toBeUndefined();
    expect(weightsLabel(summary)).toBe('f32');
  });
});
