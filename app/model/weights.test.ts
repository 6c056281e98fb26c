import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixturePath } from '../../test/fixtures.ts';
import { parseModelConfig } from './config.ts';
import { filesFromDirectory } from './node-source.ts';
import { readSafetensorsHeader } from './safetensors.ts';
import { locateWeights, readWeightFloat64, readWeightRangeBytes, readWeightRangeFloat32 } from './weights.ts';

const dir = () => fixturePath('models/aidreams260K');
const rawConfig = async () => JSON.parse(await readFile(`${dir()}/config.json`, 'utf8')) as Record<string, unknown>;

describe('locating a model’s weights', () => {
  it('finds all 38 weights of aidreams260K, in F32', async () => {
    const weights = await locateWeights(await filesFromDirectory(dir()), parseModelConfig(await rawConfig()));
    expect(weights.refs.size).toBe(38);
    expect(weights.dtype).toBe('F32');
  });

  it('names the tensor and the files when the config implies a weight that is not there', async () => {
    const config = parseModelConfig({ ...(await rawConfig()), num_hidden_layers: 5 });
    await expect(locateWeights(await filesFromDirectory(dir()), config)).rejects.toThrow(/tensor "model\.layers\.4\.input_layernorm\.weight" \[64\] that config\.json implies is not in model\.safetensors/);
  });

  it('names the tensor and both shapes when a weight does not match the config', async () => {
    const config = parseModelConfig({ ...(await rawConfig()), intermediate_size: 128 });
    await expect(locateWeights(await filesFromDirectory(dir()), config)).rejects.toThrow(/model\.safetensors: tensor "model\.layers\.0\.mlp\.gate_proj\.weight" has shape \[172, 64\] but config\.json implies \[128, 64\]/);
  });

  it('asks for lm_head.weight when the embeddings are not tied', async () => {
    const config = parseModelConfig({ ...(await rawConfig()), tie_word_embeddings: false });
    await expect(locateWeights(await filesFromDirectory(dir()), config)).rejects.toThrow(/"lm_head\.weight"/);
  });

  it('says when a folder has no safetensors', async () => {
    await expect(locateWeights(await filesFromDirectory(fixturePath('configs')), parseModelConfig(await rawConfig()))).rejects.toThrow(/model\.safetensors is missing/);
  });

  it('reads a range of a weight on its own, equal to that range of the whole weight', async () => {
    const weights = await locateWeights(await filesFromDirectory(dir()), parseModelConfig(await rawConfig()));
    const embedding = weights.refs.get('model.embed_tokens.weight')!;
    const whole = await readWeightFloat64(embedding);
    // Rows 100..299 of the [512, 64] table, as a vocabulary part is read.
    const range = await readWeightRangeFloat32(embedding, 100 * 64, 200 * 64);
    expect(Array.from(range)).toEqual(Array.from(whole.subarray(100 * 64, 300 * 64)));
    expect((await readWeightRangeBytes(embedding, 0, whole.length)).byteLength).toBe(whole.length * 4);
    expect(await readWeightRangeBytes(embedding, 64, 2)).toEqual(new Uint8Array(new Float32Array([whole[64]!, whole[65]!]).buffer));
  });

  it('names a broken safetensors file by its full path when the folder was given relative to the current one', async () => {
    const copy = await mkdtemp(join(tmpdir(), 'cocktail-weights-'));
    try {
      await cp(dir(), copy, { recursive: true });
      const path = join(copy, 'model.safetensors');
      const bytes = new Uint8Array(await readFile(path));
      await writeFile(path, bytes.subarray(0, bytes.byteLength - 10));
      const given = relative(process.cwd(), copy);
      expect(given.startsWith('/')).toBe(false);
      await expect(locateWeights(await filesFromDirectory(given), parseModelConfig(await rawConfig()))).rejects.toMatchObject({
        code: 'SAFETENSORS_INVALID',
        message: expect.stringMatching(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `)),
        details: { file: path },
      });
    } finally {
      await rm(copy, { recursive: true });
    }
  });

  it('refuses NaN and Inf in a weight when it is read, naming the file’s full path, the tensor and the element', async () => {
    const copy = await mkdtemp(join(tmpdir(), 'cocktail-weights-'));
    try {
      await cp(dir(), copy, { recursive: true });
      const path = join(copy, 'model.safetensors');
      const bytes = new Uint8Array(await readFile(path));
      const header = await readSafetensorsHeader(new Blob([bytes]), path);
      const view = new DataView(bytes.buffer);
      const at = (name: string, element: number) => header.dataStart + header.tensors.get(name)!.begin + 4 * element;
      view.setFloat32(at('model.layers.1.self_attn.k_proj.weight', 70), Number.NaN, true);
      view.setFloat32(at('model.norm.weight', 3), Number.NEGATIVE_INFINITY, true);
      await writeFile(path, bytes);
      const weights = await locateWeights(await filesFromDirectory(copy), parseModelConfig(await rawConfig()));
      await expect(readWeightRangeBytes(weights.refs.get('model.layers.1.self_attn.k_proj.weight')!, 64, 64)).rejects.toMatchObject({
        code: 'MODEL_WEIGHT_NONFINITE',
        message: expect.stringContaining(`${path}: tensor "model.layers.1.self_attn.k_proj.weight" holds NaN at element 70`),
        details: { tensor: 'model.layers.1.self_attn.k_proj.weight', element: 70 },
      });
      await expect(readWeightFloat64(weights.refs.get('model.norm.weight')!)).rejects.toThrow(/tensor "model\.norm\.weight" holds -Infinity at element 3/);
      // The rows around the bad value read as before.
      expect((await readWeightRangeFloat32(weights.refs.get('model.layers.1.self_attn.k_proj.weight')!, 0, 64)).every(Number.isFinite)).toBe(true);
    } finally {
      await rm(copy, { recursive: true });
    }
  });
});
