/**
 * The frozen weights the memory planner counts for a loaded model: the Model page's planner and the
 * Train page's RecipeFit both build their plan request's weight fields here, so neither plans a
 * GPTQ/AWQ checkpoint from the 16-bit dtype of its embedding tables.
 */
import type { DType } from '../../gpu/dtype.ts';
import { DEFAULT_INT4, weightFormat, type WeightFormat } from '../../model/quantization.ts';
import type { Recipe } from '../../train/recipe.ts';
import type { ModelSummary, TrainingPlanRequest } from '../../../workers/protocol.ts';

const STORED_DTYPES = new Set<string>(['f32', 'bf16', 'f16']);

/** The dtype the summary's weights are stored in; f32, the largest, for one the planner does not know. */
export function storedDtypeOfSummary(summary: Pick<ModelSummary, 'weightDtype'>): DType {
  return STORED_DTYPES.has(summary.weightDtype) ? (summary.weightDtype as DType) : 'f32';
}

/**
 * A GPTQ/AWQ checkpoint's projections load as int4 in the checkpoint's own group size and symmetry
 * whatever is asked (the engine refuses any other dtype or group for it), beside its 16-bit tables;
 * any other model's weights take the requested dtype, or stay as stored.
 */
export function plannedWeightFormat(summary: Pick<ModelSummary, 'weightDtype' | 'prequantized'>, requested: Pick<Recipe['model'], 'dtype' | 'group_size' | 'symmetric'>): WeightFormat {
  const stored = storedDtypeOfSummary(summary);
  const { prequantized } = summary;
  if (prequantized) return weightFormat(stored, 'int4', { group: prequantized.group, symmetric: prequantized.symmetric });
  return weightFormat(stored, requested.dtype ?? stored, { group: requested.group_size ?? DEFAULT_INT4.group, symmetric: requested.symmetric ?? DEFAULT_INT4.symmetric });
}

/** A plan request's weight fields for `format`: the projections' dtype, and with quantization the tables' dtype and int4's settings. */
export function planWeightFields(format: WeightFormat): Pick<TrainingPlanRequest, 'dtype' | 'tableDtype' | 'int4'> {
  return {
    dtype: format.dtype,
    ...(format.spec ? { tableDtype: format.tables } : {}),
    ...(format.spec?.dtype === 'int4' ? { int4: { group: format.spec.group, symmetric: format.spec.symmetric } } : {}),
  };
}
