import { readFile } from 'node:fs/promises';
import type { GpuContext } from '../app/gpu/device.ts';
import { parseModelConfig, type ModelConfig } from '../app/model/config.ts';
import { uploadModel, type GpuModel } from '../app/model/gpu-model.ts';
import { filesFromDirectory } from '../app/model/node-source.ts';
import type { ReferenceWeights } from '../app/model/reference.ts';
import { loadTokenizer, type TextTokenizer } from '../app/model/tokenizer.ts';
import { locateWeights, readWeightFloat64, type ModelWeights } from '../app/model/weights.ts';
import { fixturePath } from './fixtures.ts';
import { acquireTestGpu } from './gpu.ts';

/** The real tiny Llama of ../shared/fixtures: its config, located weights and a Float64 copy. */
export async function loadFixtureModel(): Promise<{ config: ModelConfig; weights: ModelWeights; reference: ReferenceWeights; dir: string }> {
  const dir = fixturePath('models/aidreams260K');
  const config = parseModelConfig(JSON.parse(await readFile(`${dir}/config.json`, 'utf8')));
  const weights = await locateWeights(await filesFromDirectory(dir), config);
  const tensors = new Map<string, Float64Array>();
  for (const ref of weights.refs.values()) tensors.set(ref.name, await readWeightFloat64(ref));
  return { config, weights, reference: { config, tensors }, dir };
}

export interface FixtureOnGpu {
  ctx: GpuContext;
  model: GpuModel;
  config: ModelConfig;
  reference: ReferenceWeights;
  tokenizer: TextTokenizer;
  dir: string;
}

/** The fixture model on a test GPU, with its Float64 copy and its tokenizer: a GPU test file's beforeAll. */
export async function fixtureOnGpu(): Promise<FixtureOnGpu> {
  const ctx = await acquireTestGpu();
  const { config, weights, reference, dir } = await loadFixtureModel();
  const model = await uploadModel(ctx, config, weights);
  const tokenizer = await loadTokenizer(await filesFromDirectory(dir), config);
  return { ctx, model, config, reference, tokenizer, dir };
}
