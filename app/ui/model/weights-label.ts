import type { ModelSummary } from '../../../workers/protocol.ts';

/**
 * What the model card says of the stored weights. A GPTQ/AWQ checkpoint's projections are int4 in
 * groups; its safetensors dtype is that of the vocabulary tables and norms beside them (f16), which
 * alone would misstate the model.
 */
export function weightsLabel(summary: Pick<ModelSummary, 'weightDtype' | 'prequantized'>): string {
  const quantized = summary.prequantized;
  if (!quantized) return summary.weightDtype;
  const zeros = quantized.symmetric ? ', symmetric' : '';
  return `int4 (${quantized.method.toUpperCase()}, group ${quantized.group}${zeros}); embeddings and norms ${summary.weightDtype}`;
}
