/**
 * LoRA adapters on the GPU: A and B per adapted projection, and for training their gradients and
 * AdamW moments. Upload from and download to the CPU-side LoraAdapter (checkpoints, export).
 */
import type { GpuContext } from '../gpu/device.ts';
import { readTensors } from '../gpu/readback.ts';
import { guardGpu } from '../gpu/scope.ts';
import { createTensor, elementCount, holdsViews, viewAt, type GpuTensor } from '../gpu/tensor.ts';
import type { LoraTarget } from './config.ts';
import { flatLayout, maxChunkBytes } from './lora-layout.ts';
import { loraPairKey, loraScale, type LoraAdapter, type LoraConfig } from './lora.ts';

export interface GpuLoraPair {
  a: GpuTensor; // [r, in]
  b: GpuTensor; // [out, r]
}

export interface GpuLoraTraining {
  grads: Map<string, GpuLoraPair>;
  /** AdamW first and second moments, per pair. */
  m: Map<string, GpuLoraPair>;
  v: Map<string, GpuLoraPair>;
  /**
   * The whole adapter as a few flat tensors: every pair's A and B, their gradients and moments are views
   * at the same offsets of these, so the optimizer (and the per-step clearing of the gradients) runs
   * once per chunk instead of once per tensor. Bytes between views (alignment) are zero and stay zero.
   */
  flat: LoraFlatChunk[];
}

/** One flat chunk of an adapter in training: parameters, gradients and moments of the same layout, all [elements] f32. */
export interface LoraFlatChunk {
  param: GpuTensor;
  grad: GpuTensor;
  m: GpuTensor;
  v: GpuTensor;
}

export interface GpuLora {
  config: LoraConfig;
  scale: number;
  /** A and B per pair: views into the adapter's flat buffers (bind them as tensors, never by their buffer). */
  pairs: Map<string, GpuLoraPair>;
  training?: GpuLoraTraining;
  pair(layer: number, target: LoraTarget): GpuLoraPair | undefined;
  /** GPU memory of the weights and, when training, gradients and moments. */
  bytes: number;
  destroy(): void;
}

/** uploadLora for an adapter used on its own: a GPU without room for it throws (and keeps nothing) instead of handing back invalid buffers. */
export function uploadLoraChecked(ctx: GpuContext, adapter: LoraAdapter, options: { training: boolean }): Promise<GpuLora> {
  return guardGpu(ctx, `uploading the rank-${adapter.config.r} LoRA adapter`, () => uploadLora(ctx, adapter, options), (lora) => lora.destroy());
}

export function uploadLora(ctx: GpuContext, adapter: LoraAdapter, options: { training: boolean }): GpuLora {
  const { device } = ctx;
  const owned: GpuTensor[] = [];
  const { r } = adapter.config;
  const tensors = [...adapter.pairs].flatMap(([key, pair]) => [
    { key, part: 'a' as const, shape: [r, pair.inFeatures] },
    { key, part: 'b' as const, shape: [pair.outFeatures, r] },
  ]);
  const layout = flatLayout(
    tensors.map(({ shape }) => elementCount(shape)),
    maxChunkBytes(device.limits),
  );
  const { chunkBytes } = layout;
  const slots = tensors.map((tensor, i) => ({ ...tensor, ...layout.slots[i]! }));
  const flatTensors = (what: string, data?: (chunk: number) => Float32Array): GpuTensor[] =>
    chunkBytes.map((bytes, chunk) => {
      const whole = createTensor(device, `lora ${what} ${chunk + 1} of ${chunkBytes.length}`, [bytes / 4], 'f32', data?.(chunk));
      holdsViews(whole.buffer);
      owned.push(whole);
      // The chunk itself is bound as a view of all of it, so that binding its buffer directly stays refused.
      return viewAt(whole.buffer, whole.name, whole.shape, 'f32', 0);
    });
  const initial = chunkBytes.map((bytes) => new Float32Array(bytes / 4));
  for (const slot of slots) initial[slot.chunk]!.set(adapter.pairs.get(slot.key)![slot.part], slot.offset / 4);
  const params = flatTensors('weights', (chunk) => initial[chunk]!);
  const views = (chunks: GpuTensor[], what: string): Map<string, GpuLoraPair> => {
    const pairs = new Map<string, Partial<GpuLoraPair>>();
    for (const slot of slots) {
      const pair = pairs.get(slot.key) ?? {};
      pair[slot.part] = viewAt(chunks[slot.chunk]!.buffer, `lora ${slot.key} ${slot.part.toUpperCase()}${what}`, slot.shape, 'f32', slot.offset);
      pairs.set(slot.key, pair);
    }
    return pairs as Map<string, GpuLoraPair>;
  };
  const pairs = views(params, '');
  let training: GpuLoraTraining | undefined;
  if (options.training) {
    const [grads, m, v] = [flatTensors('gradients'), flatTensors('exp_avg'), flatTensors('exp_avg_sq')] as const;
    training = {
      grads: views(grads, ' grad'),
      m: views(m, ' m'),
      v: views(v, ' v'),
      flat: params.map((param, chunk) => ({ param, grad: grads[chunk]!, m: m[chunk]!, v: v[chunk]! })),
    };
  }
  return {
    config: adapter.config,
    scale: loraScale(adapter.config),
    pairs,
    ...(training ? { training } : {}),
    pair: (layer, target) => pairs.get(loraPairKey(layer, target)),
    bytes: owned.reduce((sum, tensor) => sum + tensor.buffer.size, 0),
    destroy: () => owned.forEach((tensor) => tensor.buffer.destroy()),
  };
}

/** Reads A and B back into a LoraAdapter (for export and evaluation), every pair in one round trip. */
export async function downloadLora(ctx: GpuContext, lora: GpuLora, like: LoraAdapter): Promise<LoraAdapter> {
  const entries = [...lora.pairs];
  const values = await readTensors(ctx.device, entries.flatMap(([, pair]) => [pair.a, pair.b]));
  const pairs = new Map<string, LoraAdapter['pairs'] extends Map<string, infer P> ? P : never>();
  for (const [index, [key]] of entries.entries()) {
    const shape = like.pairs.get(key)!;
    pairs.set(key, { a: values[2 * index]!, b: values[2 * index + 1]!, inFeatures: shape.inFeatures, outFeatures: shape.outFeatures });
  }
  return { config: lora.config, pairs };
}
