/**
 * From model files to a model ready to run: config, located weights, tokenizer, and the weights on
 * the GPU. The studio's worker and the CLI both load through here.
 */
import type { GpuContext } from '../gpu/device.ts';
import { parseModelConfig, type ModelConfig } from './config.ts';
import { uploadModel, type GpuModel, type LoadOptions } from './gpu-model.ts';
import { prequantizedFormatOf } from './prequantized.ts';
import { missingFile, readJsonFile, type ModelFiles } from './source.ts';
import { loadTokenizer, type TextTokenizer } from './tokenizer.ts';
import { locateWeights } from './weights.ts';

export interface LoadedModel {
  files: ModelFiles;
  config: ModelConfig;
  tokenizer: TextTokenizer;
  gpu: GpuModel;
}

export async function loadModel(ctx: GpuContext, files: ModelFiles, options: LoadOptions = {}): Promise<LoadedModel> {
  if (!files.has('config.json')) throw missingFile(files, 'config.json', 'a model folder in Hugging Face layout starts with it');
  const raw = await readJsonFile(files, 'config.json');
  const prequantized = prequantizedFormatOf(raw, `${files.label}/config.json`);
  const config = parseModelConfig(raw, `${files.label}/config.json`);
  const weights = await locateWeights(files, config, prequantized);
  const tokenizer = await loadTokenizer(files, config);
  const gpu = await uploadModel(ctx, config, weights, options);
  return { files, config, tokenizer, gpu };
}
