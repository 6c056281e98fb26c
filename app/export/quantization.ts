/**
 * A recipe whose frozen weights are quantized (model.dtype "int8" or "int4", app/model/quantization.ts)
 * trains on the cluster with bitsandbytes, the quantization every target loads through transformers:
 * 4-bit as QLoRA (NF4), 8-bit as LLM.int8(). The codes differ from ours, so the frozen weights, and
 * the losses with them, come out close but not equal; the note says so in MAPPING.md.
 */
import { DEFAULT_INT4 } from '../model/quantization.ts';
import type { Recipe } from '../train/recipe.ts';
import type { ExportNote } from './plan.ts';

/** Bits of the cluster's bitsandbytes quantization, or undefined for a recipe that is not quantized. */
export function clusterBits(recipe: Recipe): 4 | 8 | undefined {
  if (recipe.model.dtype === 'int4') return 4;
  if (recipe.model.dtype === 'int8') return 8;
  return undefined;
}

/**
 * transformers' BitsAndBytesConfig keyword arguments (src/transformers/utils/quantization_config.py):
 * NF4, QLoRA's 4-bit type, which bitsandbytes itself does not default to (it defaults to fp4).
 */
export function bitsAndBytesConfig(bits: 4 | 8): Record<string, unknown> {
  return bits === 4 ? { load_in_4bit: true, bnb_4bit_quant_type: 'nf4' } : { load_in_8bit: true };
}

export function quantizationNotes(recipe: Recipe): ExportNote[] {
  const bits = clusterBits(recipe);
  if (bits === undefined) return [];
  if (bits === 8) {
    return [
      {
        field: 'model.dtype',
        message:
          'the studio keeps each frozen projection as int8 codes with one scale per row (max |w| / 127); the cluster loads the model with bitsandbytes LLM.int8(), also a row-wise absmax int8 but with the outlier columns of the activations kept in 16 bits: the frozen weights, and so the losses, are close to ours but not equal',
      },
    ];
  }
  const { group_size: group = DEFAULT_INT4.group, symmetric = DEFAULT_INT4.symmetric } = recipe.model;
  return [
    {
      field: 'model.dtype',
      message: `the studio keeps each frozen projection as group-wise int4 (round to nearest, groups of ${group}, ${symmetric ? 'symmetric' : 'with a zero point per group'}); the cluster loads the model with bitsandbytes NF4 (QLoRA's 4-bit NormalFloat, blocks of 64, absmax scales), another 4-bit code: the frozen weights, and so the losses, are close to ours but not equal`,
    },
    ...(recipe.model.group_size === undefined && recipe.model.symmetric === undefined
      ? []
      : [{ field: 'model.group_size', message: 'model.group_size and model.symmetric have no counterpart in bitsandbytes NF4, whose blocks are 64 elements with an absmax scale each' }]),
  ];
}
