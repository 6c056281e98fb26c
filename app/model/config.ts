/**
 * Hugging Face config.json → the engine's ModelConfig, for the decoder-only Llama family, and the
 * list of weights (names and shapes) a config implies, so weights that don't match are refused with
 * the tensor named before anything reaches the GPU.
 */
import { CocktailError } from '../errors.ts';

export const SUPPORTED_ARCHITECTURES = ['LlamaForCausalLM', 'Qwen2ForCausalLM', 'MistralForCausalLM', 'Qwen3ForCausalLM'] as const;
export type Architecture = (typeof SUPPORTED_ARCHITECTURES)[number];

/** The seven projections LoRA can target, with the module path PEFT uses under each layer. */
export const LORA_TARGETS = {
  q_proj: 'self_attn.q_proj',
  k_proj: 'self_attn.k_proj',
  v_proj: 'self_attn.v_proj',
  o_proj: 'self_attn.o_proj',
  gate_proj: 'mlp.gate_proj',
  up_proj: 'mlp.up_proj',
  down_proj: 'mlp.down_proj',
} as const;
export type LoraTarget = keyof typeof LORA_TARGETS;

export interface Llama3RopeScaling {
  ropeType: 'llama3';
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositionEmbeddings: number;
}

export interface ModelConfig {
  architecture: Architecture;
  modelType: string;
  hiddenSize: number; // C
  intermediateSize: number; // I
  numLayers: number; // L
  numHeads: number; // H
  numKvHeads: number; // Hkv
  headDim: number; // D
  vocabSize: number; // V
  maxPositionEmbeddings: number;
  rmsNormEps: number;
  ropeTheta: number;
  /** Fraction of each head's dims that RoPE rotates (1 for the Llama family). */
  partialRotaryFactor: number;
  ropeScaling: Llama3RopeScaling | null;
  tieWordEmbeddings: boolean;
  /** Biases on q/k/v (Qwen2 always; Llama when attention_bias is true, which also biases o_proj). */
  qkvBias: boolean;
  oBias: boolean;
  mlpBias: boolean;
  /** Qwen3's q_norm and k_norm: an RMSNorm over each head [D] after the projection, before RoPE. */
  qkNorm: boolean;
  bosTokenId: number | null;
  eosTokenIds: number[];
  /** Sliding-window attention (Mistral); null when every token sees the whole prefix. */
  slidingWindow: number | null;
  /** The name the model was saved under (`_name_or_path`, written by save_pretrained): a Hub id or a path. */
  nameOrPath?: string;
}

export class ConfigError extends CocktailError {
  constructor(fileName: string, problem: string, details: Record<string, unknown> = {}) {
    super('MODEL_CONFIG_INVALID', `${fileName}: ${problem}`, { file: fileName, ...details });
  }
}

export function parseModelConfig(raw: unknown, fileName = 'config.json'): ModelConfig {
  const fail = (problem: string, field?: string) => new ConfigError(fileName, problem, field ? { field } : {});
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw fail('is not a JSON object');
  const config = raw as Record<string, unknown>;
  const architectures = config.architectures;
  const architecture = Array.isArray(architectures) ? architectures[0] : undefined;
  if (typeof architecture !== 'string' || !(SUPPORTED_ARCHITECTURES as readonly string[]).includes(architecture)) {
    throw new CocktailError(
      'MODEL_UNSUPPORTED',
      `${fileName}: architecture ${JSON.stringify(architecture ?? null)} is not supported. Supported: ${SUPPORTED_ARCHITECTURES.join(', ')} ` +
        '(SmolLM, SmolLM2, TinyLlama, Llama 3.x, Qwen2/2.5, Qwen3, Mistral).',
      { file: fileName, field: 'architectures', architecture },
    );
  }
  const integer = (field: string, fallback?: number): number => {
    const value = config[field] ?? fallback;
    if (!Number.isSafeInteger(value) || (value as number) <= 0) throw fail(`"${field}" must be a positive integer, got ${JSON.stringify(value)}`, field);
    return value as number;
  };
  const number = (field: string, fallback?: number): number => {
    const value = config[field] ?? fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw fail(`"${field}" must be a positive number, got ${JSON.stringify(value)}`, field);
    return value;
  };
  const activation = config.hidden_act ?? 'silu';
  if (activation !== 'silu') throw fail(`"hidden_act" ${JSON.stringify(activation)} is not supported; the Llama family uses "silu"`, 'hidden_act');

  const hiddenSize = integer('hidden_size');
  const numHeads = integer('num_attention_heads');
  const numKvHeads = integer('num_key_value_heads', numHeads);
  if (numHeads % numKvHeads !== 0) throw fail(`num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`, 'num_key_value_heads');
  const headDim = config.head_dim === undefined || config.head_dim === null ? hiddenSize / numHeads : integer('head_dim');
  if (!Number.isSafeInteger(headDim)) throw fail(`hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numHeads}; give head_dim`, 'head_dim');
  const partialRotaryFactor = config.partial_rotary_factor === undefined ? 1 : number('partial_rotary_factor');
  if (partialRotaryFactor > 1 || (headDim * partialRotaryFactor) % 2 !== 0) throw fail(`partial_rotary_factor ${partialRotaryFactor} must rotate an even number of dims of head_dim ${headDim}`, 'partial_rotary_factor');

  const isQwen2 = architecture === 'Qwen2ForCausalLM';
  const isQwen3 = architecture === 'Qwen3ForCausalLM';
  // Qwen3 attends over a sliding window in the layers from max_window_layers on when use_sliding_window is set; this engine has no such mixed layout.
  if (isQwen3 && config.use_sliding_window === true) throw fail('"use_sliding_window": true is not supported for Qwen3 (sliding-window layers are not implemented for it); the published Qwen3 checkpoints set it to false', 'use_sliding_window');
  const attentionBias = config.attention_bias === true;
  return {
    architecture: architecture as Architecture,
    modelType: typeof config.model_type === 'string' ? config.model_type : '',
    hiddenSize,
    intermediateSize: integer('intermediate_size'),
    numLayers: integer('num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    vocabSize: integer('vocab_size'),
    maxPositionEmbeddings: integer('max_position_embeddings', 2048),
    rmsNormEps: number('rms_norm_eps', 1e-6),
    ropeTheta: number('rope_theta', 10000),
    partialRotaryFactor,
    ropeScaling: parseRopeScaling(config.rope_scaling, fail),
    tieWordEmbeddings: config.tie_word_embeddings === true,
    qkvBias: isQwen2 || attentionBias,
    oBias: !isQwen2 && attentionBias,
    mlpBias: config.mlp_bias === true,
    qkNorm: isQwen3,
    bosTokenId: Number.isSafeInteger(config.bos_token_id) ? (config.bos_token_id as number) : null,
    eosTokenIds: tokenIds(config.eos_token_id),
    slidingWindow: architecture === 'MistralForCausalLM' && Number.isSafeInteger(config.sliding_window) ? (config.sliding_window as number) : null,
    ...(typeof config._name_or_path === 'string' && config._name_or_path.trim() !== '' ? { nameOrPath: config._name_or_path.trim() } : {}),
  };
}

function tokenIds(value: unknown): number[] {
  if (Number.isSafeInteger(value)) return [value as number];
  if (Array.isArray(value)) return value.filter((id): id is number => Number.isSafeInteger(id));
  return [];
}

function parseRopeScaling(raw: unknown, fail: (problem: string, field?: string) => Error): Llama3RopeScaling | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== 'object') throw fail('"rope_scaling" must be an object or null', 'rope_scaling');
  const scaling = raw as Record<string, unknown>;
  const type = scaling.rope_type ?? scaling.type;
  if (type === 'default') return null;
  if (type !== 'llama3') throw fail(`rope_scaling type ${JSON.stringify(type)} is not supported; supported: "llama3"`, 'rope_scaling.rope_type');
  const positive = (field: string): number => {
    const value = scaling[field];
    if (typeof value !== 'number' || !(value > 0)) throw fail(`"rope_scaling.${field}" must be a positive number, got ${JSON.stringify(value)}`, `rope_scaling.${field}`);
    return value;
  };
  return {
    ropeType: 'llama3',
    factor: positive('factor'),
    lowFreqFactor: positive('low_freq_factor'),
    highFreqFactor: positive('high_freq_factor'),
    originalMaxPositionEmbeddings: positive('original_max_position_embeddings'),
  };
}

export interface WeightSpec {
  name: string;
  shape: number[];
}

/** Every weight the config implies, with its HF name and shape. */
export function expectedWeights(config: ModelConfig): WeightSpec[] {
  const { hiddenSize: C, intermediateSize: I, numHeads: H, numKvHeads: Hkv, headDim: D, vocabSize: V } = config;
  const weights: WeightSpec[] = [{ name: 'model.embed_tokens.weight', shape: [V, C] }];
  for (let layer = 0; layer < config.numLayers; layer++) {
    const p = `model.layers.${layer}`;
    weights.push(
      { name: `${p}.input_layernorm.weight`, shape: [C] },
      { name: `${p}.self_attn.q_proj.weight`, shape: [H * D, C] },
      { name: `${p}.self_attn.k_proj.weight`, shape: [Hkv * D, C] },
      { name: `${p}.self_attn.v_proj.weight`, shape: [Hkv * D, C] },
      { name: `${p}.self_attn.o_proj.weight`, shape: [C, H * D] },
      { name: `${p}.post_attention_layernorm.weight`, shape: [C] },
      { name: `${p}.mlp.gate_proj.weight`, shape: [I, C] },
      { name: `${p}.mlp.up_proj.weight`, shape: [I, C] },
      { name: `${p}.mlp.down_proj.weight`, shape: [C, I] },
    );
    if (config.qkvBias) {
      weights.push({ name: `${p}.self_attn.q_proj.bias`, shape: [H * D] }, { name: `${p}.self_attn.k_proj.bias`, shape: [Hkv * D] }, { name: `${p}.self_attn.v_proj.bias`, shape: [Hkv * D] });
    }
    if (config.oBias) weights.push({ name: `${p}.self_attn.o_proj.bias`, shape: [C] });
    if (config.qkNorm) weights.push({ name: `${p}.self_attn.q_norm.weight`, shape: [D] }, { name: `${p}.self_attn.k_norm.weight`, shape: [D] });
    if (config.mlpBias) {
      weights.push({ name: `${p}.mlp.gate_proj.bias`, shape: [I] }, { name: `${p}.mlp.up_proj.bias`, shape: [I] }, { name: `${p}.mlp.down_proj.bias`, shape: [C] });
    }
  }
  weights.push({ name: 'model.norm.weight', shape: [C] });
  if (!config.tieWordEmbeddings) weights.push({ name: 'lm_head.weight', shape: [V, C] });
  return weights;
}

/** Parameter count of the base model (what "135M" counts). */
export function parameterCount(config: ModelConfig): number {
  return expectedWeights(config).reduce((sum, w) => sum + w.shape.reduce((n, d) => n * d, 1), 0);
}
