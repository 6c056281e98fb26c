/**
 * A recipe's memory plan: the planner's shape for what a run of the recipe will allocate (trainer,
 * evaluator, and the generator of generation metrics), known from the recipe and the model's
 * config.json alone, so a run that cannot fit is refused before its weights are downloaded.
 */
import { CocktailError } from '../errors.ts';
import { isQuantized, type DType, type FrozenDType } from '../gpu/dtype.ts';
import type { LoadOptions } from '../model/gpu-model.ts';
import type { ModelConfig } from '../model/config.ts';
import { checkPrequantizedRequest, prequantizedFormatOf } from '../model/prequantized.ts';
import { checkModelQuantization, DEFAULT_INT4, weightFormat, type Int4Options } from '../model/quantization.ts';
import { estimateTrainingMemory, formatMiB, type DeviceLimits, type MemoryEstimate, type TrainingShape } from '../model/memory.ts';
import { DEFAULT_METRIC } from './prepare/metric.ts';
import type { Recipe } from './recipe.ts';

const GENERATION_METRICS = new Set(['exact_match', 'numeric_match', 'rouge_l']);
const TORCH_DTYPES: Record<string, DType> = { float32: 'f32', bfloat16: 'bf16', float16: 'f16' };

/** The dtype a config.json says its weights are stored in (torch_dtype); f32, the largest, when it does not say. */
export function storedDtypeOf(rawConfig: unknown): DType {
  const torchDtype = (rawConfig as { torch_dtype?: unknown } | null)?.torch_dtype;
  return (typeof torchDtype === 'string' ? TORCH_DTYPES[torchDtype] : undefined) ?? 'f32';
}

/** int4's settings as the recipe gives them (defaults where it does not). */
function recipeInt4(recipe: Recipe): Int4Options {
  return { group: recipe.model.group_size ?? DEFAULT_INT4.group, symmetric: recipe.model.symmetric ?? DEFAULT_INT4.symmetric };
}

/** How a run of `recipe` loads its model's weights: recipe.model.dtype (quantized or not) and int4's settings. */
export function recipeLoadOptions(recipe: Recipe): Pick<LoadOptions, 'dtype' | 'int4'> {
  const { dtype } = recipe.model;
  if (!dtype) return {};
  return dtype === 'int4' ? { dtype, int4: recipeInt4(recipe) } : { dtype };
}

/**
 * The planner's shape for a run of `recipe`: every batch at max_length (the longest a batch can be),
 * the weights in recipe.model.dtype or as stored (quantized: the vocabulary tables as uploadModel keeps them).
 */
export function recipeTrainingShape(recipe: Recipe, storedDtype: DType): TrainingShape {
  const generates = recipe.tasks.some((task) => GENERATION_METRICS.has(task.metric ?? DEFAULT_METRIC[task.format]));
  return {
    batchSize: recipe.batch_size,
    seqLength: recipe.max_length,
    ...weightShape(recipe, storedDtype),
    lora: { r: recipe.lora.r, targets: recipe.lora.targets },
    adapters: recipe.lora.layout === 'per_task' ? recipe.tasks.length : 1,
    recompute: recipe.recompute,
    gradAccum: recipe.grad_accum,
    evaluation: { batchSize: recipe.batch_size, seqLength: recipe.max_length },
    ...(generates ? { generation: { maxNewTokens: recipe.eval_max_new_tokens } } : {}),
  };
}

function weightShape(recipe: Recipe, storedDtype: DType): { weightDtype: FrozenDType; tableDtype?: DType; int4?: Int4Options } {
  const weightDtype = recipe.model.dtype ?? storedDtype;
  if (!isQuantized(weightDtype)) return { weightDtype };
  const { tables } = weightFormat(storedDtype, weightDtype);
  return { weightDtype, tableDtype: tables, ...(weightDtype === 'int4' ? { int4: recipeInt4(recipe) } : {}) };
}

/** Refuses, from config.json alone, a quantization the model's projections cannot take (naming the tensor). */
export function checkRecipeQuantization(recipe: Recipe, config: ModelConfig, storedDtype: DType): void {
  const { dtype } = recipe.model;
  if (dtype && isQuantized(dtype)) checkModelQuantization(config, weightFormat(storedDtype, dtype, recipeInt4(recipe)).spec);
}

/**
 * The recipe with what a pre-quantized (GPTQ/AWQ) checkpoint's config.json says of its weights: int4 in the
 * checkpoint's group size and symmetry, the only way its projections load, so the plan counts what the
 * load will hold and a recipe need not repeat it. Refuses, from config.json alone, a recipe that asks
 * for another dtype or group size, and an unsupported quantization_config by its key. Any other model's
 * recipe is returned as it is.
 */
export function withCheckpointWeights(recipe: Recipe, rawConfig: unknown, file: string): Recipe {
  const format = prequantizedFormatOf(rawConfig, file);
  if (!format) return recipe;
  const { dtype, group_size: group } = recipe.model;
  checkPrequantizedRequest(format, { ...(dtype ? { dtype } : {}), ...(group !== undefined ? { group } : {}) }, `${file}: a ${format.method} int4 checkpoint (group ${format.group}), recipe model`);
  return { ...recipe, model: { ...recipe.model, dtype: 'int4', group_size: format.group, symmetric: format.symmetric } };
}

export function planRecipe(recipe: Recipe, config: ModelConfig, storedDtype: DType, limits: DeviceLimits, budgetBytes = Infinity): MemoryEstimate {
  return estimateTrainingMemory(config, recipeTrainingShape(recipe, storedDtype), limits, budgetBytes);
}

/** Refuses a recipe whose plan does not fit, with what it needs, what there is, and what would fit. */
export function refuseUnlessFits(estimate: MemoryEstimate, what: string, budgetBytes: number): void {
  if (estimate.fits) return;
  const { largestBinding, bindingLimitBytes } = estimate;
  throw new CocktailError('PLAN_DOES_NOT_FIT', `${what} does not fit this GPU: ${estimate.advice.join(' ')}`, {
    needsBytes: estimate.totalBytes,
    ...(Number.isFinite(budgetBytes) ? { hasBytes: budgetBytes } : {}),
    needs: formatMiB(estimate.totalBytes),
    // Checked whether or not a memory budget was given: WebGPU tells these limits exactly.
    largestBufferBytes: largestBinding.bytes,
    bufferLimitBytes: bindingLimitBytes,
  });
}
