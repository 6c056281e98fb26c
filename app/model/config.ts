/**
 * Hugging Face config.json → the engine's ModelConfig, for the decoder-only Llama family, and the
 * list of weights (names and shapes) a config implies, so weights that don't match are refused with
 * the tensor named before anything reaches the GPU.
 */
import { CocktailError } from '../errors.ts';
import { MAX_HEAD_DIM } from '../gpu/ops/attention-limits.ts';

export const SUPPORTED_ARCHITECTURES = ['LlamaForCausalLM', 'Qwen2ForCausalLM', 'MistralForCausalLM', 'Qwen3ForCausalLM', 'Phi3ForCausalLM', 'Gemma3ForCausalLM'] as const;
export type Architecture = (typeof SUPPORTED_ARCHITECTURES)[number];

/**
 * The projections LoRA can target, with the module path PEFT uses under each layer: the Llama
 * family's seven, and Phi-3's fused qkv_proj ([Q | K | V]) and gate_up_proj ([gate | up]), which
 * take the place of q/k/v_proj and gate/up_proj there.
 */
export const LORA_TARGETS = {
  q_proj: 'self_attn.q_proj',
  k_proj: 'self_attn.k_proj',
  v_proj: 'self_attn.v_proj',
  o_proj: 'self_attn.o_proj',
  gate_proj: 'mlp.gate_proj',
  up_proj: 'mlp.up_proj',
  down_proj: 'mlp.down_proj',
  qkv_proj: 'self_attn.qkv_proj',
  gate_up_proj: 'mlp.gate_up_proj',
} as const;
export type LoraTarget = keyof typeof LORA_TARGETS;

const SEPARATE_TARGETS: readonly LoraTarget[] = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
const FUSED_TARGETS: readonly LoraTarget[] = ['qkv_proj', 'o_proj', 'gate_up_proj', 'down_proj'];

/** Architectures whose attention and MLP projections are fused (qkv_proj, gate_up_proj). */
const FUSED_ARCHITECTURES: readonly string[] = ['Phi3ForCausalLM'];

/** The projections a model of this architecture has, for callers holding only its name (the studio's model summary). */
export function loraTargetsOfArchitecture(architecture: string): readonly LoraTarget[] {
  return loraTargetsOf({ fusedProjections: FUSED_ARCHITECTURES.includes(architecture) });
}

/** The projections a model of this config has (and LoRA can target), in layer order. */
export function loraTargetsOf(config: Pick<ModelConfig, 'fusedProjections'>): readonly LoraTarget[] {
  return config.fusedProjections ? FUSED_TARGETS : SEPARATE_TARGETS;
}

export interface Llama3RopeScaling {
  ropeType: 'llama3';
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositionEmbeddings: number;
}

/** Phi-3's LongRoPE: per-frequency factors below and above original_max_position_embeddings, and the factor on cos and sin. */
export interface LongRopeScaling {
  ropeType: 'longrope';
  shortFactor: number[];
  longFactor: number[];
  originalMaxPositionEmbeddings: number;
  attentionFactor: number;
}

/** What Gemma 3 (text) computes differently from the Llama family (modeling_gemma3.py). */
export interface GemmaLayout {
  /** Embeddings are multiplied by √hidden_size (in the weights' dtype, as Gemma3TextScaledWordEmbedding does). */
  embeddingScale: number;
  /** Attention scores are scaled by query_pre_attn_scalar^−½ instead of head_dim^−½. */
  attentionScale: number;
  /** Per layer: true for a sliding-window layer (RoPE base rope_local_base_freq), false for a full one (rope_theta and rope_scaling). */
  slidingLayers: boolean[];
  ropeLocalTheta: number;
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
  ropeScaling: Llama3RopeScaling | LongRopeScaling | null;
  tieWordEmbeddings: boolean;
  /** Biases on q/k/v (Qwen2 always; Llama when attention_bias is true, which also biases o_proj). */
  qkvBias: boolean;
  oBias: boolean;
  mlpBias: boolean;
  /** Phi-3: one qkv_proj [(H + 2·Hkv)·D, C] split as [Q | K | V], one gate_up_proj [2·I, C] split as [gate | up]. */
  fusedProjections: boolean;
  /** The gated MLP's activation: silu (SwiGLU), or Gemma 3's gelu_pytorch_tanh (GeGLU). */
  mlpActivation: 'silu' | 'gelu_tanh';
  /**
   * Gemma 3: every RMSNorm computes x·(1 + w); a layer has four norms (input, post-attention before the
   * residual add, pre-feed-forward, post-feed-forward before the add); see GemmaLayout. Null otherwise.
   */
  gemma: GemmaLayout | null;
  /** Qwen3's and Gemma 3's q_norm and k_norm: an RMSNorm over each head [D] after the projection, before RoPE. */
  qkNorm: boolean;
  /**
   * Gemma's final_logit_softcapping: the logits the loss, evaluation and generation see are cap·tanh(logit / cap)
   * (Gemma3ForCausalLM.forward). Null when the config leaves it out or null, as the published Gemma 3 configs do.
   */
  finalLogitSoftcapping: number | null;
  bosTokenId: number | null;
  eosTokenIds: number[];
  /**
   * Sliding-window attention: a token sees the slidingWindow positions ending at its own (Mistral's and
   * Phi-3's every layer, Gemma 3's sliding layers; see attentionWindowOf); null when every token sees the
   * whole prefix.
   */
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
        '(SmolLM, SmolLM2, TinyLlama, Llama 3.x, Qwen2/2.5, Qwen3, Mistral, Phi-3, Phi-4-mini).',
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
  const isGemma3 = architecture === 'Gemma3ForCausalLM';
  // Gemma3TextConfig names it hidden_activation; the others hidden_act.
  const activationField = isGemma3 ? 'hidden_activation' : 'hidden_act';
  const activation = config[activationField] ?? (isGemma3 ? 'gelu_pytorch_tanh' : 'silu');
  const supportedActivation = isGemma3 ? 'gelu_pytorch_tanh' : 'silu';
  if (activation !== supportedActivation) throw fail(`"${activationField}" ${JSON.stringify(activation)} is not supported; ${architecture} here uses "${supportedActivation}"`, activationField);

  const hiddenSize = integer('hidden_size');
  const numHeads = integer('num_attention_heads');
  const numKvHeads = integer('num_key_value_heads', numHeads);
  if (numHeads % numKvHeads !== 0) throw fail(`num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`, 'num_key_value_heads');
  const headDim = config.head_dim === undefined || config.head_dim === null ? hiddenSize / numHeads : integer('head_dim');
  if (!Number.isSafeInteger(headDim)) throw fail(`hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numHeads}; give head_dim`, 'head_dim');
  // Refused here, before any weight is downloaded, rather than by the attention kernel at the first forward (Gemma 3's head_dim is 256).
  if (headDim > MAX_HEAD_DIM || headDim % 4 !== 0) throw fail(`head_dim ${headDim} is not supported: the attention kernel holds head dims that are multiples of 4 up to ${MAX_HEAD_DIM}`, 'head_dim');
  const partialRotaryFactor = config.partial_rotary_factor === undefined ? 1 : number('partial_rotary_factor');
  if (partialRotaryFactor > 1 || (headDim * partialRotaryFactor) % 2 !== 0) throw fail(`partial_rotary_factor ${partialRotaryFactor} must rotate an even number of dims of head_dim ${headDim}`, 'partial_rotary_factor');

  const isQwen2 = architecture === 'Qwen2ForCausalLM';
  const isQwen3 = architecture === 'Qwen3ForCausalLM';
  // Qwen3 attends over a sliding window in the layers from max_window_layers on when use_sliding_window is set; this engine has no such mixed layout.
  if (isQwen3 && config.use_sliding_window === true) throw fail('"use_sliding_window": true is not supported for Qwen3 (sliding-window layers are not implemented for it); the published Qwen3 checkpoints set it to false', 'use_sliding_window');
  const isPhi3 = FUSED_ARCHITECTURES.includes(architecture);
  if (isPhi3) refuseUnimplementedPhi3Keys(config, fail);
  // Phi-3's projections carry no bias whatever attention_bias says (modeling_phi3.py builds them with bias=False).
  const attentionBias = !isPhi3 && config.attention_bias === true;
  const maxPositionEmbeddings = integer('max_position_embeddings', 2048);
  const rotaryHalf = Math.trunc(headDim * partialRotaryFactor) / 2;
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
    maxPositionEmbeddings,
    rmsNormEps: number('rms_norm_eps', 1e-6),
    ropeTheta: number('rope_theta', 10000),
    partialRotaryFactor,
    ropeScaling: parseRopeScaling(config, { rotaryHalf, maxPositionEmbeddings }, fail),
    // Gemma3TextConfig ties the head unless told otherwise; the others default to untied.
    tieWordEmbeddings: isGemma3 ? config.tie_word_embeddings !== false : config.tie_word_embeddings === true,
    qkvBias: isQwen2 || attentionBias,
    oBias: !isQwen2 && attentionBias,
    mlpBias: !isPhi3 && config.mlp_bias === true,
    fusedProjections: isPhi3,
    mlpActivation: isGemma3 ? 'gelu_tanh' : 'silu',
    gemma: isGemma3 ? parseGemmaLayout(config, { hiddenSize, headDim, numLayers: integer('num_hidden_layers') }, fail) : null,
    qkNorm: isQwen3 || isGemma3,
    finalLogitSoftcapping: isGemma3 ? finalLogitSoftcappingOf(config, fail) : null,
    bosTokenId: Number.isSafeInteger(config.bos_token_id) ? (config.bos_token_id as number) : null,
    eosTokenIds: tokenIds(config.eos_token_id),
    slidingWindow: slidingWindowOf(architecture, config.sliding_window, maxPositionEmbeddings),
    ...(typeof config._name_or_path === 'string' && config._name_or_path.trim() !== '' ? { nameOrPath: config._name_or_path.trim() } : {}),
  };
}

/**
 * The sliding window of one layer, or null for a layer that sees the whole prefix: Gemma 3 windows its
 * sliding layers only (layer_types), Mistral and Phi-3 every layer. transformers' masks let query q see
 * key k when q − window < k <= q (masking_utils.sliding_window_overlay), so `window` positions, q's own included.
 */
export function attentionWindowOf(config: Pick<ModelConfig, 'slidingWindow' | 'gemma'>, layer: number): number | null {
  if (config.slidingWindow === null) return null;
  if (config.gemma && !config.gemma.slidingLayers[layer]) return null;
  return config.slidingWindow;
}

/**
 * Mistral's and Phi-3's window (Phi-3-mini-4k: 2047 positions, the current one included); Phi-4-mini's
 * 262144 is past its whole context, so it never applies.
 */
function slidingWindowOf(architecture: string, window: unknown, maxPositionEmbeddings: number): number | null {
  if (architecture !== 'MistralForCausalLM' && architecture !== 'Phi3ForCausalLM' && architecture !== 'Gemma3ForCausalLM') return null;
  if (!Number.isSafeInteger(window)) return null;
  return architecture === 'Phi3ForCausalLM' && (window as number) >= maxPositionEmbeddings ? null : (window as number);
}

/**
 * Gemma3TextConfig's layer layout: layer_types, or else every sliding_window_pattern-th layer full
 * (layer i slides unless (i + 1) % pattern == 0); attention scaled by query_pre_attn_scalar^−½;
 * embeddings by √hidden_size. Attention-logit soft-capping (Gemma 2's) and bidirectional attention are refused by name.
 */
function parseGemmaLayout(
  config: Record<string, unknown>,
  { hiddenSize, headDim, numLayers }: { hiddenSize: number; headDim: number; numLayers: number },
  fail: (problem: string, field?: string) => Error,
): GemmaLayout {
  if (config.attn_logit_softcapping !== undefined && config.attn_logit_softcapping !== null) {
    throw fail(`"attn_logit_softcapping": ${JSON.stringify(config.attn_logit_softcapping)} is not supported (attention-logit soft-capping is not implemented); the published Gemma 3 configs set it to null`, 'attn_logit_softcapping');
  }
  if (config.use_bidirectional_attention === true) throw fail('"use_bidirectional_attention": true is not supported; this engine trains causal decoders', 'use_bidirectional_attention');
  let slidingLayers: boolean[];
  if (Array.isArray(config.layer_types)) {
    const types = config.layer_types as unknown[];
    if (types.length !== numLayers || !types.every((type) => type === 'sliding_attention' || type === 'full_attention')) {
      throw fail(`"layer_types" must list "sliding_attention" or "full_attention" for each of the ${numLayers} layers`, 'layer_types');
    }
    slidingLayers = types.map((type) => type === 'sliding_attention');
  } else {
    const pattern = config.sliding_window_pattern ?? config._sliding_window_pattern ?? 6;
    if (!Number.isSafeInteger(pattern) || (pattern as number) < 1) throw fail(`"sliding_window_pattern" must be a positive integer, got ${JSON.stringify(pattern)}`, 'sliding_window_pattern');
    slidingLayers = Array.from({ length: numLayers }, (_, i) => (i + 1) % (pattern as number) !== 0);
  }
  const scalar = config.query_pre_attn_scalar ?? headDim;
  if (typeof scalar !== 'number' || !(scalar > 0)) throw fail(`"query_pre_attn_scalar" must be a positive number, got ${JSON.stringify(scalar)}`, 'query_pre_attn_scalar');
  const localTheta = config.rope_local_base_freq ?? 10000;
  if (typeof localTheta !== 'number' || !(localTheta > 0)) throw fail(`"rope_local_base_freq" must be a positive number, got ${JSON.stringify(localTheta)}`, 'rope_local_base_freq');
  return { embeddingScale: Math.sqrt(hiddenSize), attentionScale: scalar ** -0.5, slidingLayers, ropeLocalTheta: localTheta };
}

/** Gemma's final_logit_softcapping: a positive cap, or null (absent) for none. */
function finalLogitSoftcappingOf(config: Record<string, unknown>, fail: (problem: string, field?: string) => Error): number | null {
  const cap = config.final_logit_softcapping;
  if (cap === undefined || cap === null) return null;
  if (typeof cap !== 'number' || !Number.isFinite(cap) || cap <= 0) throw fail(`"final_logit_softcapping" must be a positive number or null, got ${JSON.stringify(cap)}`, 'final_logit_softcapping');
  return cap;
}

/** Keys of Phi-3 configs that change the model in ways this engine does not compute, refused by name. */
function refuseUnimplementedPhi3Keys(config: Record<string, unknown>, fail: (problem: string, field?: string) => Error): void {
  if (config.lm_head_bias === true) throw fail('"lm_head_bias": true is not supported (the LM head here has no bias)', 'lm_head_bias');
  for (const field of ['full_attn_mod', 'interpolate_factor']) {
    if (config[field] !== undefined && config[field] !== 1) throw fail(`"${field}": ${JSON.stringify(config[field])} is not supported; only 1 (the published Phi-4-mini value) is`, field);
  }
}

function tokenIds(value: unknown): number[] {
  if (Number.isSafeInteger(value)) return [value as number];
  if (Array.isArray(value)) return value.filter((id): id is number => Number.isSafeInteger(id));
  return [];
}

function parseRopeScaling(
  config: Record<string, unknown>,
  { rotaryHalf, maxPositionEmbeddings }: { rotaryHalf: number; maxPositionEmbeddings: number },
  fail: (problem: string, field?: string) => Error,
): Llama3RopeScaling | LongRopeScaling | null {
  const raw = config.rope_scaling;
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== 'object') throw fail('"rope_scaling" must be an object or null', 'rope_scaling');
  const scaling = raw as Record<string, unknown>;
  const type = scaling.rope_type ?? scaling.type;
  if (type === 'default') return null;
  const positive = (field: string, value = scaling[field]): number => {
    if (typeof value !== 'number' || !(value > 0)) throw fail(`"rope_scaling.${field}" must be a positive number, got ${JSON.stringify(value)}`, `rope_scaling.${field}`);
    return value;
  };
  if (type === 'longrope') {
    const factors = (field: string): number[] => {
      const value = scaling[field];
      if (!Array.isArray(value) || value.length !== rotaryHalf || !value.every((factor) => typeof factor === 'number' && factor > 0)) {
        throw fail(`"rope_scaling.${field}" must list ${rotaryHalf} positive numbers (rotary_dim / 2), got ${Array.isArray(value) ? `${value.length} values` : JSON.stringify(value)}`, `rope_scaling.${field}`);
      }
      return value as number[];
    };
    const original = positive('original_max_position_embeddings', scaling.original_max_position_embeddings ?? config.original_max_position_embeddings);
    // transformers' _compute_longrope_parameters: factor = max_position_embeddings / original, and unless given,
    // attention_factor = √(1 + ln factor / ln original) when factor > 1.
    const factor = maxPositionEmbeddings / original;
    const attentionFactor = scaling.attention_factor !== undefined && scaling.attention_factor !== null ? positive('attention_factor') : factor > 1 ? Math.sqrt(1 + Math.log(factor) / Math.log(original)) : 1;
    return { ropeType: 'longrope', shortFactor: factors('short_factor'), longFactor: factors('long_factor'), originalMaxPositionEmbeddings: original, attentionFactor };
  }
  if (type !== 'llama3') throw fail(`rope_scaling type ${JSON.stringify(type)} is not supported; supported: "llama3", "longrope"`, 'rope_scaling.rope_type');
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
    const projection = (target: LoraTarget): WeightSpec => {
      const { inFeatures, outFeatures } = projectionFeatures(config, target);
      return { name: `${p}.${LORA_TARGETS[target]}.weight`, shape: [outFeatures, inFeatures] };
    };
    const targets = loraTargetsOf(config);
    const attention = targets.filter((target) => LORA_TARGETS[target].startsWith('self_attn.'));
    const mlp = targets.filter((target) => LORA_TARGETS[target].startsWith('mlp.'));
    weights.push(
      { name: `${p}.input_layernorm.weight`, shape: [C] },
      ...attention.map(projection),
      { name: `${p}.post_attention_layernorm.weight`, shape: [C] },
      ...(config.gemma ? [{ name: `${p}.pre_feedforward_layernorm.weight`, shape: [C] }, { name: `${p}.post_feedforward_layernorm.weight`, shape: [C] }] : []),
      ...mlp.map(projection),
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

/** in and out features of a projection of this config (which must have it: see loraTargetsOf). */
export function projectionFeatures(model: ModelConfig, target: LoraTarget): { inFeatures: number; outFeatures: number } {
  const { hiddenSize: C, intermediateSize: I, numHeads: H, numKvHeads: Hkv, headDim: D } = model;
  switch (target) {
    case 'q_proj':
      return { inFeatures: C, outFeatures: H * D };
    case 'k_proj':
    case 'v_proj':
      return { inFeatures: C, outFeatures: Hkv * D };
    case 'qkv_proj':
      return { inFeatures: C, outFeatures: (H + 2 * Hkv) * D };
    case 'o_proj':
      return { inFeatures: H * D, outFeatures: C };
    case 'gate_proj':
    case 'up_proj':
      return { inFeatures: C, outFeatures: I };
    case 'gate_up_proj':
      return { inFeatures: C, outFeatures: 2 * I };
    case 'down_proj':
      return { inFeatures: I, outFeatures: C };
  }
}

/** Parameter count of the base model (what "135M" counts). */
export function parameterCount(config: ModelConfig): number {
  return expectedWeights(config).reduce((sum, w) => sum + w.shape.reduce((n, d) => n * d, 1), 0);
}
