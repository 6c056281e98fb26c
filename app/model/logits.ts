/**
 * Logits [T, V] of one sequence through the GPU graph: what the engine check and the tests compare.
 * Allocates its own graph and frees it; for single checks, not for training loops.
 */
import type { GpuContext } from '../gpu/device.ts';
import { encodeSelectedLogits } from '../gpu/ops/cross_entropy.ts';
import { createIndexTensor, createTensor, readTensor } from '../gpu/tensor.ts';
import { DecoderGraph } from './graph.ts';
import type { GpuModel } from './gpu-model.ts';
import type { GpuLora } from './lora-gpu.ts';

/** With `startPosition`, the tokens sit at positions startPosition .. startPosition + T − 1 (attending only to each other). */
export async function sequenceLogits(ctx: GpuContext, model: GpuModel, ids: readonly number[], lora?: GpuLora, startPosition = 0): Promise<Float32Array> {
  const T = ids.length;
  const positions = ids.map((_, t) => startPosition + t);
  const graph = new DecoderGraph(ctx, model, { B: 1, T }, { training: false, loraRank: lora?.config.r ?? 0 });
  const tensors = [
    createIndexTensor(ctx.device, 'ids', [T], 'u32', ids),
    createIndexTensor(ctx.device, 'positions', [T], 'u32', positions),
    createIndexTensor(ctx.device, 'rows', [T], 'i32', ids.map((_, t) => t)),
    createTensor(ctx.device, 'logits', [T, model.config.vocabSize], 'f32'),
  ] as const;
  const [idsTensor, positionsTensor, rows, logits] = tensors;
  try {
    const encoder = ctx.device.createCommandEncoder({ label: 'sequence logits' });
    graph.encodeForward(encoder, { ids: idsTensor, positions: positionsTensor, positionLimit: startPosition + T }, lora);
    encodeSelectedLogits(ctx, encoder, { x: graph.final, w: model.lmHead, rows, softcap: model.config.finalLogitSoftcapping }, logits);
    ctx.device.queue.submit([encoder.finish()]);
    return await readTensor(ctx.device, logits);
  } finally {
    graph.destroy();
    for (const tensor of tensors) tensor.buffer.destroy();
  }
}
