/**
 * A model's frozen weights on the GPU. Projection weights, the embedding and the LM head keep the
 * dtype they are stored in (bf16 and f16 bytes are uploaded exactly as safetensors lays them out:
 * little-endian halves, two per u32, which is what the kernels decode); RMSNorm weights and biases
 * are small and go up as f32. Tables larger than one binding are split by vocabulary rows.
 */
import type { GpuContext } from '../gpu/device.ts';
import { bf16BitsToF32, encodeTensorData, f16BitsToF32, type DType, type FrozenDType } from '../gpu/dtype.ts';
import { planEmbeddingParts } from '../gpu/ops/embedding.ts';
import { createRopeFrequencies, ropeAttentionFactor, ropeInverseFrequencies } from '../gpu/ops/rope.ts';
import { createQuantizedTensor, quantize } from '../gpu/quant.ts';
import { guardGpu } from '../gpu/scope.ts';
import { createTensor, type GpuTensor } from '../gpu/tensor.ts';
import { LORA_TARGETS, loraTargetsOf, type LoraTarget, type ModelConfig } from './config.ts';
import { checkPrequantizedRequest, int4WordsFromPacked } from './prequantized.ts';
import { checkModelQuantization, weightFormat, type Int4Options, type WeightFormat } from './quantization.ts';
import { readPackedProjection, readWeightFloat64, readWeightRangeBytes, readWeightRangeFloat32, type ModelWeights, type WeightRef } from './weights.ts';

export interface GpuLayer {
  inputNorm: GpuTensor;
  postAttentionNorm: GpuTensor;
  /** Gemma 3's norms on each branch's output, before its residual add (f32, as 1 + w). */
  sandwich?: { postAttention: GpuTensor; postFeedforward: GpuTensor };
  /** Qwen3's and Gemma 3's per-head q_norm and k_norm weights [D] (f32), when the config has them. */
  qNorm?: GpuTensor;
  kNorm?: GpuTensor;
  /** Frozen projection weights [out, in] and their biases where the architecture has them: the projections loraTargetsOf(config) lists. */
  projections: Partial<Record<LoraTarget, { weight: GpuTensor; bias?: GpuTensor }>>;
}

export interface GpuModel {
  config: ModelConfig;
  /** The dtype projection weights are kept in on the GPU. */
  weightDtype: FrozenDType;
  /** Projections' dtype, the vocabulary tables' (16-bit when the projections are quantized) and the quantization. */
  format: WeightFormat;
  embedding: GpuTensor[];
  layers: GpuLayer[];
  finalNorm: GpuTensor;
  /** The LM head's vocabulary parts: the embedding's when tied. */
  lmHead: GpuTensor[];
  ropeFrequencies: GpuTensor;
  /** LongRoPE's table for sequences longer than original_max_position_embeddings (absent without LongRoPE). */
  ropeFrequenciesLong?: GpuTensor;
  /** What multiplies RoPE's cos and sin: LongRoPE's attention factor, else 1. */
  ropeScale: number;
  /** Gemma 3's sliding-window layers' table (base rope_local_base_freq, no scaling). */
  ropeFrequenciesLocal?: GpuTensor;
  /** What the embeddings are multiplied by: Gemma 3's √hidden_size rounded to the stored table's dtype, else 1. */
  embeddingScale: number;
  /** Bytes of every buffer above. */
  bytes: number;
  destroy(): void;
}

const STORED_DTYPE = { F32: 'f32', BF16: 'bf16', F16: 'f16' } as const;

export interface LoadOptions {
  /**
   * Keep weights in this dtype on the GPU: f32 weights can be narrowed to bf16/f16 to halve memory, and
   * int8/int4 quantize the projections on upload (app/model/quantization.ts); default: as stored.
   */
  dtype?: FrozenDType;
  /** int4's group size and symmetry (default: group 64 with zero points). */
  int4?: Int4Options;
  onProgress?: (loaded: number, total: number) => void;
}

/**
 * The model's weights on the GPU. Out of memory part way (the weights did not fit) or any other
 * failure frees what was uploaded and throws; nothing is left allocated.
 */
export async function uploadModel(ctx: GpuContext, config: ModelConfig, weights: ModelWeights, options: LoadOptions = {}): Promise<GpuModel> {
  const tensors: GpuTensor[] = [];
  try {
    return await guardGpu(ctx, `uploading the ${config.numLayers}-layer model's weights`, () => uploadWeights(ctx, config, weights, options, tensors));
  } catch (error) {
    for (const tensor of tensors) tensor.buffer.destroy();
    throw error;
  }
}

async function uploadWeights(ctx: GpuContext, config: ModelConfig, weights: ModelWeights, options: LoadOptions, tensors: GpuTensor[]): Promise<GpuModel> {
  const total = weights.refs.size + (weights.prequantized?.packed.size ?? 0);
  let loaded = 0;
  const ref = (name: string): WeightRef => weights.refs.get(name)!;
  const track = (tensor: GpuTensor): GpuTensor => {
    tensors.push(tensor);
    options.onProgress?.(++loaded, total);
    return tensor;
  };
  const { prequantized } = weights;
  // A GPTQ/AWQ checkpoint's projections are int4 in its own groups, whatever the load asks (a mismatch is refused).
  if (prequantized) checkPrequantizedRequest(prequantized.format, { ...(options.dtype ? { dtype: options.dtype } : {}), ...(options.int4 ? { group: options.int4.group } : {}) }, 'loading the model');
  const format = prequantized
    ? weightFormat(STORED_DTYPE[weights.dtype], 'int4', { group: prequantized.format.group, symmetric: prequantized.format.symmetric })
    : weightFormat(STORED_DTYPE[weights.dtype], options.dtype, options.int4);
  checkModelQuantization(config, format.spec);
  const packed = async (name: string, dtype: DType, rows?: { start: number; count: number }): Promise<GpuTensor> => {
    const source = ref(name);
    const [allRows, columns] = source.shape as [number, number];
    const start = rows?.start ?? 0;
    const count = rows?.count ?? allRows;
    const label = rows ? `${name}[${start}:${start + count}]` : name;
    return track(createTensor(ctx.device, label, [count, columns], dtype, await weightData(source, dtype, start * columns, count * columns)));
  };
  const projection = async (name: string): Promise<GpuTensor> => {
    const packedRef = prequantized?.packed.get(name);
    if (packedRef && prequantized) {
      const [rows, columns] = packedRef.shape;
      const words = int4WordsFromPacked(name, prequantized.format, await readPackedProjection(packedRef), rows, columns);
      return track(createQuantizedTensor(ctx.device, name, [rows, columns], format.spec!, words));
    }
    if (!format.spec) return packed(name, format.dtype as DType);
    const source = ref(name);
    const [rows, columns] = source.shape as [number, number];
    const words = quantize(name, format.spec, await readWeightRangeFloat32(source, 0, rows * columns), rows, columns);
    return track(createQuantizedTensor(ctx.device, name, [rows, columns], format.spec, words));
  };
  // Gemma3RMSNorm computes x·(1 + w) with w in float32: uploading 1 + w (added in f32) gives the same product.
  const normPlusOne = config.gemma !== null;
  const float = async (name: string): Promise<GpuTensor> => {
    const source = ref(name);
    const values = Float32Array.from(await readWeightFloat64(source));
    if (normPlusOne && name.endsWith('norm.weight')) for (let i = 0; i < values.length; i++) values[i] = Math.fround(1 + values[i]!);
    return track(createTensor(ctx.device, name, source.shape, 'f32', values));
  };

  const vocabParts = async (name: string): Promise<GpuTensor[]> =>
    Promise.all(planEmbeddingParts(ctx.device, config.vocabSize, config.hiddenSize, format.tables).map((part) => packed(name, format.tables, { start: part.rowStart, count: part.rows })));

  const embedding = await vocabParts('model.embed_tokens.weight');
  const layers: GpuLayer[] = [];
  for (let layer = 0; layer < config.numLayers; layer++) {
    const prefix = `model.layers.${layer}`;
    const projections = {} as GpuLayer['projections'];
    for (const target of loraTargetsOf(config)) {
      const path = `${prefix}.${LORA_TARGETS[target]}`;
      projections[target] = { weight: await projection(`${path}.weight`), ...(weights.refs.has(`${path}.bias`) ? { bias: await float(`${path}.bias`) } : {}) };
    }
    const headNorms = config.qkNorm ? { qNorm: await float(`${prefix}.self_attn.q_norm.weight`), kNorm: await float(`${prefix}.self_attn.k_norm.weight`) } : {};
    if (config.gemma) {
      // The MLP's input norm is pre_feedforward_layernorm; post_attention_layernorm normalises the attention output.
      const sandwich = { postAttention: await float(`${prefix}.post_attention_layernorm.weight`), postFeedforward: await float(`${prefix}.post_feedforward_layernorm.weight`) };
      layers.push({ inputNorm: await float(`${prefix}.input_layernorm.weight`), postAttentionNorm: await float(`${prefix}.pre_feedforward_layernorm.weight`), sandwich, ...headNorms, projections });
    } else {
      layers.push({ inputNorm: await float(`${prefix}.input_layernorm.weight`), postAttentionNorm: await float(`${prefix}.post_attention_layernorm.weight`), ...headNorms, projections });
    }
  }
  const finalNorm = await float('model.norm.weight');
  const lmHead = config.tieWordEmbeddings ? embedding : await vocabParts('lm_head.weight');
  const ropeFrequencies = createRopeFrequencies(ctx.device, 'rope inv_freq', ropeInverseFrequencies(config));
  tensors.push(ropeFrequencies);
  const longRope = config.ropeScaling?.ropeType === 'longrope' ? config.ropeScaling : undefined;
  const ropeFrequenciesLong = longRope ? createRopeFrequencies(ctx.device, 'rope inv_freq (LongRoPE long factors)', ropeInverseFrequencies(config, longRope.originalMaxPositionEmbeddings + 1)) : undefined;
  if (ropeFrequenciesLong) tensors.push(ropeFrequenciesLong);
  const ropeFrequenciesLocal = config.gemma ? createRopeFrequencies(ctx.device, 'rope inv_freq (sliding layers)', ropeInverseFrequencies({ ...config, ropeTheta: config.gemma.ropeLocalTheta, ropeScaling: null })) : undefined;
  if (ropeFrequenciesLocal) tensors.push(ropeFrequenciesLocal);
  return {
    config,
    weightDtype: format.dtype,
    format,
    embedding,
    layers,
    finalNorm,
    lmHead,
    ropeFrequencies,
    ...(ropeFrequenciesLong ? { ropeFrequenciesLong } : {}),
    ropeScale: ropeAttentionFactor(config),
    ...(ropeFrequenciesLocal ? { ropeFrequenciesLocal } : {}),
    embeddingScale: config.gemma ? roundToStored(config.gemma.embeddingScale, ref('model.embed_tokens.weight').dtype) : 1,
    bytes: tensors.reduce((sum, tensor) => sum + tensor.buffer.size, 0),
    destroy: () => tensors.forEach((tensor) => tensor.buffer.destroy()),
  };
}

/** `value` rounded to a stored dtype, as torch's `.to(weight.dtype)` rounds Gemma's embedding scale. */
function roundToStored(value: number, dtype: WeightRef['dtype']): number {
  if (dtype === 'F32') return Math.fround(value);
  const bits = encodeTensorData(STORED_DTYPE[dtype], [value])[0]! & 0xffff;
  return dtype === 'BF16' ? bf16BitsToF32(bits) : f16BitsToF32(bits);
}

/**
 * Elements [offset, offset + count) of a weight, encoded for `dtype`. When the stored dtype is the
 * GPU dtype the bytes go up untouched; otherwise they are converted (round to nearest even).
 */
async function weightData(ref: WeightRef, dtype: DType, offset: number, count: number): Promise<Uint32Array<ArrayBuffer>> {
  if (STORED_DTYPE[ref.dtype] === dtype) {
    const bytes = await readWeightRangeBytes(ref, offset, count);
    const padded = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
    padded.set(bytes);
    return new Uint32Array(padded.buffer);
  }
  return encodeTensorData(dtype, await readWeightRangeFloat32(ref, offset, count));
}

