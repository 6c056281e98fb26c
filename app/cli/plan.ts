import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { CocktailError } from '../errors.ts';
import { acquireNodeGpu } from '../gpu/node-gpu.ts';
import { parseModelConfig } from '../model/config.ts';
import { formatMiB, shapeWeightFormat } from '../model/memory.ts';
import { measureModelQuantization } from '../model/quant-error.ts';
import { describeQuantizationError, describeWeightFormat, type QuantizationError } from '../model/quantization.ts';
import { checkRecipeQuantization, planRecipe, recipeLoadOptions, recipeTrainingShape, storedDtypeOf, withCheckpointWeights } from '../train/plan.ts';
import { parseOptions } from './args.ts';
import { modelConfigFor, modelFilesFor } from './model-source.ts';
import { readRecipe } from './recipe-env.ts';

export const PLAN_USAGE =
  'cocktail plan --recipe <recipe.json> [--gpu-memory BYTES] [--measure] [--json]   (exit code 1 when it does not fit; --measure: with model.dtype int8/int4, load the weights and measure the quantization error)';

/** --gpu-memory: the GPU memory to plan against (WebGPU cannot tell); refused unless a positive byte count. */
export function gpuMemory(bytes: number | undefined): number | undefined {
  if (bytes === undefined) return undefined;
  if (!(bytes > 0)) throw new CocktailError('BAD_ARGUMENT', `--gpu-memory must be a positive number of bytes (e.g. 8589934592 for 8 GiB); got ${bytes}`);
  return bytes;
}

/**
 * What a recipe's run will hold on this GPU, part by part, and whether it fits this adapter's
 * buffer limits and the given memory: from the recipe and the model's config.json, nothing else
 * downloaded and nothing allocated.
 */
export async function planCommand(args: string[]): Promise<number> {
  const options = parseOptions('plan', args, { recipe: 'string', 'gpu-memory': 'integer', measure: 'flag', json: 'flag' }, ['recipe']);
  const budget = gpuMemory(options['gpu-memory']);
  const { recipe: asked, recipeDir } = await readRecipe(options.recipe!);
  const source = existsSync(resolve(recipeDir, asked.model.source)) ? resolve(recipeDir, asked.model.source) : asked.model.source;
  const raw = await modelConfigFor(source, { revision: asked.model.revision });
  const recipe = withCheckpointWeights(asked, raw, `${asked.model.source}/config.json`);
  const config = parseModelConfig(raw, `${recipe.model.source}/config.json`);
  const gpu = await acquireNodeGpu({ label: 'cocktail plan' });
  const { limits } = gpu.device;
  checkRecipeQuantization(recipe, config, storedDtypeOf(raw));
  const shape = recipeTrainingShape(recipe, storedDtypeOf(raw));
  const estimate = planRecipe(recipe, config, storedDtypeOf(raw), limits, budget);
  const weights = describeWeightFormat(shapeWeightFormat(shape));
  let measured: QuantizationError | undefined;
  try {
    if (options.measure) {
      if (!estimate.quantization) throw new CocktailError('BAD_ARGUMENT', `--measure measures int8/int4 weights; this recipe keeps them ${shape.weightDtype} (set model.dtype to "int8" or "int4")`);
      measured = await measureModelQuantization(gpu, await modelFilesFor(source, { revision: recipe.model.revision, quiet: options.json }), recipeLoadOptions(recipe));
    }
  } finally {
    gpu.destroy();
  }
  if (options.json) {
    console.log(
      JSON.stringify({
        model: recipe.model.source,
        shape: { batch_size: shape.batchSize, max_length: shape.seqLength, weight_dtype: shape.weightDtype, lora_r: shape.lora.r, targets: shape.lora.targets, adapters: shape.adapters, recompute: shape.recompute },
        parts: estimate.lines.map((line) => ({ what: line.what, bytes: line.bytes })),
        total_bytes: estimate.totalBytes,
        budget_bytes: budget ?? null,
        largest_binding: estimate.largestBinding,
        limits: { max_buffer_size: limits.maxBufferSize, max_storage_buffer_binding_size: limits.maxStorageBufferBindingSize },
        fits: estimate.fits,
        advice: estimate.advice,
        ...(estimate.quantization
          ? {
              quantization: {
                weights,
                bytes: estimate.quantization.bytes,
                sixteen_bit_bytes: estimate.quantization.sixteenBitBytes,
                saved_bytes: estimate.quantization.sixteenBitBytes - estimate.quantization.bytes,
                ...(measured ? { measured: { rows: measured.rows, mean_relative_error: measured.mean, worst: measured.worst, projections: measured.projections } } : {}),
              },
            }
          : {}),
      }),
    );
  } else {
    console.log(`${recipe.model.source}: batch ${shape.batchSize} × ${shape.seqLength} tokens, ${weights} weights, LoRA r=${shape.lora.r} on ${shape.lora.targets.join(', ')}`);
    for (const line of estimate.lines) console.log(`  ${formatMiB(line.bytes).padStart(11)}  ${line.what}`);
    console.log(`  ${formatMiB(estimate.totalBytes).padStart(11)}  total${budget !== undefined ? ` of ${formatMiB(budget)}` : ' (no --gpu-memory given: only this GPU’s buffer limits are checked)'}`);
    if (estimate.quantization) {
      const { bytes, sixteenBitBytes } = estimate.quantization;
      console.log(`${weights} frozen weights: ${formatMiB(bytes)} instead of ${formatMiB(sixteenBitBytes)} in 16 bits, ${formatMiB(sixteenBitBytes - bytes)} saved`);
    }
    if (measured) console.log(`measured: ${describeQuantizationError(weights, measured)}`);
    console.log(estimate.fits ? 'fits' : `does not fit:\n${estimate.advice.map((advice) => `  - ${advice}`).join('\n')}`);
  }
  return estimate.fits ? 0 : 1;
}
