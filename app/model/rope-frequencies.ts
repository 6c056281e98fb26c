import type { ModelConfig } from './config.ts';

/**
 * RoPE inverse frequencies, Float64: inv_freq[i] = 1 / theta^(2i / rotaryDim) for i < rotaryDim/2,
 * as transformers' default rope init computes them, then reshaped by Llama 3's rope_scaling:
 * wavelengths longer than original_max/low_freq_factor are divided by `factor`, shorter than
 * original_max/high_freq_factor are kept, and those between are smoothly interpolated
 * (transformers modeling_rope_utils._compute_llama3_parameters).
 */
export function ropeInverseFrequencies(config: Pick<ModelConfig, 'headDim' | 'partialRotaryFactor' | 'ropeTheta' | 'ropeScaling'>): Float64Array {
  const rotaryDim = Math.round(config.headDim * config.partialRotaryFactor);
  const half = rotaryDim / 2;
  const inverse = new Float64Array(half);
  for (let i = 0; i < half; i++) inverse[i] = 1 / config.ropeTheta ** ((2 * i) / rotaryDim);
  const scaling = config.ropeScaling;
  if (!scaling) return inverse;
  const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: original } = scaling;
  const lowFreqWavelength = original / lowFreqFactor;
  const highFreqWavelength = original / highFreqFactor;
  for (let i = 0; i < half; i++) {
    const frequency = inverse[i]!;
    const wavelength = (2 * Math.PI) / frequency;
    if (wavelength > lowFreqWavelength) {
      inverse[i] = frequency / factor;
    } else if (wavelength >= highFreqWavelength) {
      const smooth = (original / wavelength - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
      inverse[i] = (1 - smooth) * (frequency / factor) + smooth * frequency;
    }
  }
  return inverse;
}
