/**
 * The flat layout of a LoRA adapter on the GPU (lora-gpu.ts): every A and B, in order, at an offset of
 * a few flat buffers ("chunks"), so the optimizer runs once per chunk instead of once per tensor. Each
 * tensor starts on VIEW_ALIGNMENT so it can also be bound on its own; a chunk is no larger than one
 * binding may be, because the optimizer binds it whole. Shader-free: the memory planner counts with it.
 */
import { VIEW_ALIGNMENT } from '../gpu/tensor.ts';

export interface FlatLayout {
  /** Per tensor, in the order given: its chunk and its byte offset there. */
  slots: { chunk: number; offset: number }[];
  /** Bytes of each chunk (views and the alignment between them). */
  chunkBytes: number[];
}

/** The largest chunk a device can allocate and bind whole. */
export function maxChunkBytes(limits: { maxStorageBufferBindingSize: number; maxBufferSize: number }): number {
  return Math.floor(Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize) / VIEW_ALIGNMENT) * VIEW_ALIGNMENT;
}

/** Lays out f32 tensors of these element counts; a tensor larger than a chunk gets one of its own (binding it is then refused, by name). */
export function flatLayout(elementCounts: readonly number[], chunkLimit: number): FlatLayout {
  const slots: FlatLayout['slots'] = [];
  const chunkBytes: number[] = [];
  for (const count of elementCounts) {
    const bytes = Math.ceil((4 * count) / VIEW_ALIGNMENT) * VIEW_ALIGNMENT;
    if (chunkBytes.length === 0 || chunkBytes.at(-1)! + bytes > chunkLimit) chunkBytes.push(0);
    slots.push({ chunk: chunkBytes.length - 1, offset: chunkBytes.at(-1)! });
    chunkBytes[chunkBytes.length - 1]! += bytes;
  }
  return { slots, chunkBytes };
}
