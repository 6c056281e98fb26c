import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireTestGpu } from '../../test/gpu.ts';
import { graphStep, type GraphStep } from '../../test/graph-step.ts';
import { finiteDifferenceGradient } from '../../test/numeric.ts';
import { QWEN2_TINY, randomModel, randomTask, randomLora, type RandomModel } from '../../test/random-model.ts';
import type { GpuContext } from '../gpu/device.ts';
import { buildTrainingBatch, IGNORE_INDEX, type HostBatch } from '../train/batch.ts';
import type { LoraTarget } from './config.ts';
import { loraPairKey, type LoraAdapter } from './lora.ts';
import { referenceLoss, type ReferenceLora } from './reference.ts';

/**
 * The whole model's LoRA gradients where users meet them: a random Qwen2-shaped model with grouped-
 * query attention (4 heads, 2 KV heads), q/k/v biases, an untied LM head and bf16 weights, a batch of
 * two sequences of different lengths (so one row is padded), against central finite differences of
 * the Float64 reference on the same bf16 values.
 */
let ctx: GpuContext;
let model: RandomModel;
let adapter: LoraAdapter;
let float64: ReferenceLora;
let batch: HostBatch;
let gpu: GraphStep;
const TARGETS: LoraTarget[] = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

beforeAll(async () => {
  ctx = await acquireTestGpu();
  model = await randomModel(ctx, QWEN2_TINY, 'bf16', 3);
  expect(model.config).toMatchObject({ numHeads: 4, numKvHeads: 2, qkvBias: true, tieWordEmbeddings: false });
  ({ adapter, float64 } = randomLora(model.config, TARGETS, { adapter: 5, b: 6 }, 0.3));
  const task = randomTask('t', model.config.vocabSize, [6, 9], 8);
  batch = buildTrainingBatch(task.train.map((example) => ({ task: 0, example })), 32, false);
  gpu = await graphStep(ctx, model.gpu, adapter, batch);
}, 120_000);
afterAll(() => {
  model?.gpu.destroy();
  ctx?.destroy();
});

/** The batch's loss from the Float64 reference: each sequence's summed cross-entropy over all labels. */
function referenceBatchLoss(lora: ReferenceLora): number {
  let total = 0;
  for (const span of batch.spans) {
    const from = span.row * batch.T + span.start;
    const ids = Array.from(batch.ids.subarray(from, from + span.length));
    const targets = Array.from(batch.targets.subarray(from, from + span.length));
    total += referenceLoss(model.reference, ids, targets, lora) * targets.filter((target) => target !== IGNORE_INDEX).length;
  }
  return total / batch.labelCount;
}

describe('whole-model LoRA gradients: GQA, Qwen2 biases, untied head, bf16 weights, batch 2 with padding', () => {
  it('pads the shorter sequence and counts only real labels', () => {
    expect([batch.B, batch.T]).toEqual([2, 9]);
    expect(Array.from(batch.segments.subarray(0, 9))).toEqual([1, 1, 1, 1, 1, 1, 0, 0, 0]);
    expect(gpu.labelCount).toBe(5 + 8);
  });

  it('the GPU loss equals the Float64 reference loss', () => {
    const want = referenceBatchLoss(float64);
    expect(Math.abs(gpu.loss - want) / want).toBeLessThan(1e-5);
  });

  for (const [layer, target] of [[0, 'q_proj'], [1, 'k_proj'], [0, 'v_proj'], [1, 'o_proj'], [0, 'gate_proj'], [1, 'up_proj'], [0, 'down_proj']] as const) {
    it(`dA and dB of layer ${layer} ${target} match central finite differences of the reference`, () => {
      const key = loraPairKey(layer, target);
      for (const matrix of ['a', 'b'] as const) {
        const values = float64.pairs.get(key)![matrix] as Float64Array;
        const probe = [0, 5, values.length - 1];
        const numeric = finiteDifferenceGradient(() => referenceBatchLoss(float64), values, 1e-5, probe);
        const scale = Math.max(...probe.map((i) => Math.abs(numeric[i]!)));
        expect(scale, `${matrix} has a gradient to compare`).toBeGreaterThan(1e-6);
        for (const i of probe) expect(Math.abs(gpu.gradients.get(key)![matrix][i]! - numeric[i]!) / scale, `${matrix}[${i}]`).toBeLessThan(2e-3);
      }
    });
  }
});
