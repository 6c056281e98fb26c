import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireTestGpu } from '../../test/gpu.ts';
import { graphStep, type GraphStep } from '../../test/graph-step.ts';
import { finiteDifferenceGradient } from '../../test/numeric.ts';
import { GEMMA3_TINY, randomLora, randomModel, randomTask, type RandomModel } from '../../test/random-model.ts';
import type { GpuContext } from '../gpu/device.ts';
import { drawUniforms } from '../gpu/ops/sampling.ts';
import { sampleTopPReference } from '../gpu/reference/sampling.ts';
import { buildTrainingBatch, IGNORE_INDEX, type HostBatch } from '../train/batch.ts';
import { relativeError } from '../util/numeric.ts';
import { Random } from '../util/random.ts';
import type { LoraTarget } from './config.ts';
import { Generator } from './generate.ts';
import { sequenceLogits } from './logits.ts';
import { loraPairKey, type LoraAdapter } from './lora.ts';
import { uploadLora } from './lora-gpu.ts';
import { referenceLogits, referenceLoss, type ReferenceLora, type ReferenceWeights } from './reference.ts';

/**
 * Gemma's final-logit soft-capping through the whole model (Gemma3ForCausalLM.forward: logits ←
 * cap·tanh(logits / cap) after the LM head) on the tiny Gemma 3, against the Float64 reference. The
 * tiny model's raw logits have a standard deviation of about 2, so a cap of 2 squeezes most of them:
 * the loss, its gradients and the sampling distribution all change with it.
 */
const CAP = 2;
const TARGETS: LoraTarget[] = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

let ctx: GpuContext;
let model: RandomModel;
let adapter: LoraAdapter;
let float64: ReferenceLora;
/** The same weights without the cap, to show each check would fail if the engine ignored it. */
let uncapped: ReferenceWeights;
beforeAll(async () => {
  ctx = await acquireTestGpu();
  model = await randomModel(ctx, { ...GEMMA3_TINY, final_logit_softcapping: CAP }, 'f32', 61);
  ({ adapter, float64 } = randomLora(model.config, TARGETS, { adapter: 62, b: 63 }, 0.2));
  uncapped = { ...model.reference, config: { ...model.config, finalLogitSoftcapping: null } };
}, 120_000);
afterAll(() => {
  model?.gpu.destroy();
  ctx?.destroy();
});

describe('final-logit soft-capping (Gemma 3, cap 2) against the Float64 reference', () => {
  const prompt = [2, 17, 80, 42, 9, 61];

  it('reads the cap from config.json', () => {
    expect(model.config.finalLogitSoftcapping).toBe(CAP);
  });

  it('gives the capped reference logits, all within ±cap', async () => {
    const lora = uploadLora(ctx, adapter, { training: false });
    try {
      const got = await sequenceLogits(ctx, model.gpu, prompt, lora);
      const want = referenceLogits(model.reference, prompt, float64);
      expect(relativeError(got, want)).toBeLessThan(1e-4);
      expect(Math.max(...got.map(Math.abs))).toBeLessThanOrEqual(CAP);
      expect(relativeError(got, referenceLogits(uncapped, prompt, float64)), 'the cap matters at this scale').toBeGreaterThan(0.1);
    } finally {
      lora.destroy();
    }
  });

  it('samples (temperature 1, seeded) the tokens the capped reference distribution gives, step by step through the KV cache', async () => {
    const lora = uploadLora(ctx, adapter, { training: false });
    const generator = new Generator(ctx, model.gpu, { capacity: 16, lora });
    try {
      const seed = 5;
      const { ids } = await generator.generate(prompt, { maxNewTokens: 6, temperature: 1, seed });
      // Generator draws one uniform per token from Random.fromSeed(seed), in order.
      const sample = (weights: ReferenceWeights): number[] => {
        const random = Random.fromSeed(seed);
        const sequence = [...prompt];
        for (let i = 0; i < 6; i++) {
          const last = referenceLogits(weights, sequence, float64).subarray((sequence.length - 1) * model.config.vocabSize);
          sequence.push(sampleTopPReference(last, 1, 1, drawUniforms(random, 1)[0]!));
        }
        return sequence.slice(prompt.length);
      };
      expect(ids).toEqual(sample(model.reference));
      expect(sample(uncapped), 'uncapped sampling would choose other tokens').not.toEqual(ids);
    } finally {
      generator.destroy();
      lora.destroy();
    }
  });
});

describe('LoRA gradients through the soft-capped loss against finite differences of the reference', () => {
  let batch: HostBatch;
  let gpu: GraphStep;
  beforeAll(async () => {
    const task = randomTask('t', model.config.vocabSize, [6, 8], 64);
    batch = buildTrainingBatch(task.train.map((example) => ({ task: 0, example })), 16, false);
    gpu = await graphStep(ctx, model.gpu, adapter, batch);
  }, 120_000);

  const batchLoss = (weights: ReferenceWeights) => (): number => {
    let total = 0;
    for (const span of batch.spans) {
      const from = span.row * batch.T + span.start;
      const targets = Array.from(batch.targets.subarray(from, from + span.length));
      total += referenceLoss(weights, Array.from(batch.ids.subarray(from, from + span.length)), targets, float64) * targets.filter((t) => t !== IGNORE_INDEX).length;
    }
    return total / batch.labelCount;
  };

  it('the GPU loss equals the capped reference loss (and not the uncapped one)', () => {
    const want = batchLoss(model.reference)();
    expect(Math.abs(gpu.loss - want) / want).toBeLessThan(1e-5);
    expect(Math.abs(gpu.loss - batchLoss(uncapped)()) / want).toBeGreaterThan(0.01);
  });

  for (const [layer, target] of [[1, 'v_proj'], [0, 'down_proj']] as const) {
    it(`dA and dB of layer ${layer} ${target} match central finite differences of the capped loss`, () => {
      const key = loraPairKey(layer, target);
      for (const matrix of ['a', 'b'] as const) {
        const values = float64.pairs.get(key)![matrix] as Float64Array;
        const probe = [1, values.length - 3];
        const numeric = finiteDifferenceGradient(batchLoss(model.reference), values, 1e-5, probe);
        const scale = Math.max(...probe.map((i) => Math.abs(numeric[i]!)));
        expect(scale, `${matrix} has a gradient to compare`).toBeGreaterThan(1e-6);
        for (const i of probe) expect(Math.abs(gpu.gradients.get(key)![matrix][i]! - numeric[i]!) / scale, `${matrix}[${i}]`).toBeLessThan(2e-3);
        const uncappedNumeric = finiteDifferenceGradient(batchLoss(uncapped), values, 1e-5, probe);
        expect(Math.max(...probe.map((i) => Math.abs(uncappedNumeric[i]! - numeric[i]!))) / scale, 'the cap changes this gradient').toBeGreaterThan(0.05);
      }
    });
  }
});
