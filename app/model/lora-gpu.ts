/**
 * LoRA adapters on the GPU: A and B per adapted projection, and for training their gradients and
 * AdamW moments. Upload from and download to the CPU-side LoraAdapter (checkpoints, export).
 */
import type { GpuContext } from '../gpu/device.ts';
import { readTensors } from '../gpu/readback.ts';
import { guardGpu } from '../gpu/scope.ts';
import { createTensor, type GpuTensor } from '../gpu/tensor.ts';
import type { LoraTarget } from './config.ts';
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
}

export interface GpuLora {
  config: LoraConfig;
  scale: number;
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
  const all: GpuTensor[] = [];
  const make = (name: string, shape: number[], data?: Float32Array): GpuTensor => {
    const tensor = createTensor(ctx.device, name, shape, 'f32', data);
    all.push(tensor);
    return tensor;
  };
  const { r } = adapter.config;
  const pairs = new Map<string, GpuLoraPair>();
  const grads = new Map<string, GpuLoraPair>();
  const m = new Map<string, GpuLoraPair>();
  const v = new Map<string, GpuLoraPair>();
  for (const [key, pair] of adapter.pairs) {
    const shapeA = [r, pair.inFeatures];
    const shapeB = [pair.outFeatures, r];
    pairs.set(key, { a: make(`lora ${key} A`, shapeA, pair.a), b: make(`lora ${key} B`, shapeB, pair.b) });
    if (options.training) {
      for (const [map, what] of [[grads, 'grad'], [m, 'm'], [v, 'v']] as const) {
        map.set(key, { a: make(`lora ${key} A ${what}`, shapeA), b: make(`lora ${key} B ${what}`, shapeB) });
      }
    }
  }
  return {
    config: adapter.config,
    scale: loraScale(adapter.config),
    pairs,
    ...(options.training ? { training: { grads, m, v } } : {}),
    pair: (layer, target) => pairs.get(loraPairKey(layer, target)),
    bytes: all.reduce((sum, tensor) => sum + tensor.buffer.size, 0),
    destroy: () => all.forEach((tensor) => tensor.buffer.destroy()),
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
