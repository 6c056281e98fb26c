/**
 * Float64 reference of rope: Hugging Face's rotary position embedding in the rotate_half layout
 * (LlamaRotaryEmbedding + apply_rotary_pos_emb), on x [BT, heads, D] with one position per row.
 *
 * For each head vector, the first rotaryDim = 2·half dims rotate as pairs (i, i + half):
 *   y[i]        = x[i]·cos(p·f[i]) − x[i + half]·sin(p·f[i])
 *   y[i + half] = x[i + half]·cos(p·f[i]) + x[i]·sin(p·f[i])
 * (x·cos + rotate_half(x)·sin), and dims from rotaryDim on pass through. The backward pass is the
 * transposed rotation: the same formula with sin negated.
 */

/** Llama 3 rope_scaling (config.rope_scaling with "rope_type": "llama3"), in camelCase. */
export interface Llama3RopeScalingParameters {
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositionEmbeddings: number;
}

/**
 * Phi-3's LongRoPE (config.rope_scaling with "type": "longrope"): one factor per rotary frequency for
 * sequences up to original_max_position_embeddings (short) and one for longer ones (long), and the
 * attention factor that multiplies cos and sin.
 */
export interface LongRopeScalingParameters {
  shortFactor: readonly number[];
  longFactor: readonly number[];
  originalMaxPositionEmbeddings: number;
  attentionFactor: number;
}

/** The config fields that fix the frequencies; app/model's ModelConfig satisfies this shape. */
export interface RopeFrequencyParameters {
  headDim: number;
  /** Fraction of head_dim that rotates (partial_rotary_factor; 1 for Llama and Qwen). */
  partialRotaryFactor: number;
  ropeTheta: number;
  ropeScaling: Llama3RopeScalingParameters | LongRopeScalingParameters | null;
}

export function isLongRope(scaling: RopeFrequencyParameters['ropeScaling']): scaling is LongRopeScalingParameters {
  return scaling !== null && 'longFactor' in scaling;
}

/** What multiplies cos and sin: LongRoPE's attention factor, 1 for every other kind. */
export function ropeAttentionFactor({ ropeScaling }: Pick<RopeFrequencyParameters, 'ropeScaling'>): number {
  return isLongRope(ropeScaling) ? ropeScaling.attentionFactor : 1;
}

/** rotary_dim as transformers computes it: int(head_dim · partial_rotary_factor). */
export function ropeRotaryDim({ headDim, partialRotaryFactor }: Pick<RopeFrequencyParameters, 'headDim' | 'partialRotaryFactor'>): number {
  const rotaryDim = Math.trunc(headDim * partialRotaryFactor);
  if (!(rotaryDim >= 2 && rotaryDim <= headDim && rotaryDim % 2 === 0)) {
    throw new RangeError(
      `RoPE needs an even rotary_dim in [2, head_dim]; head_dim ${headDim} × partial_rotary_factor ${partialRotaryFactor} gives ${rotaryDim}`,
    );
  }
  return rotaryDim;
}

/**
 * inv_freq [rotaryDim / 2] in Float64, as transformers' modeling_rope_utils computes it:
 * _compute_default_rope_parameters gives inv_freq[i] = 1 / theta^(2i / rotaryDim); with Llama 3
 * scaling, _compute_llama3_parameters then divides the frequencies whose wavelength 2π/f exceeds
 * original_max_position_embeddings / low_freq_factor by `factor`, keeps those whose wavelength is
 * below original_max_position_embeddings / high_freq_factor, and blends the ones between with
 * smooth = (original_max / wavelength − low_freq_factor) / (high_freq_factor − low_freq_factor):
 * (1 − smooth)·f/factor + smooth·f. transformers does this in float32; Float64 here, so the GPU
 * gets the correctly rounded values.
 */
export function ropeInverseFrequencies(parameters: RopeFrequencyParameters, sequenceLength = 0): Float64Array {
  const rotaryDim = ropeRotaryDim(parameters);
  const { ropeTheta, ropeScaling } = parameters;
  if (!(ropeTheta > 0)) throw new RangeError(`rope_theta must be positive, got ${ropeTheta}`);
  const inverse = new Float64Array(rotaryDim / 2);
  for (let i = 0; i < inverse.length; i++) inverse[i] = 1 / ropeTheta ** ((2 * i) / rotaryDim);
  if (isLongRope(ropeScaling)) applyLongRope(inverse, ropeScaling, sequenceLength);
  else if (ropeScaling) applyLlama3Scaling(inverse, ropeScaling);
  return inverse;
}

/**
 * transformers' _compute_longrope_parameters: inv_freq[i] = 1 / (ext_factors[i] · theta^(2i / dim)),
 * ext_factors the long factors when the sequence (the largest position + 1) is longer than
 * original_max_position_embeddings, the short ones otherwise.
 */
function applyLongRope(inverse: Float64Array, scaling: LongRopeScalingParameters, sequenceLength: number): void {
  const factors = sequenceLength > scaling.originalMaxPositionEmbeddings ? scaling.longFactor : scaling.shortFactor;
  if (factors.length !== inverse.length) throw new RangeError(`LongRoPE needs ${inverse.length} factors (rotary_dim / 2), got ${factors.length}`);
  for (let i = 0; i < inverse.length; i++) inverse[i]! /= factors[i]!;
}

function applyLlama3Scaling(inverse: Float64Array, scaling: Llama3RopeScalingParameters): void {
  const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: original } = scaling;
  if (!(factor > 0 && lowFreqFactor > 0 && highFreqFactor > lowFreqFactor && original > 0)) {
    throw new RangeError(
      `Llama 3 rope_scaling needs factor > 0, 0 < low_freq_factor < high_freq_factor and original_max_position_embeddings > 0; ` +
        `got ${JSON.stringify(scaling)}`,
    );
  }
  const lowFreqWavelength = original / lowFreqFactor;
  const highFreqWavelength = original / highFreqFactor;
  for (let i = 0; i < inverse.length; i++) {
    const frequency = inverse[i]!;
    const wavelength = (2 * Math.PI) / frequency;
    if (wavelength > lowFreqWavelength) {
      inverse[i] = frequency / factor;
    } else if (wavelength >= highFreqWavelength) {
      const smooth = (original / wavelength - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
      inverse[i] = (1 - smooth) * (frequency / factor) + smooth * frequency;
    }
  }
}

export interface RopeReferenceInputs {
  BT: number;
  heads: number;
  D: number;
  /** [BT] position of each row. */
  positions: ArrayLike<number>;
  /** [rotaryDim / 2] from ropeInverseFrequencies. */
  inverseFrequencies: ArrayLike<number>;
  /** Multiplies cos and sin on the rotary dims (LongRoPE's attention factor); default 1. */
  scale?: number;
}

/** y [BT, heads, D] = RoPE(x). */
export function ropeForwardReference(inputs: RopeReferenceInputs & { x: ArrayLike<number> }): Float64Array {
  return rotate(inputs, inputs.x, 1);
}

/** dx [BT, heads, D] = Rᵀ·dy, the gradient of ropeForwardReference. */
export function ropeBackwardReference(inputs: RopeReferenceInputs & { dy: ArrayLike<number> }): Float64Array {
  return rotate(inputs, inputs.dy, -1);
}

function rotate({ BT, heads, D, positions, inverseFrequencies, scale = 1 }: RopeReferenceInputs, x: ArrayLike<number>, sinSign: 1 | -1): Float64Array {
  const half = inverseFrequencies.length;
  if (2 * half > D) throw new RangeError(`rotary_dim ${2 * half} exceeds head_dim ${D}`);
  const y = Float64Array.from({ length: BT * heads * D }, (_, i) => x[i]!);
  for (let bt = 0; bt < BT; bt++) {
    const position = positions[bt]!;
    for (let i = 0; i < half; i++) {
      const angle = position * inverseFrequencies[i]!;
      const cos = scale * Math.cos(angle);
      const sin = scale * sinSign * Math.sin(angle);
      for (let h = 0; h < heads; h++) {
        const base = (bt * heads + h) * D;
        const x1 = x[base + i]!;
        const x2 = x[base + i + half]!;
        y[base + i] = x1 * cos - x2 * sin;
        y[base + i + half] = x2 * cos + x1 * sin;
      }
    }
  }
  return y;
}
