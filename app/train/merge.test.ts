import { describe, expect, it } from 'vitest';
import { loadFixtureModel } from '../../test/model.ts';
import { relativeError } from '../util/numeric.ts';
import { initLoraAdapter, loraScale } from '../model/lora.ts';
import { referenceLogits } from '../model/reference.ts';
import { readSafetensorsHeader } from '../model/safetensors.ts';
import { locateWeights, readWeightFloat64 } from '../model/weights.ts';
import { Random } from '../util/random.ts';
import { mergeAdapter } from './merge.ts';

describe('merged model export', () => {
  it('gives the logits of base + LoRA with no adapter at all', async () => {
    const { config, weights, reference } = await loadFixtureModel();
    const adapter = initLoraAdapter(config, { r: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'o_proj', 'up_proj'], rslora: false }, 3);
    const random = Random.fromSeed(4);
    for (const pair of adapter.pairs.values()) random.fillUniform(pair.b, -0.05, 0.05);
    const merged = await mergeAdapter(config, weights, adapter);
    const file = await readSafetensorsHeader(merged, 'model.safetensors');
    const mergedWeights = await locateWeights({ label: 'merged', has: (p) => p === 'model.safetensors', open: async () => merged, list: () => ['model.safetensors'] }, config);
    const tensors = new Map<string, Float64Array>();
    for (const ref of mergedWeights.refs.values()) tensors.set(ref.name, await readWeightFloat64(ref));
    const ids = [1, 319, 459, 355, 260, 275, 429];
    const want = referenceLogits(reference, ids, { scale: loraScale(adapter.config), r: 4, pairs: adapter.pairs });
    expect(relativeError(referenceLogits({ config, tensors }, ids), want)).toBeLessThan(1e-5);
    expect(file.tensors.size).toBe(weights.refs.size);
    expect(relativeError(referenceLogits({ config, tensors }, ids), referenceLogits(reference, ids))).toBeGreaterThan(1e-3);
  });
});
