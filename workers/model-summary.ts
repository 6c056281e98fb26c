/**
 * What the Model page shows about a model, read from its files without the GPU: the config's facts,
 * the weights' dtype from the safetensors headers, the files and their sizes, and whether it has a chat
 * template and an ONNX export. Reading it also checks the model is loadable: config, tokenizer and
 * every weight against the config, each failure naming the file and the tensor.
 */
import { CocktailError } from '../app/errors.ts';
import { parameterCount, parseModelConfig } from '../app/model/config.ts';
import { prequantizedFormatOf } from '../app/model/prequantized.ts';
import { missingFile, readJsonFile, type ModelFiles } from '../app/model/source.ts';
import { loadTokenizer } from '../app/model/tokenizer.ts';
import { locateWeights } from '../app/model/weights.ts';
import { ONNX_EXPORT } from './model-files.ts';
import type { ModelRef, ModelSummary } from './protocol.ts';

export async function summarizeModel(files: ModelFiles, ref: ModelRef & { label: string }, sizeOf: (path: string) => Promise<number>): Promise<ModelSummary> {
  if (!files.has('config.json')) throw missingFile(files, 'config.json', 'a model folder in Hugging Face layout starts with it');
  const raw = await readJsonFile(files, 'config.json');
  // A GPTQ/AWQ checkpoint's packed projections are located as such; an unsupported quantization_config is refused by its key.
  const prequantized = prequantizedFormatOf(raw, `${files.label}/config.json`);
  const config = parseModelConfig(raw, `${files.label}/config.json`);
  const tokenizer = await loadTokenizer(files, config);
  const weights = await locateWeights(files, config, prequantized);
  const paths = files.list();
  const sizes = await Promise.all(paths.map(sizeOf));
  const fileList = paths.map((path, index) => ({ path, bytes: sizes[index]! }));
  return {
    source: ref.source,
    revision: ref.revision,
    label: ref.label,
    architecture: config.architecture,
    layers: config.numLayers,
    hiddenSize: config.hiddenSize,
    heads: config.numHeads,
    kvHeads: config.numKvHeads,
    vocabSize: config.vocabSize,
    maxPositions: config.maxPositionEmbeddings,
    parameters: parameterCount(config),
    weightDtype: weights.dtype.toLowerCase(),
    ...(prequantized ? { prequantized: { method: prequantized.method, group: prequantized.group, symmetric: prequantized.symmetric } } : {}),
    files: fileList,
    totalBytes: sizes.reduce((sum, size) => sum + size, 0),
    hasChatTemplate: tokenizer.hasChatTemplate,
    hasOnnx: files.has(ONNX_EXPORT),
  };
}

/** A size lookup that fails loudly rather than reporting 0 for a file the listing promised. */
export function requireSize(label: string, lookup: (path: string) => Promise<number | undefined>): (path: string) => Promise<number> {
  return async (path) => {
    const size = await lookup(path);
    if (size === undefined) throw new CocktailError('HUB_NOT_CACHED', `${label}: ${path} is not fully in storage; load the model again`, { file: path });
    return size;
  };
}
