import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireTestGpu } from '../../test/gpu.ts';
import { loadFixtureModel } from '../../test/model.ts';
import { finiteDifferenceGradient } from '../../test/numeric.ts';
import type { GpuContext } from '../gpu/device.ts';
import { crossEntropyChunkRows, encodeCrossEntropy, readCrossEntropyStats } from '../gpu/ops/cross_entropy.ts';
import { createIndexTensor, createTensor, readTensor } from '../gpu/tensor.ts';
import { Random } from '../util/random.ts';
import type { LoraTarget } from './config.ts';
import { DecoderGraph } from './graph.ts';
import { uploadModel, type GpuModel } from './gpu-model.ts';
import { initLoraAdapter, loraPairKey, loraScale, type LoraAdapter } from './lora.ts';
import { uploadLora } from './lora-gpu.ts';
import { referenceLoss, type ReferenceWeights } from './reference.ts';

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

const TARGETS: LoraTarget[] = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
const IDS = [1, 319, 459, 355, 260, 275, 429, 339, 315, 374, 327];
/** HF labels are aligned with input ids; the target of position t is ids[t + 1]. */
const TARGETS_OF = (ids: number[]) => ids.map((_, t) => (t + 1 < ids.length ? ids[t + 1]! : -100));

/** Loss and every LoRA gradient from the GPU graph: forward, fused cross-entropy, backward. */
async function gpuLossAndGradients(adapter: LoraAdapter, ids: number[], recompute = false) {
  const T = ids.length;
  const labels = TARGETS_OF(ids);
  const count = labels.filter((label) => label !== -100).length;
  const lora = uploadLora(ctx, adapter, { training: true });
  const graph = new DecoderGraph(ctx, model, { B: 1, T }, { training: true, recompute, loraRank: adapter.config.r });
  const batch = {
    ids: createIndexTensor(ctx.device, 'ids', [T], 'u32', ids),
    positions: createIndexTensor(ctx.device, 'positions', [T], 'u32', ids.map((_, t) => t)),
  };
  const labelTensor = createIndexTensor(ctx.device, 'labels', [T], 'i32', labels);
  const stats = createTensor(ctx.device, 'stats', [3], 'f32');
  const rowLoss = createTensor(ctx.device, 'row loss', [T], 'f32');
  const scratch = createTensor(ctx.device, 'logits chunk', [crossEntropyChunkRows(ctx.device, T, model.config.vocabSize), model.config.vocabSize], 'f32');
  const encoder = ctx.device.createCommandEncoder();
  graph.encodeForward(encoder, batch, lora);
  encoder.clearBuffer(graph.dFinal!.buffer);
  encodeCrossEntropy(ctx, encoder, { x: graph.final, w: model.lmHead, labels: labelTensor }, { stats, rowLoss, backward: { dx: graph.dFinal!, gradScale: 1 / count } }, scratch);
  graph.encodeBackward(encoder, batch, lora);
  ctx.device.queue.submit([encoder.finish()]);
  const { lossSum, labelCount } = await readCrossEntropyStats(ctx.device, stats);
  const gradients = new Map<string, { a: Float32Array; b: Float32Array }>();
  for (const [key, pair] of lora.training!.grads) gradients.set(key, { a: await readTensor(ctx.device, pair.a), b: await readTensor(ctx.device, pair.b) });
  graph.destroy();
  lora.destroy();
  for (const tensor of [batch.ids, batch.positions, labelTensor, stats, rowLoss, scratch]) tensor.buffer.destroy();
  return { loss: lossSum / labelCount, gradients };
}

/** An adapter whose B is not zero, so gradients reach A too; Float64 copies for finite differences. */
function adapterWithWeights(seed: number): { adapter: LoraAdapter; float64: Map<string, { a: Float64Array; b: Float64Array }> } {
  const adapter = initLoraAdapter(model.config, { r: 2, alpha: 4, dropout: 0, targets: TARGETS, rslora: false }, seed);
  const random = Random.fromSeed(seed + 100);
  for (const pair of adapter.pairs.values()) random.fillUniform(pair.b, -0.1, 0.1);
  const float64 = new Map([...adapter.pairs].map(([key, pair]) => [key, { a: Float64Array.from(pair.a), b: Float64Array.from(pair.b) }]));
  return { adapter, float64 };
}

describe('LoRA gradients of the whole model on the real aidreams260K', () => {
  it('the GPU loss equals the Float64 reference loss', async () => {
    const { adapter, float64 } = adapterWithWeights(1);
    const { loss } = await gpuLossAndGradients(adapter, IDS);
    const want = referenceLoss(reference, IDS, TARGETS_OF(IDS), { scale: loraScale(adapter.config), r: 2, pairs: float64 });
    expect(Math.abs(loss - want) / want).toBeLessThan(1e-5);
  });

  for (const [layer, target] of [[0, 'q_proj'], [1, 'k_proj'], [2, 'v_proj'], [3, 'o_proj'], [0, 'gate_proj'], [2, 'up_proj'], [3, 'down_proj']] as const) {
    it(`dA and dB of layer ${layer} ${target} match central finite differences of the Float64 reference loss`, async () => {
      const { adapter, float64 } = adapterWithWeights(2);
      const { gradients } = await gpuLossAndGradients(adapter, IDS);
      const key = loraPairKey(layer, target);
      const lora = { scale: loraScale(adapter.config), r: 2, pairs: float64 };
      const loss = () => referenceLoss(reference, IDS, TARGETS_OF(IDS), lora);
      for (const matrix of ['a', 'b'] as const) {
        const values = float64.get(key)![matrix];
        const probe = [0, 7, values.length - 1];
        const numeric = finiteDifferenceGradient(loss, values, 1e-5, probe);
        const scale = Math.max(...probe.map((i) => Math.abs(numeric[i]!)));
        expect(scale, `${matrix} has a gradient to compare`).toBeGreaterThan(1e-5);
        for (const i of probe) expect(Math.abs(gradients.get(key)![matrix][i]! - numeric[i]!) / scale, `${matrix}[${i}]`).toBeLessThan(2e-3);
      }
    });
  }

  it('recomputing activations in the backward gives the same gradients', async () => {
    const { adapter } = adapterWithWeights(3);
    const saved = await gpuLossAndGradients(adapter, IDS, false);
    const recomputed = await gpuLossAndGradients(adapter, IDS, true);
    for (const [key, pair] of saved.gradients) {
      expect(Array.from(recomputed.gradients.get(key)!.a)).toEqual(Array.from(pair.a));
      expect(Array.from(recomputed.gradients.get(key)!.b)).toEqual(Array.from(pair.b));
    }
  });
});
