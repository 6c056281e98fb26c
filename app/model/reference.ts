/**
 * A plain Float64 CPU forward pass of the Llama-family decoder, written straight from the Hugging
 * Face modeling code's math: the independent reference that the GPU graph, ONNX Runtime and finite
 * differences are checked against. Slow by design (no tiling, no caching); for tiny models and tests.
 */
import type { LoraTarget, ModelConfig } from './config.ts';
import { attentionWindowOf, LORA_TARGETS } from './config.ts';
import { loraPairKey } from './lora.ts';
import { softcapReference } from '../gpu/reference/cross_entropy.ts';
import { ropeAttentionFactor, ropeInverseFrequencies } from '../gpu/reference/rope.ts';
import { geluTanh } from '../gpu/reference/swiglu.ts';

export interface ReferenceWeights {
  config: ModelConfig;
  /**
   * Every weight by its HF name, as Float64, or as Float32 where that holds the stored values exactly (bf16
   * and f16 weights of models too wide for a Float64 copy); the arithmetic is Float64 either way.
   */
  tensors: Map<string, Float64Array | Float32Array>;
}

/**
 * LoRA pairs keyed by loraPairKey(layer, target): A [r, in], B [out, r]. Float64 arrays let finite
 * differences perturb them finely; a LoraAdapter's Float32 pairs work as they are.
 */
export interface ReferenceLora {
  scale: number;
  r: number;
  pairs: Map<string, { a: Float64Array | Float32Array; b: Float64Array | Float32Array }>;
}

/**
 * Logits [T, V] for one sequence of token ids at positions startPosition .. startPosition + T − 1
 * (0 by default), with causal attention among them; soft-capped as Gemma3ForCausalLM caps them
 * (cap·tanh(logits / cap)) when the config sets final_logit_softcapping.
 */
export function referenceLogits(model: ReferenceWeights, ids: readonly number[], lora?: ReferenceLora, startPosition = 0): Float64Array {
  const { hiddenSize: C, vocabSize: V } = model.config;
  const final = referenceHiddenStates(model, ids, lora, startPosition).at(-1)!;
  const head = model.config.tieWordEmbeddings ? model.tensors.get('model.embed_tokens.weight')! : model.tensors.get('lm_head.weight')!;
  return softcapReference(linear(final, ids.length, C, head, V), model.config.finalLogitSoftcapping);
}

/**
 * Hugging Face's output_hidden_states for one sequence: L + 1 arrays of [T, C], the embeddings, the
 * residual stream after each layer, and (last) the final norm's output, as LlamaModel returns them.
 */
export function referenceHiddenStates(model: ReferenceWeights, ids: readonly number[], lora?: ReferenceLora, startPosition = 0): Float64Array[] {
  const { config } = model;
  const { hiddenSize: C, numHeads: H, numKvHeads: Hkv, headDim: D } = config;
  const T = ids.length;
  const weight = (name: string): Float64Array | Float32Array => {
    const tensor = model.tensors.get(name);
    if (!tensor) throw new Error(`reference model has no tensor ${name}`);
    return tensor;
  };
  const { gemma } = config;
  // Gemma3RMSNorm multiplies by (1 + w); the others by w.
  const norm = (input: Float64Array, rows: number, width: number, name: string): Float64Array => {
    const w = Float64Array.from(weight(name));
    return rmsNorm(input, rows, width, gemma ? w.map((value) => 1 + value) : w, config.rmsNormEps);
  };
  const embed = weight('model.embed_tokens.weight');
  let x: Float64Array = new Float64Array(T * C);
  ids.forEach((id, t) => x.set(embed.subarray(id * C, (id + 1) * C), t * C));
  if (gemma) x = x.map((value) => value * gemma.embeddingScale);
  // transformers picks LongRoPE's factors from the largest position + 1, and scales cos and sin by its attention factor.
  const inverseFrequencies = ropeInverseFrequencies(config, startPosition + T);
  // Gemma 3's sliding layers use rope_local_base_freq, unscaled.
  const localFrequencies = gemma ? ropeInverseFrequencies({ ...config, ropeTheta: gemma.ropeLocalTheta, ropeScaling: null }) : inverseFrequencies;
  const ropeScale = ropeAttentionFactor(config);
  const states: Float64Array[] = [x];

  for (let layer = 0; layer < config.numLayers; layer++) {
    const p = `model.layers.${layer}`;
    const project = (input: Float64Array, target: LoraTarget, inFeatures: number, outFeatures: number): Float64Array => {
      const path = `${p}.${LORA_TARGETS[target]}`;
      const out = linear(input, T, inFeatures, weight(`${path}.weight`), outFeatures, model.tensors.get(`${path}.bias`));
      const pair = lora?.pairs.get(loraPairKey(layer, target));
      if (pair) {
        const down = linear(input, T, inFeatures, pair.a, lora!.r);
        const up = linear(down, T, lora!.r, pair.b, outFeatures);
        for (let i = 0; i < out.length; i++) out[i]! += lora!.scale * up[i]!;
      }
      return out;
    };

    const normed = norm(x, T, C, `${p}.input_layernorm.weight`);
    let q: Float64Array;
    let k: Float64Array;
    let v: Float64Array;
    if (config.fusedProjections) {
      // Phi3Attention: qkv_proj's output is [Q | K | V] along the features.
      [q, k, v] = splitColumns(project(normed, 'qkv_proj', C, (H + 2 * Hkv) * D), T, [H * D, Hkv * D, Hkv * D]) as [Float64Array, Float64Array, Float64Array];
    } else {
      q = project(normed, 'q_proj', C, H * D);
      k = project(normed, 'k_proj', C, Hkv * D);
      v = project(normed, 'v_proj', C, Hkv * D);
    }
    if (config.qkNorm) {
      // Qwen3Attention and Gemma3Attention: q_norm / k_norm over each head's D dims, after the projection and before RoPE.
      q = norm(q, T * H, D, `${p}.self_attn.q_norm.weight`);
      k = norm(k, T * Hkv, D, `${p}.self_attn.k_norm.weight`);
    }
    const frequencies = gemma?.slidingLayers[layer] ? localFrequencies : inverseFrequencies;
    applyRope(q, T, H, D, frequencies, startPosition, ropeScale);
    applyRope(k, T, Hkv, D, frequencies, startPosition, ropeScale);
    const attended = causalAttention(q, k, v, { T, H, Hkv, D, scale: gemma?.attentionScale, window: attentionWindowOf(config, layer) });
    const attentionOut = project(attended, 'o_proj', H * D, C);
    // Gemma3DecoderLayer: post_attention_layernorm on the attention output, then pre_feedforward_layernorm on the MLP input.
    x = add(x, gemma ? norm(attentionOut, T, C, `${p}.post_attention_layernorm.weight`) : attentionOut);

    const normed2 = norm(x, T, C, gemma ? `${p}.pre_feedforward_layernorm.weight` : `${p}.post_attention_layernorm.weight`);
    const I = config.intermediateSize;
    // Phi3MLP: gate_up_proj's output chunks into [gate | up].
    const [gate, up] = config.fusedProjections ? (splitColumns(project(normed2, 'gate_up_proj', C, 2 * I), T, [I, I]) as [Float64Array, Float64Array]) : [project(normed2, 'gate_proj', C, I), project(normed2, 'up_proj', C, I)];
    const hidden = new Float64Array(T * I);
    const activation = config.mlpActivation === 'gelu_tanh' ? geluTanh : silu;
    for (let i = 0; i < hidden.length; i++) hidden[i] = activation(gate[i]!) * up[i]!;
    const mlpOut = project(hidden, 'down_proj', I, C);
    x = add(x, gemma ? norm(mlpOut, T, C, `${p}.post_feedforward_layernorm.weight`) : mlpOut);
    if (layer < config.numLayers - 1) states.push(x);
  }
  states.push(norm(x, T, C, 'model.norm.weight'));
  return states;
}

/** Mean cross-entropy of predicting ids[t+1] from position t, over positions whose label is not -100. */
export function referenceLoss(model: ReferenceWeights, ids: readonly number[], labels: readonly number[], lora?: ReferenceLora): number {
  const logits = referenceLogits(model, ids, lora);
  const V = model.config.vocabSize;
  let total = 0;
  let count = 0;
  for (let t = 0; t < ids.length; t++) {
    const label = labels[t]!;
    if (label === -100) continue;
    const row = logits.subarray(t * V, (t + 1) * V);
    const max = row.reduce((m, value) => Math.max(m, value), -Infinity);
    const logSum = Math.log(row.reduce((sum, value) => sum + Math.exp(value - max), 0)) + max;
    total += logSum - row[label]!;
    count++;
  }
  return total / count;
}

/** y[T, out] = x[T, in]·Wᵀ + bias, W [out, in] row-major as PyTorch stores nn.Linear. */
function linear(x: Float64Array, T: number, inFeatures: number, w: ArrayLike<number>, outFeatures: number, bias?: ArrayLike<number>): Float64Array {
  const y = new Float64Array(T * outFeatures);
  for (let t = 0; t < T; t++) {
    for (let o = 0; o < outFeatures; o++) {
      let sum = bias ? bias[o]! : 0;
      for (let i = 0; i < inFeatures; i++) sum += x[t * inFeatures + i]! * w[o * inFeatures + i]!;
      y[t * outFeatures + o] = sum;
    }
  }
  return y;
}

function rmsNorm(x: Float64Array, T: number, C: number, w: Float64Array, eps: number): Float64Array {
  const y = new Float64Array(T * C);
  for (let t = 0; t < T; t++) {
    let sumSquares = 0;
    for (let c = 0; c < C; c++) sumSquares += x[t * C + c]! ** 2;
    const rstd = 1 / Math.sqrt(sumSquares / C + eps);
    for (let c = 0; c < C; c++) y[t * C + c] = x[t * C + c]! * rstd * w[c]!;
  }
  return y;
}

/** Row blocks of widths[i] columns, left to right, of x [T, Σ widths]. */
function splitColumns(x: Float64Array, T: number, widths: readonly number[]): Float64Array[] {
  const total = widths.reduce((a, b) => a + b, 0);
  let start = 0;
  return widths.map((width) => {
    const part = new Float64Array(T * width);
    for (let t = 0; t < T; t++) part.set(x.subarray(t * total + start, t * total + start + width), t * width);
    start += width;
    return part;
  });
}

/** HF rotate_half RoPE, in place on [T, heads, D], cos and sin times `scale`; dims past the rotary part pass through. */
function applyRope(x: Float64Array, T: number, heads: number, D: number, inverseFrequencies: Float64Array, startPosition: number, scale: number): void {
  const half = inverseFrequencies.length;
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < heads; h++) {
      const base = (t * heads + h) * D;
      for (let i = 0; i < half; i++) {
        const angle = (startPosition + t) * inverseFrequencies[i]!;
        const cos = scale * Math.cos(angle);
        const sin = scale * Math.sin(angle);
        const x1 = x[base + i]!;
        const x2 = x[base + i + half]!;
        x[base + i] = x1 * cos - x2 * sin;
        x[base + i + half] = x2 * cos + x1 * sin;
      }
    }
  }
}

/** Query i sees keys j with i − window < j <= i (the whole prefix without a window). */
function causalAttention(
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  { T, H, Hkv, D, scale = 1 / Math.sqrt(D), window }: { T: number; H: number; Hkv: number; D: number; scale?: number | undefined; window: number | null },
): Float64Array {
  const out = new Float64Array(T * H * D);
  const group = H / Hkv;
  const scores = new Float64Array(T);
  for (let h = 0; h < H; h++) {
    const kvHead = Math.floor(h / group);
    for (let i = 0; i < T; i++) {
      const first = window === null ? 0 : Math.max(0, i - window + 1);
      let max = -Infinity;
      for (let j = first; j <= i; j++) {
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q[(i * H + h) * D + d]! * k[(j * Hkv + kvHead) * D + d]!;
        scores[j] = dot * scale;
        max = Math.max(max, scores[j]!);
      }
      let sum = 0;
      for (let j = first; j <= i; j++) sum += scores[j] = Math.exp(scores[j]! - max);
      for (let j = first; j <= i; j++) {
        const weight = scores[j]! / sum;
        for (let d = 0; d < D; d++) out[(i * H + h) * D + d]! += weight * v[(j * Hkv + kvHead) * D + d]!;
      }
    }
  }
  return out;
}

function add(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! + b[i]!;
  return out;
}

function silu(value: number): number {
  return value / (1 + Math.exp(-value));
}
