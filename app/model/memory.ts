/**
 * The memory estimator: before anything is allocated, what a training (or generation) configuration
 * needs on the GPU, whether it fits this adapter's limits, and what to change when it does not.
 *
 * WebGPU does not tell how much memory a GPU has, so the total is checked against a budget the
 * caller gives (the studio asks the user, defaulting by adapter type); the per-buffer limits
 * (maxBufferSize, maxStorageBufferBindingSize) are real and checked exactly.
 */
import { BYTES_PER_ELEMENT, type DType } from '../gpu/dtype.ts';
import { projectionShape, type LoraConfig } from './lora.ts';
import type { ModelConfig } from './config.ts';

export interface TrainingShape {
  /** Sequences per micro-batch. */
  batchSize: number;
  /** Tokens per sequence (max_length). */
  seqLength: number;
  weightDtype: DType;
  lora: Pick<LoraConfig, 'r' | 'targets'>;
  /** Number of adapters trained at once (one per task in the per-task layout). */
  adapters?: number;
  /** Keep only each layer's input and recompute the layer in the backward pass. */
  recompute: boolean;
  /** Rows of logits the fused cross-entropy materialises at a time. */
  lossChunkRows?: number;
}

export interface DeviceLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

export interface MemoryLine {
  what: string;
  bytes: number;
}

export interface MemoryEstimate {
  lines: MemoryLine[];
  totalBytes: number;
  /** The largest single tensor that must fit in one binding (the embedding may be split). */
  largestBinding: { what: string; bytes: number };
  fits: boolean;
  /** Why it does not fit, and what to change; empty when it fits. */
  advice: string[];
}

const F32 = 4;

export function estimateTrainingMemory(model: ModelConfig, shape: TrainingShape, limits: DeviceLimits, budgetBytes: number): MemoryEstimate {
  const { hiddenSize: C, intermediateSize: I, numHeads: H, numKvHeads: Hkv, headDim: D, vocabSize: V, numLayers: L } = model;
  const N = shape.batchSize * shape.seqLength;
  const R = shape.lora.r;
  const adapters = shape.adapters ?? 1;
  const weightBytes = BYTES_PER_ELEMENT[shape.weightDtype];

  const perLayerWeights = (H * D * C + 2 * Hkv * D * C + C * H * D + 3 * I * C) * weightBytes + 2 * C * F32;
  const embedding = V * C * weightBytes;
  const lmHead = model.tieWordEmbeddings ? 0 : V * C * weightBytes;
  let loraParameters = 0;
  for (const target of shape.lora.targets) {
    const { inFeatures, outFeatures } = projectionShape(model, target);
    loraParameters += R * (inFeatures + outFeatures);
  }
  loraParameters *= L * adapters;

  // What one layer's backward needs from its forward: inputs of each norm and projection, attention
  // q/k/v/o and logsumexp, the MLP's gate/up/h, and each LoRA path's X·Aᵀ.
  const layerActivations = N * (3 * C + 2 * H * D + 2 * Hkv * D + H + 3 * I + R * shape.lora.targets.length) * F32;
  const savedActivations = shape.recompute ? L * N * C * F32 + layerActivations : L * layerActivations;
  const chunkRows = Math.min(N, shape.lossChunkRows ?? 256);
  // Gradients in flight: the residual stream, one projection's input gradient, the MLP's.
  const workspace = N * (3 * C + 2 * I + 2 * H * D) * F32 + chunkRows * V * F32;

  const lines: MemoryLine[] = [
    { what: `frozen weights (${shape.weightDtype})`, bytes: L * perLayerWeights + embedding + lmHead + C * F32 },
    { what: `LoRA weights, gradients and AdamW moments (${loraParameters.toLocaleString('en-US')} parameters)`, bytes: 4 * loraParameters * F32 },
    { what: shape.recompute ? 'activations (layer inputs, one layer recomputed)' : 'activations saved for backward', bytes: savedActivations },
    { what: 'gradient workspace and loss chunk', bytes: workspace },
  ];
  const totalBytes = lines.reduce((sum, line) => sum + line.bytes, 0);
  const bindings: MemoryLine[] = [
    { what: 'largest projection weight', bytes: Math.max(H * D, I) * C * weightBytes },
    { what: 'MLP activation [tokens, intermediate]', bytes: N * I * F32 },
    { what: `loss chunk [${chunkRows}, vocab]`, bytes: chunkRows * V * F32 },
    { what: 'one embedding part (split by vocabulary rows)', bytes: Math.min(embedding, Math.floor(limits.maxStorageBufferBindingSize / (C * weightBytes)) * C * weightBytes) },
  ];
  const largestBinding = bindings.reduce((a, b) => (b.bytes > a.bytes ? b : a));

  const advice: string[] = [];
  const bindingLimit = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  for (const binding of bindings) {
    if (binding.bytes > bindingLimit) {
      advice.push(`${binding.what} needs ${formatMiB(binding.bytes)} in one buffer, over this GPU's limit of ${formatMiB(bindingLimit)}: ${bindingAdvice(binding.what)}`);
    }
  }
  if (totalBytes > budgetBytes) {
    const over = totalBytes - budgetBytes;
    const options: string[] = [];
    if (!shape.recompute) options.push('turn on recomputation (saves most activation memory for about a third more compute)');
    if (shape.batchSize > 1) options.push(`lower the batch size (${shape.batchSize} → ${Math.max(1, Math.floor(shape.batchSize / 2))}) and raise gradient accumulation to keep the same effective batch`);
    if (shape.seqLength > 128) options.push(`shorten max_length (${shape.seqLength} → ${Math.floor(shape.seqLength / 2)})`);
    if (shape.weightDtype === 'f32') options.push('load the weights as bf16 (halves their memory)');
    if (R > 8) options.push(`use a smaller LoRA rank (${R} → ${R / 2})`);
    advice.push(`needs about ${formatMiB(totalBytes)}, ${formatMiB(over)} over the budget of ${formatMiB(budgetBytes)}. To fit: ${options.join('; ') || 'choose a smaller model'}.`);
  }
  return { lines, totalBytes, largestBinding, fits: advice.length === 0, advice };
}

function bindingAdvice(what: string): string {
  if (what.startsWith('MLP')) return 'lower the batch size or max_length';
  if (what.startsWith('loss chunk')) return 'use a smaller loss chunk';
  return 'this model is too large for this GPU';
}

export function formatMiB(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(2)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
