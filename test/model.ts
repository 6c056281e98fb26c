import { readFile } from 'node:fs/promises';
import { parseModelConfig, type ModelConfig } from '../app/model/config.ts';
import { filesFromDirectory } from '../app/model/node-source.ts';
import type { ReferenceWeights } from '../app/model/reference.ts';
import { locateWeights, readWeightFloat64, type ModelWeights } from '../app/model/weights.ts';
import { fixturePath } from './fixtures.ts';

/** The real tiny Llama of ../shared/fixtures: its config, located weights and a Float64 copy. */
export async function loadFixtureModel(): Promise<{ config: ModelConfig; weights: ModelWeights; reference: ReferenceWeights; dir: string }> {
  const dir = fixturePath('models/aidreams260K');
  const config = parseModelConfig(JSON.parse(await readFile(`${dir}/config.json`, 'utf8')));
  const weights = await locateWeights(await filesFromDirectory(dir), config);
  const tensors = new Map<string, Float64Array>();
  for (const ref of weights.refs.values()) tensors.set(ref.name, await readWeightFloat64(ref));
  return { config, weights, reference: { config, tensors }, dir };
}
