import { readFile } from 'node:fs/promises';
import { LORA_TARGETS, loraTargetsOf, parseModelConfig, projectionFeatures } from '../app/model/config.ts';
import { prequantizedFormatOf } from '../app/model/prequantized.ts';
import { randomModelTensors } from '../app/model/random-model.ts';
import type { ReferenceWeights } from '../app/model/reference.ts';
import { writeSafetensors } from '../app/model/safetensors.ts';
import { filesFromList } from '../app/model/source.ts';
import { locateWeights, readWeightFloat64 } from '../app/model/weights.ts';
import { summarizeModel } from '../workers/model-summary.ts';
import type { ModelSummary } from '../workers/protocol.ts';
import { fixturePath } from './fixtures.ts';
import { dequantizedKnown, knownInt4, packAwq, packedTensors, packGptq } from './prequantized.ts';

const MODEL = fixturePath('models/aidreams260K');

/**
 * aidreams260K's shape and tokenizer stored as a GPTQ or AWQ checkpoint (intermediate size 128, so every
 * projection holds whole groups): projections packed as AutoGPTQ/AutoAWQ pack them (test/prequantized.ts),
 * embeddings and norms f16, as such checkpoints ship.
 */
export async function prequantizedFolder(quantization: Record<string, unknown>): Promise<File[]> {
  return (await prequantizedCheckpoint(quantization)).files;
}

/**
 * The same checkpoint with its Float64 reference weights: every projection dequantized from its known
 * codes, zero points and scales (scale · (code − zero)), every other tensor as stored, for referenceLogits.
 */
export async function prequantizedFolderWithReference(quantization: Record<string, unknown>): Promise<{ files: File[]; reference: ReferenceWeights }> {
  const { files, config, format, dequantized } = await prequantizedCheckpoint(quantization);
  const weights = await locateWeights(filesFromList(files, 'reference'), config, format);
  const tensors = new Map(dequantized);
  for (const ref of weights.refs.values()) tensors.set(ref.name, await readWeightFloat64(ref));
  return { files, reference: { config, tensors } };
}

async function prequantizedCheckpoint(quantization: Record<string, unknown>) {
  const raw = { ...(JSON.parse(await readFile(`${MODEL}/config.json`, 'utf8')) as object), intermediate_size: 128, torch_dtype: 'float16', quantization_config: quantization };
  const config = parseModelConfig(raw);
  const format = prequantizedFormatOf(raw, 'config.json')!;
  const dequantized = new Map<string, Float64Array>();
  let seed = 5;
  const tensors = randomModelTensors(config, { dtype: 'f16', seed }).flatMap((tensor) => {
    const match = /^model\.layers\.\d+\.(.+)\.weight$/.exec(tensor.name);
    const target = loraTargetsOf(config).find((t) => match && LORA_TARGETS[t] === match[1]);
    if (!target) return [tensor];
    const { inFeatures: K, outFeatures: N } = projectionFeatures(config, target);
    const known = knownInt4(N, K, format.group, seed++, { symmetric: format.symmetric, scale: 0.03 });
    dequantized.set(tensor.name, dequantizedKnown(known));
    return packedTensors(tensor.name.replace(/\.weight$/, ''), format.method, known, format.method === 'gptq' ? packGptq(known, { v1: true }) : packAwq(known));
  });
  const file = async (name: string) => new File([await readFile(`${MODEL}/${name}`)], name);
  const files = [
    new File([JSON.stringify(raw)], 'config.json'),
    new File([writeSafetensors(tensors, { format: 'pt' })], 'model.safetensors'),
    await file('tokenizer.json'),
    await file('tokenizer_config.json'),
  ];
  return { files, config, format, dequantized };
}

/** The Model page's summary of dropped files, as the engine makes it. */
export async function summarizeFolder(files: File[], label: string): Promise<ModelSummary> {
  const sizes = new Map(files.map((f) => [f.name, f.size]));
  return summarizeModel(filesFromList(files, label), { source: `local/${label}`, revision: 'local', label: `local/${label}` }, async (path) => sizes.get(path)!);
}
