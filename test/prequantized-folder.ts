import { readFile } from 'node:fs/promises';
import { LORA_TARGETS, loraTargetsOf, parseModelConfig, projectionFeatures } from '../app/model/config.ts';
import { prequantizedFormatOf } from '../app/model/prequantized.ts';
import { randomModelTensors } from '../app/model/random-model.ts';
import { writeSafetensors } from '../app/model/safetensors.ts';
import { filesFromList } from '../app/model/source.ts';
import { summarizeModel } from '../workers/model-summary.ts';
import type { ModelSummary } from '../workers/protocol.ts';
import { fixturePath } from './fixtures.ts';
import { knownInt4, packAwq, packedTensors, packGptq } from './prequantized.ts';

const MODEL = fixturePath('models/aidreams260K');

/**
 * aidreams260K's shape and tokenizer stored as a GPTQ or AWQ checkpoint (intermediate size 128, so every
 * projection holds whole groups): projections packed as AutoGPTQ/AutoAWQ pack them (test/prequantized.ts),
 * embeddings and norms f16, as such checkpoints ship.
 */
export async function prequantizedFolder(quantization: Record<string, unknown>): Promise<File[]> {
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

/** The Model page's summary of dropped files, as the engine makes it. */
export async function summarizeFolder(files: File[], label: string): Promise<ModelSummary> {
  const sizes = new Map(files.map((f) => [f.name, f.size]));
  return summarizeModel(filesFromList(files, label), { source: `local/${label}`, revision: 'local', label: `local/${label}` }, async (path) => sizes.get(path)!);
}
