import type { TokenizedExample } from '../app/data/tokenize/types.ts';
import type { GpuContext } from '../app/gpu/device.ts';
import type { DType } from '../app/gpu/dtype.ts';
import { parseModelConfig, type LoraTarget, type ModelConfig } from '../app/model/config.ts';
import { uploadModel, type GpuModel, type LoadOptions } from '../app/model/gpu-model.ts';
import { randomModelTensors } from '../app/model/random-model.ts';
import { initLoraAdapter, loraScale, type LoraAdapter } from '../app/model/lora.ts';
import type { ReferenceLora, ReferenceWeights } from '../app/model/reference.ts';
import { writeSafetensors } from '../app/model/safetensors.ts';
import type { ModelFiles } from '../app/model/source.ts';
import { locateWeights, readWeightFloat64 } from '../app/model/weights.ts';
import type { PreparedTask } from '../app/train/task-data.ts';
import { Random } from '../app/util/random.ts';

/**
 * Tiny random-weight models for tests that need architecture features the real 260K fixture lacks:
 * grouped-query attention, Qwen2's q/k/v biases (drawn non-zero so they matter), an untied LM head,
 * bf16 weights. Configs are Hugging Face config.json objects, parsed as a real one would be.
 */
export const QWEN2_TINY = {
  architectures: ['Qwen2ForCausalLM'],
  hidden_size: 32,
  intermediate_size: 48,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  vocab_size: 96,
  max_position_embeddings: 64,
  rms_norm_eps: 1e-6,
  rope_theta: 10000,
  tie_word_embeddings: false,
};

/** Qwen3: q/k head norms, and a head_dim (12) that is not hidden_size / heads (8). */
export const QWEN3_TINY = { ...QWEN2_TINY, architectures: ['Qwen3ForCausalLM'], head_dim: 12, attention_bias: false };

/** Phi-3: fused qkv_proj and gate_up_proj, GQA, partial rotary 0.5 with LongRoPE (original 16 of 64 positions), untied head. */
export const PHI3_TINY = {
  architectures: ['Phi3ForCausalLM'],
  hidden_size: 32,
  intermediate_size: 40,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  vocab_size: 90,
  max_position_embeddings: 64,
  original_max_position_embeddings: 16,
  partial_rotary_factor: 0.5,
  rope_scaling: { type: 'longrope', short_factor: [1, 1.5], long_factor: [2, 5] },
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  tie_word_embeddings: false,
};

/** Gemma 3: a sliding and a full layer, MQA (one KV head), head_dim 16 with query_pre_attn_scalar 12, GeGLU, four norms a layer. */
export const GEMMA3_TINY = {
  architectures: ['Gemma3ForCausalLM'],
  hidden_size: 32,
  intermediate_size: 48,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 1,
  head_dim: 16,
  query_pre_attn_scalar: 12,
  layer_types: ['sliding_attention', 'full_attention'],
  sliding_window: 64,
  rope_local_base_freq: 10000,
  rope_theta: 1000000,
  vocab_size: 96,
  max_position_embeddings: 128,
  rms_norm_eps: 1e-6,
};

export const LLAMA_TINY = { ...QWEN2_TINY, architectures: ['LlamaForCausalLM'], num_key_value_heads: 4, tie_word_embeddings: true, vocab_size: 80 };

export interface RandomModel {
  config: ModelConfig;
  gpu: GpuModel;
  /** The exact values the GPU holds (bf16-rounded where the weights are bf16), for the Float64 reference. */
  reference: ReferenceWeights;
}

/**
 * `initializerRange` defaults to 0.2, which keeps tiny models' activations lively; a model at a real
 * model's width wants the config's own 0.02, or attention saturates.
 */
export async function randomModel(ctx: GpuContext, raw: object, dtype: DType, seed = 1, options: { initializerRange?: number } = {}): Promise<RandomModel> {
  const config = parseModelConfig(raw);
  const tensors = randomModelTensors(config, { dtype, seed, initializerRange: options.initializerRange ?? 0.2 });
  // transformers initialises biases to zero and head norms to one; a test of their handling needs them to matter.
  const random = Random.fromSeed(seed + 1000);
  const withBiases = tensors.map((tensor) => {
    const headNorm = tensor.name.endsWith('q_norm.weight') || tensor.name.endsWith('k_norm.weight');
    if (!tensor.name.endsWith('.bias') && !headNorm) return tensor;
    const values = new Float32Array(tensor.shape.reduce((a, b) => a * b, 1));
    random.fillUniform(values, headNorm ? 0.5 : -0.2, headNorm ? 1.5 : 0.2);
    return { ...tensor, dtype: 'F32' as const, data: new Uint8Array(values.buffer) };
  });
  const blob = writeSafetensors(withBiases, { format: 'pt' });
  const files: ModelFiles = { label: 'random model', has: (path) => path === 'model.safetensors', open: async () => blob, list: () => ['model.safetensors'] };
  const weights = await locateWeights(files, config);
  const reference = new Map<string, Float64Array>();
  for (const ref of weights.refs.values()) reference.set(ref.name, await readWeightFloat64(ref));
  return { config, gpu: await uploadModel(ctx, config, weights), reference: { config, tensors: reference } };
}

/**
 * Only the GPU model, for tests of allocation at a real model's width, where randomModel's Float64
 * copy of every weight would take gigabytes.
 */
export async function randomGpuModel(ctx: GpuContext, raw: object, dtype: DType, seed = 1, load: LoadOptions = {}): Promise<GpuModel> {
  const config = parseModelConfig(raw);
  const blob = writeSafetensors(randomModelTensors(config, { dtype, seed }), { format: 'pt' });
  const files: ModelFiles = { label: 'random model', has: (path) => path === 'model.safetensors', open: async () => blob, list: () => ['model.safetensors'] };
  return uploadModel(ctx, config, await locateWeights(files, config), load);
}

/** A task of random token sequences of the given lengths, every token after the first labelled. */
export function randomTask(name: string, vocabSize: number, lengths: readonly number[], seed: number): PreparedTask {
  const random = Random.fromSeed(seed);
  const examples: TokenizedExample[] = lengths.map((length, i) => {
    const ids = Int32Array.from({ length }, () => Math.floor(random.next() * vocabSize));
    return { source: { row: i + 1 }, inputIds: ids, labels: Int32Array.from(ids, (id, t) => (t === 0 ? -100 : id)), turnIndex: new Int32Array(length).fill(-1), roles: [], truncatedTokens: 0 };
  });
  return { name, role: 'task', metric: 'loss', train: examples, validation: examples.slice(0, 2), validationPrompts: [], meanTokens: lengths.reduce((a, b) => a + b, 0) / lengths.length };
}

/**
 * A rank-2 LoRA adapter (alpha 4) whose B is uniform in ±spread — PEFT starts B at zero, which would
 * leave the adapter out of every number a test compares — and its Float64 copy for the reference.
 */
export function randomLora(config: ModelConfig, targets: LoraTarget[], seeds: { adapter: number; b: number }, spread: number): { adapter: LoraAdapter; float64: ReferenceLora } {
  const adapter = initLoraAdapter(config, { r: 2, alpha: 4, dropout: 0, targets, rslora: false }, seeds.adapter);
  const random = Random.fromSeed(seeds.b);
  for (const pair of adapter.pairs.values()) random.fillUniform(pair.b, -spread, spread);
  const pairs = new Map([...adapter.pairs].map(([key, pair]) => [key, { a: Float64Array.from(pair.a), b: Float64Array.from(pair.b) }]));
  return { adapter, float64: { scale: loraScale(adapter.config), r: 2, pairs } };
}
