import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireTestGpu } from '../../test/gpu.ts';
import { loadFixtureModel } from '../../test/model.ts';
import type { GpuContext } from '../gpu/device.ts';
import { loraLinearReference } from '../gpu/reference/lora_linear.ts';
import { loraTargetsOf, type LoraTarget, type ModelConfig } from '../model/config.ts';
import { uploadModel, type GpuModel } from '../model/gpu-model.ts';
import { sequenceLogits } from '../model/logits.ts';
import { initLoraAdapter, loraScale, type LoraAdapter } from '../model/lora.ts';
import { uploadLora } from '../model/lora-gpu.ts';
import { referenceLogits, type ReferenceWeights } from '../model/reference.ts';
import { relativeError } from '../util/numeric.ts';
import { Random } from '../util/random.ts';
import { answeringAdapter, combineAdapters } from './combine.ts';

let ctx: GpuContext;
let model: GpuModel;
let reference: ReferenceWeights;
beforeAll(async () => {
  ctx = await acquireTestGpu();
  const fixture = await loadFixtureModel();
  reference = fixture.reference;
  model = await uploadModel(ctx, fixture.config, fixture.weights);
});
afterAll(() => {
  model?.destroy();
  ctx?.destroy();
});


/** Every projection the model has (the fixture is a Llama: the seven unfused ones). */
const all = (config: ModelConfig): LoraTarget[] => [...loraTargetsOf(config)];

function trainedLooking(config: ModelConfig, r: number, alpha: number, targets: LoraTarget[], seed: number, rslora = false): LoraAdapter {
  const adapter = initLoraAdapter(config, { r, alpha, dropout: 0, targets, rslora }, seed);
  const random = Random.fromSeed(seed + 100);
  for (const pair of adapter.pairs.values()) random.fillUniform(pair.b, -0.05, 0.05);
  return adapter;
}

describe('top-k soft mixing as one rank-k·r adapter', () => {
  it('gives, at every projection, the weighted sum of the experts’ outputs (Float64), across ranks, scales and target sets', () => {
    const config = model.config;
    const experts = [
      { adapter: trainedLooking(config, 4, 8, all(config), 1), weight: 0.5 },
      { adapter: trainedLooking(config, 2, 16, ['q_proj', 'v_proj'], 2, true), weight: 0.3 },
      { adapter: trainedLooking(config, 4, 4, all(config), 3), weight: 0.2 },
    ];
    const combined = combineAdapters(experts, config.numLayers);
    expect(combined.config).toMatchObject({ r: 10, alpha: 10, rslora: false });
    expect(loraScale(combined.config)).toBe(1);
    const random = Random.fromSeed(7);
    const M = 5;
    for (const [key, pair] of combined.pairs) {
      const { inFeatures: K, outFeatures: N } = pair;
      const x = Float64Array.from(random.fillUniform(new Float32Array(M * K), -1, 1));
      const w = Float64Array.from(random.fillUniform(new Float32Array(N * K), -0.3, 0.3));
      const base = { M, N, K, x, w };
      const mixed = loraLinearReference({ ...base, R: 10, a: pair.a, b: pair.b, scale: 1 });
      const want = new Float64Array(M * N);
      for (const { adapter, weight } of experts) {
        const own = adapter.pairs.get(key);
        const out = own ? loraLinearReference({ ...base, R: adapter.config.r, a: own.a, b: own.b, scale: loraScale(adapter.config) }) : loraLinearReference({ ...base, R: 0, scale: 1 });
        out.forEach((value, i) => (want[i]! += weight * value));
      }
      // B·w·s is stored in f32: a few ulp of the LoRA term, nothing more.
      expect(relativeError(mixed, want), key).toBeLessThan(1e-6);
    }
  });

  it('runs through the fused LoRA kernel as it is: the real model’s logits with the mixture match the Float64 reference', async () => {
    const experts = [
      { adapter: trainedLooking(model.config, 4, 8, all(model.config), 4), weight: 0.7 },
      { adapter: trainedLooking(model.config, 4, 8, all(model.config), 5), weight: 0.3 },
    ];
    const combined = combineAdapters(experts, model.config.numLayers);
    const prompt = [1, 319, 459, 355, 260, 275, 429];
    const lora = uploadLora(ctx, combined, { training: false });
    try {
      const got = await sequenceLogits(ctx, model, prompt, lora);
      expect(relativeError(got, referenceLogits(reference, prompt, { scale: 1, r: 8, pairs: combined.pairs }))).toBeLessThan(1e-4);
    } finally {
      lora.destroy();
    }
  });

  it('mixes "base" (no adapter) as a zero delta: the output is the weighted sum of the experts’ and the base model’s outputs (Float64)', () => {
    const config = model.config;
    const experts = [
      { adapter: trainedLooking(config, 4, 8, all(config), 8), weight: 0.45 },
      { adapter: undefined, weight: 0.35 },
      { adapter: trainedLooking(config, 2, 4, ['q_proj', 'v_proj'], 9), weight: 0.2 },
    ];
    const combined = combineAdapters(experts, config.numLayers);
    // Base adds no rank: 4 + 2.
    expect(combined.config.r).toBe(6);
    const random = Random.fromSeed(11);
    const M = 3;
    for (const [key, pair] of combined.pairs) {
      const { inFeatures: K, outFeatures: N } = pair;
      const x = Float64Array.from(random.fillUniform(new Float32Array(M * K), -1, 1));
      const w = Float64Array.from(random.fillUniform(new Float32Array(N * K), -0.3, 0.3));
      const base = { M, N, K, x, w };
      const mixed = loraLinearReference({ ...base, R: 6, a: pair.a, b: pair.b, scale: 1 });
      const want = new Float64Array(M * N);
      for (const { adapter, weight } of experts) {
        const own = adapter?.pairs.get(key);
        const out = adapter && own ? loraLinearReference({ ...base, R: adapter.config.r, a: own.a, b: own.b, scale: loraScale(adapter.config) }) : loraLinearReference({ ...base, R: 0, scale: 1 });
        out.forEach((value, i) => (want[i]! += weight * value));
      }
      expect(relativeError(mixed, want), key).toBeLessThan(1e-6);
    }
  });

  it('answers a decision for "base" with no adapter, for an expert with its adapter, and for a mixture with base with the combined one', async () => {
    const fpb = trainedLooking(model.config, 4, 8, ['q_proj'], 12);
    const adapterOf = (name: string) => {
      if (name !== 'fpb') throw new Error(`asked for ${name}`);
      return fpb;
    };
    expect(await answeringAdapter({ probabilities: {}, chosen: 'base', fellBack: false }, adapterOf, model.config.numLayers)).toBeUndefined();
    expect(await answeringAdapter({ probabilities: {}, chosen: 'fpb', fellBack: false }, adapterOf, model.config.numLayers)).toBe(fpb);
    const mixed = await answeringAdapter({ probabilities: {}, chosen: 'base', fellBack: false, mixture: [{ expert: 'base', weight: 0.75 }, { expert: 'fpb', weight: 0.25 }] }, adapterOf, model.config.numLayers);
    expect(mixed!.config.r).toBe(4);
    const key = '0.q_proj';
    expect(Array.from(mixed!.pairs.get(key)!.b)).toEqual(Array.from(fpb.pairs.get(key)!.b, (value) => Math.fround(value * 0.25 * 2)));
  });

  it('with one expert at weight 1 is that expert', () => {
    const adapter = trainedLooking(model.config, 4, 8, ['q_proj'], 6);
    const combined = combineAdapters([{ adapter, weight: 1 }], model.config.numLayers);
    const key = '0.q_proj';
    expect(Array.from(combined.pairs.get(key)!.a)).toEqual(Array.from(adapter.pairs.get(key)!.a));
    expect(Array.from(combined.pairs.get(key)!.b)).toEqual(Array.from(adapter.pairs.get(key)!.b, (value) => Math.fround(value * 2)));
  });
});
