/**
 * The memory planner: before anything is allocated, what a training run (its trainer, its evaluator
 * and the generator its evaluation may use) will hold on the GPU, whether that fits this adapter's
 * limits, and what would fit when it does not.
 *
 * Every count below mirrors one allocation, buffer by buffer, of uploadModel (gpu-model.ts),
 * uploadLora (lora-gpu.ts), DecoderGraph (graph.ts), Trainer, Evaluator and Generator, with the
 * same rounding createTensor applies; memory.gpu.test.ts compares it with their live `gpuBytes`.
 * WebGPU does not tell how much memory a GPU has, so the total is checked against a budget the
 * caller gives (the studio asks the user, defaulting by adapter type); the per-buffer limits
 * (maxBufferSize, maxStorageBufferBindingSize) are real and checked exactly.
 */
import { BYTES_PER_ELEMENT, isQuantized, storageBytes, type DType, type FrozenDType, type IndexDType } from '../gpu/dtype.ts';
import { adamwPartialCount } from '../gpu/ops/adamw.ts';
import { attentionScratchShapes } from '../gpu/ops/attention.ts';
import { crossEntropyChunkRows } from '../gpu/ops/cross_entropy.ts';
import { planEmbeddingParts } from '../gpu/ops/embedding.ts';
import { ropeInverseFrequencies } from '../gpu/ops/rope.ts';
import { quantBytes } from '../gpu/quant.ts';
import { expectedWeights, loraTargetsOf, projectionFeatures, type LoraTarget, type ModelConfig } from './config.ts';
import { flatLayout, maxChunkBytes } from './lora-layout.ts';
import { projectionShape, type LoraConfig } from './lora.ts';
import { checkModelQuantization, DEFAULT_INT4, describeWeightFormat, type Int4Options, type WeightFormat } from './quantization.ts';

export interface TrainingShape {
  /** Sequences per micro-batch. */
  batchSize: number;
  /** Tokens per sequence (max_length, or the longest example when shorter). */
  seqLength: number;
  /** The projections' dtype on the GPU. */
  weightDtype: FrozenDType;
  /** With int8/int4 projections: the vocabulary tables' dtype (default bf16); otherwise they are in weightDtype. */
  tableDtype?: DType;
  /** With int4: group size and symmetry (default DEFAULT_INT4). */
  int4?: Int4Options;
  lora: Pick<LoraConfig, 'r' | 'targets'>;
  /** Number of adapters trained at once (one per task in the per-task layout). */
  adapters?: number;
  /** Keep only each layer's input and recompute the layer in the backward pass. */
  recompute: boolean;
  /** Micro-batches per optimizer step: each one's row losses wait in the step's readback buffer. */
  gradAccum?: number;
  /** The evaluator a run keeps beside its trainer (batch of the recipe, room for the longest example). */
  evaluation?: { batchSize: number; seqLength: number };
  /** Evaluation by generation: a KV cache for the prompt (at most the evaluation's seqLength) plus the new tokens. */
  generation?: { maxNewTokens: number };
}

export interface DeviceLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
  /** Bounds the loss chunk's rows; WebGPU's default when not given. */
  maxComputeWorkgroupsPerDimension?: number;
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
  /** This adapter's limit for one buffer bound to a shader (the smaller of maxStorageBufferBindingSize and maxBufferSize). */
  bindingLimitBytes: number;
  fits: boolean;
  /** Why it does not fit, and what to change; empty when it fits. */
  advice: string[];
  /** With int8/int4 weights: the frozen weights' bytes, and what they would take in 16 bits (bf16). */
  quantization?: { bytes: number; sixteenBitBytes: number };
}

const F32 = 4;
const INDEX = 4;

/** What createTensor allocates for a tensor of this dtype and shape. */
function tensor(dtype: DType | IndexDType, ...shape: number[]): number {
  return Math.max(4, storageBytes(dtype, shape.reduce((product, dim) => product * dim, 1)));
}

function deviceOf(limits: DeviceLimits) {
  return { limits: { maxBufferSize: limits.maxBufferSize, maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize, maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension ?? 65535 } };
}

/** The weight format of a planned shape (as uploadModel resolves it from the recipe). */
export function shapeWeightFormat(shape: Pick<TrainingShape, 'weightDtype' | 'tableDtype' | 'int4'>): WeightFormat {
  const { weightDtype: dtype } = shape;
  if (!isQuantized(dtype)) return { dtype, tables: dtype };
  return { dtype, tables: shape.tableDtype ?? 'bf16', spec: dtype === 'int8' ? { dtype } : { dtype, ...(shape.int4 ?? DEFAULT_INT4) } };
}

/**
 * uploadModel: projections in the format's dtype (quantized: codes, scales and zero points), the
 * embedding and an untied LM head in its table dtype (split by vocabulary rows), norms and biases
 * f32, the RoPE table. A plain dtype stands for every matrix in it.
 */
export function modelWeightBytes(config: ModelConfig, format: DType | WeightFormat, limits: DeviceLimits): number {
  const { dtype, tables, spec } = typeof format === 'string' ? { dtype: format, tables: format, spec: undefined } : format;
  let bytes = 0;
  for (const { name, shape } of expectedWeights(config)) {
    if (name === 'model.embed_tokens.weight' || name === 'lm_head.weight') {
      for (const part of planEmbeddingParts(deviceOf(limits), config.vocabSize, config.hiddenSize, tables)) bytes += tensor(tables, part.rows, config.hiddenSize);
    } else if (name.endsWith('norm.weight') || name.endsWith('.bias')) bytes += tensor('f32', ...shape);
    else if (spec) bytes += Math.max(4, quantBytes(spec, shape[0]!, shape[1]!));
    else bytes += tensor(dtype as DType, ...shape);
  }
  return bytes;
}

/** The RoPE frequency table every model uploads beside its weights (two with LongRoPE: short and long factors). */
export function ropeTableBytes(config: ModelConfig): number {
  // LongRoPE keeps its long factors' table too; Gemma 3 its sliding layers' one (same length).
  const tables = 1 + (config.ropeScaling?.ropeType === 'longrope' ? 1 : 0) + (config.gemma ? 1 : 0);
  return tables * tensor('f32', ropeInverseFrequencies(config).length, 2);
}

/**
 * uploadLora: A and B per adapted projection, and for training their gradients and both AdamW moments,
 * all f32, each laid out flat (lora-layout.ts: tensors aligned, so the total does not depend on the chunks).
 */
export function loraBytes(config: ModelConfig, lora: Pick<LoraConfig, 'r' | 'targets'>, training: boolean): number {
  const { chunkBytes } = flatLayout(adamwTensorsOf(config, lora).map(([rows, cols]) => rows! * cols!), Number.POSITIVE_INFINITY);
  return chunkBytes.reduce((sum, bytes) => sum + bytes, 0) * (training ? 4 : 1);
}

export interface GraphPlan {
  training: boolean;
  recompute?: boolean;
  rank: number;
  /** The adapters' targets, for a training graph (inference shares one X·Aᵀ scratch). */
  targets?: readonly LoraTarget[];
}

/** One layer's ActivationSet. */
function activationSetBytes(config: ModelConfig, B: number, T: number, plan: GraphPlan): number {
  const { hiddenSize: C, intermediateSize: I, numHeads: H, numKvHeads: Hkv, headDim: D } = config;
  const N = B * T;
  const u = plan.rank === 0 ? 0 : (plan.training ? (plan.targets ?? loraTargetsOf(config)).length : 1) * tensor('f32', N, plan.rank);
  return (
    5 * tensor('f32', N, C) + // n1, attention out, x_mid, n2, mlp out
    2 * tensor('f32', N) + // rstd1, rstd2
    2 * tensor('f32', N, H, D) + // q, o
    2 * tensor('f32', N, Hkv, D) + // k, v
    tensor('f32', B, H, T) + // logsumexp
    3 * tensor('f32', N, I) + // gate, up, h
    (config.qkNorm ? tensor('f32', N * H, D) + tensor('f32', N * Hkv, D) + tensor('f32', N * H) + tensor('f32', N * Hkv) : 0) + // q, k before their head norms, and the norms' rstd
    (config.gemma ? 2 * tensor('f32', N, C) + 2 * tensor('f32', N) : 0) + // Gemma 3: attention and MLP outputs after their norms, and the rstd
    u
  );
}

/** DecoderGraph: residual stream, activation sets, final norm and, for training, the gradient workspace. */
export function graphBytes(config: ModelConfig, B: number, T: number, plan: GraphPlan): { activations: number; workspace: number } {
  const { hiddenSize: C, intermediateSize: I, numHeads: H, numKvHeads: Hkv, headDim: D, numLayers: L } = config;
  const N = B * T;
  const residuals = (plan.training ? L + 1 : 2) * tensor('f32', N, C);
  const sets = plan.training && !plan.recompute ? L : 1;
  // Phi-3's fused projection outputs (and, in the backward, their gradients), one pair for every layer.
  const fused = config.fusedProjections ? tensor('f32', N, (H + 2 * Hkv) * D) + tensor('f32', N, 2 * I) : 0;
  const activations = residuals + sets * activationSetBytes(config, B, T, plan) + fused + tensor('f32', N, C) + tensor('f32', N);
  if (!plan.training) return { activations, workspace: 0 };
  const workspace =
    tensor('f32', N, C) + // d final norm
    2 * tensor('f32', N, C) + // d residual, d norm out
    3 * tensor('f32', N, I) + // d h, d gate, d up
    3 * tensor('f32', N, H, D) + // d attention out, d q, d q before rope
    3 * tensor('f32', N, Hkv, D) + // d k, d v, d k before rope
    tensor('f32', ...attentionScratchShapes({ B, H, T }).stats) +
    tensor('f32', N, Math.max(plan.rank, 1)) + // the LoRA backward's dY·B
    (config.gemma ? tensor('f32', N, C) : 0); // Gemma 3: the gradient behind a branch's output norm
  return { activations, workspace };
}

/** Trainer's own buffers besides model, adapters and graph: batch, loss, optimizer scratch, the step's readback. */
function trainerSmallBytes(config: ModelConfig, shape: TrainingShape, adapters: number, limits: DeviceLimits): number {
  const N = shape.batchSize * shape.seqLength;
  // AdamW runs over the adapter's flat chunks (lora-gpu.ts), each with its share of the partial sums.
  const { chunkBytes } = flatLayout(adamwTensorsOf(config, shape.lora).map(([rows, cols]) => rows! * cols!), maxChunkBytes(limits));
  const partials = tensor('f32', adamwPartialCount(chunkBytes.map((bytes) => ({ param: { shape: [bytes / 4] } }))));
  const status = tensor('f32', 4);
  const rowLoss = tensor('f32', N);
  const stats = tensor('f32', 3);
  const readback = Math.max(4, (shape.gradAccum ?? 1) * rowLoss + stats + adapters * status);
  return 4 * N * INDEX + stats + rowLoss + adapters * (partials + status) + readback;
}

/** The shapes of one adapter's trained tensors, in the order uploadLora lays them out. */
function adamwTensorsOf(config: ModelConfig, lora: Pick<LoraConfig, 'r' | 'targets'>): number[][] {
  const shapes: number[][] = [];
  for (let layer = 0; layer < config.numLayers; layer++) {
    for (const target of lora.targets) {
      const { inFeatures, outFeatures } = projectionShape(config, target);
      shapes.push([lora.r, inFeatures], [outFeatures, lora.r]);
    }
  }
  return shapes;
}

function lossChunkBytes(config: ModelConfig, N: number, limits: DeviceLimits): number {
  return tensor('f32', crossEntropyChunkRows(deviceOf(limits), N, config.vocabSize), config.vocabSize);
}

/** Evaluator: an inference graph of the evaluation batch, its batch and loss buffers and logits chunk. */
export function evaluatorBytes(config: ModelConfig, B: number, T: number, rank: number, limits: DeviceLimits): number {
  const N = B * T;
  const graph = graphBytes(config, B, T, { training: false, rank });
  return graph.activations + 4 * N * INDEX + tensor('f32', 3) + tensor('f32', N) + lossChunkBytes(config, N, limits);
}

/** Generator: the KV cache for `capacity` positions, the one-token decode graph and its small buffers. */
export function generatorBytes(config: ModelConfig, capacity: number, rank: number): number {
  const cache = 2 * config.numLayers * tensor('f32', capacity, config.numKvHeads, config.headDim);
  return cache + graphBytes(config, 1, 1, { training: false, rank }).activations + tensor('f32', config.vocabSize) + 5 * 4;
}

/** What a prompt's prefill adds while it runs: an inference graph of the prompt and its ids, positions and last row. */
export function prefillBytes(config: ModelConfig, promptLength: number, rank: number): number {
  return graphBytes(config, 1, promptLength, { training: false, rank }).activations + 2 * tensor('u32', promptLength) + 4;
}

/** The lines of a plan: the trainer's (which add up to Trainer.gpuBytes), then evaluation's and generation's. */
function planLines(model: ModelConfig, shape: TrainingShape, limits: DeviceLimits): MemoryLine[] {
  const adapters = shape.adapters ?? 1;
  const N = shape.batchSize * shape.seqLength;
  const graph = graphBytes(model, shape.batchSize, shape.seqLength, { training: true, recompute: shape.recompute, rank: shape.lora.r, targets: shape.lora.targets });
  const parameters = adamwTensorsOf(model, shape.lora).reduce((sum, dims) => sum + dims[0]! * dims[1]!, 0) * adapters;
  const format = shapeWeightFormat(shape);
  const lines: MemoryLine[] = [
    { what: `frozen weights (${describeWeightFormat(format)}${format.spec ? `, ${format.tables} vocabulary tables` : ''})`, bytes: modelWeightBytes(model, format, limits) },
    { what: `LoRA weights, gradients and AdamW moments (${parameters.toLocaleString('en-US')} parameters)`, bytes: adapters * loraBytes(model, shape.lora, true) },
    { what: shape.recompute ? 'activations (layer inputs, one layer recomputed)' : 'activations saved for backward', bytes: graph.activations },
    { what: 'gradient workspace and loss chunk', bytes: graph.workspace + lossChunkBytes(model, N, limits) },
    { what: 'batch, losses, optimizer scratch and RoPE table', bytes: trainerSmallBytes(model, shape, adapters, limits) + ropeTableBytes(model) },
  ];
  if (shape.evaluation) {
    const { batchSize, seqLength } = shape.evaluation;
    lines.push({ what: `evaluation graph and logits chunk (batch ${batchSize} × ${seqLength} tokens)`, bytes: evaluatorBytes(model, batchSize, seqLength, shape.lora.r, limits) });
    if (shape.generation) {
      const capacity = seqLength + shape.generation.maxNewTokens;
      lines.push({ what: `generation: KV cache for ${capacity} positions and prompt prefill`, bytes: generatorBytes(model, capacity, shape.lora.r) + prefillBytes(model, seqLength, shape.lora.r) });
    }
  }
  return lines;
}

/** The tensors that must each fit in one binding (the embedding may be split by rows). */
function bindingLines(model: ModelConfig, shape: TrainingShape, limits: DeviceLimits): MemoryLine[] {
  const { hiddenSize: C, intermediateSize: I, vocabSize: V } = model;
  const N = shape.batchSize * shape.seqLength;
  const format = shapeWeightFormat(shape);
  const weightBytes = BYTES_PER_ELEMENT[format.tables];
  const chunkRows = crossEntropyChunkRows(deviceOf(limits), N, V);
  const embedding = V * C * weightBytes;
  const largestFeatures = loraTargetsOf(model)
    .map((target) => projectionFeatures(model, target))
    .reduce((a, b) => (b.inFeatures * b.outFeatures > a.inFeatures * a.outFeatures ? b : a));
  const largestProjection = format.spec
    ? quantBytes(format.spec, largestFeatures.outFeatures, largestFeatures.inFeatures)
    : largestFeatures.inFeatures * largestFeatures.outFeatures * BYTES_PER_ELEMENT[format.dtype];
  return [
    { what: 'largest projection weight', bytes: largestProjection },
    model.fusedProjections ? { what: 'MLP activation [tokens, 2 × intermediate] (fused gate_up)', bytes: N * 2 * I * F32 } : { what: 'MLP activation [tokens, intermediate]', bytes: N * I * F32 },
    { what: `loss chunk [${chunkRows}, vocab]`, bytes: chunkRows * V * F32 },
    { what: 'one embedding part (split by vocabulary rows)', bytes: Math.min(embedding, Math.floor(limits.maxStorageBufferBindingSize / (C * weightBytes)) * C * weightBytes) },
  ];
}

/** The per-buffer limit a binding must fit: the smaller of the binding and buffer limits. */
export function bindingLimitOf(limits: DeviceLimits): number {
  return Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
}

export function estimateTrainingMemory(model: ModelConfig, shape: TrainingShape, limits: DeviceLimits, budgetBytes: number): MemoryEstimate {
  const lines = planLines(model, shape, limits);
  const totalBytes = lines.reduce((sum, line) => sum + line.bytes, 0);
  const bindings = bindingLines(model, shape, limits);
  const largestBinding = bindings.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  const bindingLimit = bindingLimitOf(limits);
  const total = (changed: TrainingShape) => planLines(model, changed, limits).reduce((sum, line) => sum + line.bytes, 0);
  const withinBindings = (changed: TrainingShape) => bindingLines(model, changed, limits).every((binding) => binding.bytes <= bindingLimit);

  const advice: string[] = [];
  for (const binding of bindings) {
    if (binding.bytes > bindingLimit) {
      // What would fit this adapter's limits (and the budget), found as the budget's suggestion is.
      const fitting = binding.what.startsWith('MLP') ? smallestFitting(shape, model, (changed) => withinBindings(changed) && total(changed) <= budgetBytes) : undefined;
      advice.push(
        `${binding.what} needs ${formatMiB(binding.bytes)} in one buffer, over this GPU's limit of ${formatMiB(bindingLimit)}: ${bindingAdvice(binding.what)}` +
          (fitting ? `. Would fit: ${describeShape(fitting)} (about ${formatMiB(total(fitting))}).` : ''),
      );
    }
  }
  if (totalBytes > budgetBytes) {
    const over = totalBytes - budgetBytes;
    const options = shrinkOptions(shape, model).map(({ what, shape: changed }) => `${what} (about ${formatMiB(total(changed))})`);
    const fitting = smallestFitting(shape, model, (changed) => total(changed) <= budgetBytes && withinBindings(changed));
    advice.push(
      `needs about ${formatMiB(totalBytes)}, ${formatMiB(over)} over the budget of ${formatMiB(budgetBytes)}. To fit: ${options.join('; ') || 'choose a smaller model'}.` +
        (fitting ? ` Would fit: ${describeShape(fitting)} (about ${formatMiB(total(fitting))}).` : ' Nothing smaller with this model fits: choose a smaller model.'),
    );
  }
  const format = shapeWeightFormat(shape);
  const quantization = format.spec ? { bytes: lines[0]!.bytes, sixteenBitBytes: modelWeightBytes(model, format.tables === 'f16' ? 'f16' : 'bf16', limits) } : undefined;
  return { lines, totalBytes, largestBinding, bindingLimitBytes: bindingLimit, fits: advice.length === 0, advice, ...(quantization ? { quantization } : {}) };
}

/** int4 with the default group, when every projection of the model can take it. */
function int4Fits(model: ModelConfig): boolean {
  try {
    checkModelQuantization(model, { dtype: 'int4', ...DEFAULT_INT4 });
    return true;
  } catch {
    return false;
  }
}

/** One change at a time that lowers memory, in the order a user would try them. */
function shrinkOptions(shape: TrainingShape, model: ModelConfig): { what: string; shape: TrainingShape }[] {
  const options: { what: string; shape: TrainingShape }[] = [];
  if (!shape.recompute) options.push({ what: 'turn on recomputation (saves most activation memory for about a third more compute)', shape: { ...shape, recompute: true } });
  if (shape.batchSize > 1) {
    const batchSize = Math.max(1, Math.floor(shape.batchSize / 2));
    options.push({
      what: `lower the batch size (${shape.batchSize} → ${batchSize}) and raise gradient accumulation to keep the same effective batch`,
      shape: { ...shape, batchSize, ...(shape.evaluation ? { evaluation: { ...shape.evaluation, batchSize: Math.min(shape.evaluation.batchSize, batchSize) } } : {}) },
    });
  }
  if (shape.seqLength > 128) {
    const seqLength = Math.floor(shape.seqLength / 2);
    options.push({ what: `shorten max_length (${shape.seqLength} → ${seqLength})`, shape: { ...shape, seqLength, ...(shape.evaluation ? { evaluation: { ...shape.evaluation, seqLength: Math.min(shape.evaluation.seqLength, seqLength) } } : {}) } });
  }
  if (shape.weightDtype === 'f32') options.push({ what: 'load the weights as bf16 (halves their memory)', shape: { ...shape, weightDtype: 'bf16' } });
  else if (!isQuantized(shape.weightDtype) && int4Fits(model)) {
    options.push({ what: 'quantize the frozen projections to int4 (model.dtype "int4", QLoRA-style: about a quarter of their 16-bit memory)', shape: { ...shape, weightDtype: 'int4', tableDtype: shape.weightDtype } });
  }
  if (shape.lora.r > 8) options.push({ what: `use a smaller LoRA rank (${shape.lora.r} → ${shape.lora.r / 2})`, shape: { ...shape, lora: { ...shape.lora, r: Math.floor(shape.lora.r / 2) } } });
  return options;
}

/** Applies the first change of shrinkOptions again and again until the shape fits, or nothing is left to change. */
function smallestFitting(shape: TrainingShape, model: ModelConfig, fits: (shape: TrainingShape) => boolean): TrainingShape | undefined {
  let current = shape;
  for (let guard = 0; guard < 64; guard++) {
    const next = shrinkOptions(current, model)[0];
    if (!next) return undefined;
    current = next.shape;
    if (fits(current)) return current;
  }
  return undefined;
}

function describeShape(shape: TrainingShape): string {
  return `batch_size ${shape.batchSize}, max_length ${shape.seqLength}, recompute ${shape.recompute ? 'on' : 'off'}, ${describeWeightFormat(shapeWeightFormat(shape))} weights, LoRA r=${shape.lora.r}`;
}

function bindingAdvice(what: string): string {
  if (what.startsWith('MLP')) return 'lower the batch size or max_length';
  if (what.startsWith('loss chunk')) return 'use a smaller loss chunk';
  return 'this model is too large for this GPU';
}

export function formatMiB(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(2)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
