import type { GpuContext } from '../app/gpu/device.ts';
import { crossEntropyChunkRows, encodeCrossEntropy, readCrossEntropyStats } from '../app/gpu/ops/cross_entropy.ts';
import { createIndexTensor, createTensor, readTensor } from '../app/gpu/tensor.ts';
import type { GpuModel } from '../app/model/gpu-model.ts';
import { DecoderGraph } from '../app/model/graph.ts';
import type { LoraAdapter } from '../app/model/lora.ts';
import { uploadLora } from '../app/model/lora-gpu.ts';
import type { HostBatch } from '../app/train/batch.ts';

export interface GraphStep {
  /** Mean cross-entropy over the batch's labelled positions. */
  loss: number;
  labelCount: number;
  /** Loss of each position [B·T] (0 where there is no label). */
  rowLoss: Float32Array;
  /** ∂loss/∂A and ∂loss/∂B of every LoRA pair, by loraPairKey. */
  gradients: Map<string, { a: Float32Array; b: Float32Array }>;
}

/**
 * One forward, fused cross-entropy (scaled by 1 / the batch's labels) and backward of a host batch, as the trainer encodes it.
 * `positionOffset` moves every position by that much (tokens at positions offset .. offset + T − 1, attending only to
 * each other, with the rotary variant a context of offset + T positions selects: LongRoPE's long factors past its original context).
 */
export async function graphStep(ctx: GpuContext, model: GpuModel, adapter: LoraAdapter, batch: HostBatch, options: { recompute?: boolean; positionOffset?: number } = {}): Promise<GraphStep> {
  const { device } = ctx;
  const N = batch.B * batch.T;
  const offset = options.positionOffset ?? 0;
  const lora = uploadLora(ctx, adapter, { training: true });
  const graph = new DecoderGraph(ctx, model, { B: batch.B, T: batch.T }, { training: true, recompute: options.recompute ?? false, loraRank: adapter.config.r, loraTargets: adapter.config.targets });
  const inputs = {
    ids: createIndexTensor(device, 'ids', [N], 'u32', batch.ids),
    positions: createIndexTensor(device, 'positions', [N], 'u32', offset ? batch.positions.map((position) => position + offset) : batch.positions),
    segments: createIndexTensor(device, 'segments', [batch.B, batch.T], 'u32', batch.segments),
  };
  const positionLimit = offset ? { positionLimit: offset + batch.T } : {};
  const labels = createIndexTensor(device, 'labels', [N], 'i32', batch.targets);
  const stats = createTensor(device, 'stats', [3], 'f32');
  const rowLoss = createTensor(device, 'row loss', [N], 'f32');
  const scratch = createTensor(device, 'logits chunk', [crossEntropyChunkRows(device, N, model.config.vocabSize), model.config.vocabSize], 'f32');
  try {
    const encoder = device.createCommandEncoder();
    graph.encodeForward(encoder, { ...inputs, ...positionLimit }, lora);
    encoder.clearBuffer(graph.dFinal!.buffer);
    encodeCrossEntropy(ctx, encoder, { x: graph.final, w: model.lmHead, labels, softcap: model.config.finalLogitSoftcapping }, { stats, rowLoss, backward: { dx: graph.dFinal!, gradScale: 1 / batch.labelCount } }, scratch);
    graph.encodeBackward(encoder, { ...inputs, ...positionLimit }, lora);
    device.queue.submit([encoder.finish()]);
    const { lossSum, labelCount } = await readCrossEntropyStats(device, stats);
    const gradients = new Map<string, { a: Float32Array; b: Float32Array }>();
    for (const [key, pair] of lora.training!.grads) gradients.set(key, { a: await readTensor(device, pair.a), b: await readTensor(device, pair.b) });
    return { loss: lossSum / labelCount, labelCount, rowLoss: await readTensor(device, rowLoss), gradients };
  } finally {
    graph.destroy();
    lora.destroy();
    for (const tensor of [...Object.values(inputs), labels, stats, rowLoss, scratch]) tensor.buffer.destroy();
  }
}

/** Largest |a − b| over every gradient, relative to the largest |b|. */
export function gradientDifference(a: GraphStep['gradients'], b: GraphStep['gradients']): number {
  let difference = 0;
  let scale = 0;
  for (const [key, pair] of b) {
    for (const part of ['a', 'b'] as const) {
      const want = pair[part];
      const got = a.get(key)![part];
      for (let i = 0; i < want.length; i++) {
        difference = Math.max(difference, Math.abs(got[i]! - want[i]!));
        scale = Math.max(scale, Math.abs(want[i]!));
      }
    }
  }
  return difference / scale;
}
