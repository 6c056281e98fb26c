import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireTestGpu } from '../../test/gpu.ts';
import { graphStep, type GraphStep } from '../../test/graph-step.ts';
import { finiteDifferenceGradient } from '../../test/numeric.ts';
import { LLAMA_TINY, PHI3_TINY, randomLora, randomModel, randomTask, type RandomModel } from '../../test/random-model.ts';
import type { GpuContext } from '../gpu/device.ts';
import { buildTrainingBatch, IGNORE_INDEX, type HostBatch } from '../train/batch.ts';
import { relativeError } from '../util/numeric.ts';
import { attentionWindowOf, loraTargetsOf, loraTargetsOfArchitecture } from './config.ts';
import { Generator } from './generate.ts';
import { sequenceLogits } from './logits.ts';
import { loraPairKey, type LoraAdapter } from './lora.ts';
import { uploadLora } from './lora-gpu.ts';
import { referenceLogits, referenceLoss, type ReferenceLora } from './reference.ts';

/**
 * Sliding-window attention computed, not refused: Mistral and Phi-3 window every layer (here a window
 * of 4 positions, the current one included, on tiny configs: GQA, and Phi-3's fused projections and
 * partial rotary), at positions well past the window, against the Float64 reference (which masks as
 * transformers does: key k is visible to query q when q − window < k <= q). Gemma 3's sliding layers
 * are tested on its published config in gemma3.gpu.test.ts.
 */
const WINDOW = 4;
const ARCHITECTURES = [
  { name: 'Mistral', raw: { ...LLAMA_TINY, architectures: ['MistralForCausalLM'], num_key_value_heads: 2, sliding_window: WINDOW } },
  { name: 'Phi-3', raw: { ...PHI3_TINY, rope_scaling: null, sliding_window: WINDOW } },
];

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await acquireTestGpu();
});
afterAll(() => ctx?.destroy());

for (const { name, raw } of ARCHITECTURES) {
  describe(`${name}'s sliding window of ${WINDOW} positions`, () => {
    let model: RandomModel;
    let adapter: LoraAdapter;
    let float64: ReferenceLora;
    const prompt = [3, 17, 41, 8, 29, 60, 11, 5, 77, 23, 14];
    beforeAll(async () => {
      model = await randomModel(ctx, raw, 'f32', 61, { initializerRange: 0.2 });
      ({ adapter, float64 } = randomLora(model.config, [...loraTargetsOf(model.config)], { adapter: 62, b: 63 }, 0.05));
    }, 120_000);
    afterAll(() => model?.gpu.destroy());

    it('windows every layer', () => {
      expect(model.config.slidingWindow).toBe(WINDOW);
      expect(Array.from({ length: model.config.numLayers }, (_, layer) => attentionWindowOf(model.config, layer))).toEqual([WINDOW, WINDOW]);
    });

    it(`gives the reference logits at ${prompt.length} positions, where the window hides most of the prefix`, async () => {
      const want = referenceLogits(model.reference, prompt, float64);
      // The window matters here: without it the reference gives other logits.
      const unwindowed = referenceLogits({ ...model.reference, config: { ...model.config, slidingWindow: null } }, prompt, float64);
      expect(relativeError(unwindowed, want)).toBeGreaterThan(1e-3);
      const lora = uploadLora(ctx, adapter, { training: false });
      try {
        expect(relativeError(await sequenceLogits(ctx, model.gpu, prompt, lora), want)).toBeLessThan(1e-4);
      } finally {
        lora.destroy();
      }
    });

    it('decodes greedily with a KV cache longer than the window the tokens full forwards of the reference choose', async () => {
      const lora = uploadLora(ctx, adapter, { training: false });
      const generator = new Generator(ctx, model.gpu, { capacity: 24, lora });
      const start = prompt.slice(0, 5);
      try {
        const { ids } = await generator.generate(start, { maxNewTokens: 12 });
        const sequence = [...start];
        const V = model.config.vocabSize;
        for (let i = 0; i < 12; i++) {
          const last = referenceLogits(model.reference, sequence, float64).subarray((sequence.length - 1) * V);
          sequence.push(last.indexOf(Math.max(...last)));
        }
        expect(ids).toEqual(sequence.slice(start.length));
      } finally {
        generator.destroy();
        lora.destroy();
      }
    });

    describe('LoRA gradients through the windowed layers against finite differences of the reference', () => {
      let batch: HostBatch;
      let gpu: GraphStep;
      beforeAll(async () => {
        // Two examples of 9 and 12 tokens packed into one row: the window applies inside each.
        const task = randomTask('t', model.config.vocabSize, [9, 12], 64);
        batch = buildTrainingBatch(task.train.map((example) => ({ task: 0, example })), 32, true);
        gpu = await graphStep(ctx, model.gpu, adapter, batch);
      }, 120_000);

      const referenceBatchLoss = (): number => {
        let total = 0;
        for (const span of batch.spans) {
          const from = span.row * batch.T + span.start;
          const targets = Array.from(batch.targets.subarray(from, from + span.length));
          total += referenceLoss(model.reference, Array.from(batch.ids.subarray(from, from + span.length)), targets, float64) * targets.filter((t) => t !== IGNORE_INDEX).length;
        }
        return total / batch.labelCount;
      };

      it('the GPU loss equals the reference loss', () => {
        expect(Math.abs(gpu.loss - referenceBatchLoss()) / referenceBatchLoss()).toBeLessThan(1e-5);
      });

      // The query side (q or the fused qkv) of the first layer and the value side of the second.
      for (const [layer, target] of [[0, loraTargetsOfArchitecture(raw.architectures[0]!)[0]!], [1, 'o_proj']] as const) {
        it(`dA and dB of layer ${layer} ${target} match central finite differences`, () => {
          const key = loraPairKey(layer, target);
          for (const matrix of ['a', 'b'] as const) {
            const values = float64.pairs.get(key)![matrix] as Float64Array;
            const probe = [2, values.length - 3];
            const numeric = finiteDifferenceGradient(referenceBatchLoss, values, 1e-5, probe);
            const scale = Math.max(...probe.map((i) => Math.abs(numeric[i]!)));
            expect(scale, `${matrix} has a gradient to compare`).toBeGreaterThan(1e-7);
            for (const i of probe) expect(Math.abs(gpu.gradients.get(key)![matrix][i]! - numeric[i]!) / scale, `${matrix}[${i}]`).toBeLessThan(2e-3);
          }
        });
      }
    });
  });
}
