import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireTestGpu } from '../../test/gpu.ts';
import { dequantizedKnown, knownInt4, packAwq, packedTensors, packGptq, type KnownInt4 } from '../../test/prequantized.ts';
import { LLAMA_TINY, randomLora } from '../../test/random-model.ts';
import type { GpuContext } from '../gpu/device.ts';
import { relativeError } from '../util/numeric.ts';
import { LORA_TARGETS, loraTargetsOf, parseModelConfig, projectionFeatures } from './config.ts';
import { uploadModel } from './gpu-model.ts';
import { sequenceLogits } from './logits.ts';
import { uploadLora } from './lora-gpu.ts';
import { prequantizedFormatOf } from './prequantized.ts';
import { randomModelTensors } from './random-model.ts';
import { referenceLogits } from './reference.ts';
import { writeSafetensors } from './safetensors.ts';
import type { ModelFiles } from './source.ts';
import { locateWeights, readWeightFloat64 } from './weights.ts';

/**
 * A tiny Llama stored as a GPTQ or AWQ int4 checkpoint, written in the test from known codes, zero points
 * and scales (test/prequantized.ts packs them as AutoGPTQ and AutoAWQ do), loaded through config.json's
 * quantization_config onto the engine's int4 layout, and run: its logits, with a LoRA on top, equal the
 * Float64 forward of the dequantized weights scale · (code − zero) computed from the known values.
 */
const RAW = { ...LLAMA_TINY, intermediate_size: 64, torch_dtype: 'float16' };

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await acquireTestGpu();
});
afterAll(() => ctx?.destroy());

async function checkpoint(quantization: Record<string, unknown>, pack: (known: KnownInt4) => ReturnType<typeof packAwq> & { gIdx?: Int32Array }, seed: number) {
  const raw = { ...RAW, quantization_config: quantization };
  const config = parseModelConfig(raw);
  const format = prequantizedFormatOf(raw, 'config.json')!;
  const reference = new Map<string, Float64Array>();
  const projections = new Set<string>();
  const tensors = randomModelTensors(config, { dtype: 'f16', seed, initializerRange: 0.2 }).flatMap((tensor) => {
    const match = /^model\.layers\.(\d+)\.(.+)\.weight$/.exec(tensor.name);
    const target = loraTargetsOf(config).find((t) => match && LORA_TARGETS[t] === match[2]);
    if (!target) return [tensor];
    const { inFeatures: K, outFeatures: N } = projectionFeatures(config, target);
    const known = knownInt4(N, K, format.group, seed + projections.size, { symmetric: format.symmetric, scale: 0.03 });
    projections.add(tensor.name);
    reference.set(tensor.name, dequantizedKnown(known));
    return packedTensors(tensor.name.replace(/\.weight$/, ''), format.method, known, pack(known));
  });
  const blob = writeSafetensors(tensors, { format: 'pt' });
  const files: ModelFiles = { label: `${format.method} model`, has: (path) => path === 'model.safetensors', open: async () => blob, list: () => ['model.safetensors'] };
  const weights = await locateWeights(files, config, format);
  for (const ref of weights.refs.values()) reference.set(ref.name, await readWeightFloat64(ref));
  return { config, weights, projections, reference: { config, tensors: reference } };
}

describe('pre-quantized int4 checkpoints against the Float64 forward of their dequantized weights', () => {
  const ids = [1, 17, 42, 5, 79, 33];
  for (const [what, quantization, pack] of [
    ['GPTQ v1, symmetric, group 32', { quant_method: 'gptq', bits: 4, group_size: 32, desc_act: false, sym: true }, (known: KnownInt4) => packGptq(known, { v1: true })],
    ['GPTQ v1, asymmetric, group 32', { quant_method: 'gptq', bits: 4, group_size: 32, desc_act: false, sym: false }, (known: KnownInt4) => packGptq(known, { v1: true })],
    ['AWQ GEMM, group 32', { quant_method: 'awq', bits: 4, group_size: 32, version: 'gemm', zero_point: true }, packAwq],
  ] as const) {
    it(`${what}: every projection int4 on the GPU, logits with LoRA equal the reference`, async () => {
      const { config, weights, projections, reference } = await checkpoint(quantization, pack, 71);
      expect([...weights.prequantized!.packed.keys()].sort()).toEqual([...projections].sort());
      const model = await uploadModel(ctx, config, weights);
      const { adapter, float64 } = randomLora(config, ['q_proj', 'v_proj', 'down_proj'], { adapter: 72, b: 73 }, 0.1);
      const lora = uploadLora(ctx, adapter, { training: false });
      try {
        expect(model.format.spec).toMatchObject({ dtype: 'int4', group: 32 });
        for (const layer of model.layers) for (const projection of Object.values(layer.projections)) expect(projection.weight.dtype).toBe('int4');
        expect(model.embedding[0]!.dtype).toBe('f16');
        const got = await sequenceLogits(ctx, model, ids, lora);
        expect(relativeError(got, referenceLogits(reference, ids, float64))).toBeLessThan(1e-4);
      } finally {
        lora.destroy();
        model.destroy();
      }
    });
  }

  it('refuses to load the checkpoint as anything but int4 in its own groups', async () => {
    const { config, weights } = await checkpoint({ quant_method: 'gptq', bits: 4, group_size: 32, sym: true }, (known) => packGptq(known, { v1: true }), 74);
    await expect(uploadModel(ctx, config, weights, { dtype: 'bf16' })).rejects.toThrow(/dtype "bf16" was asked of a gptq int4 checkpoint/);
    await expect(uploadModel(ctx, config, weights, { dtype: 'int4', int4: { group: 64, symmetric: false } })).rejects.toThrow(/group size 64 was asked of a gptq checkpoint quantized in groups of 32/);
  });
});
