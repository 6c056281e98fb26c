/**
 * Which frozen weights a quantized model (model.dtype "int8" or "int4") quantizes, and with what.
 *
 * As in QLoRA, the projections of every layer are quantized and the LoRA trains on top in f32; the
 * vocabulary tables (the embedding and an untied LM head) stay 16-bit, bf16 when stored as f32.
 * bitsandbytes does the same through transformers: only nn.Linear modules of the blocks are
 * replaced, and the output head is kept out by default (BitsAndBytesConfig.llm_int8_skip_modules).
 * A table is read row by row by the embedding and across the vocabulary by the loss and sampling,
 * where its precision decides every logit.
 */
import { CocktailError } from '../errors.ts';
import { isQuantized, type DType, type FrozenDType } from '../gpu/dtype.ts';
import { checkQuantizable, INT4_GROUP_SIZES, type Int4GroupSize, type QuantSpec } from '../gpu/quant.ts';
import { LORA_TARGETS, loraTargetsOf, type LoraTarget, type ModelConfig } from './config.ts';
import { projectionShape } from './lora.ts';

/** int4's settings: group size and whether groups have a zero point (asymmetric, the default) or not. */
export interface Int4Options {
  group: Int4GroupSize;
  symmetric: boolean;
}

/** 64 elements per group, as QLoRA's default block size; asymmetric, as GPTQ's default. */
export const DEFAULT_INT4: Int4Options = { group: 64, symmetric: false };

/** How a model's frozen weights are kept: projections in `dtype`, vocabulary tables in `tables`. */
export interface WeightFormat {
  dtype: FrozenDType;
  tables: DType;
  /** Set for int8 and int4. */
  spec?: QuantSpec;
}

/** The format of a model stored as `stored` and loaded as `requested` (default: as stored). */
export function weightFormat(stored: DType, requested: FrozenDType = stored, int4: Int4Options = DEFAULT_INT4): WeightFormat {
  if (!isQuantized(requested)) return { dtype: requested, tables: requested };
  const spec: QuantSpec = requested === 'int8' ? { dtype: 'int8' } : { dtype: 'int4', ...int4 };
  return { dtype: requested, tables: stored === 'f32' ? 'bf16' : stored, spec };
}

/** A short name of a format, for plans and the Model page: "int4 (group 64)", "bf16". */
export function describeWeightFormat(format: WeightFormat): string {
  if (format.spec?.dtype === 'int4') return `int4 (group ${format.spec.group}${format.spec.symmetric ? ', symmetric' : ''})`;
  return format.dtype;
}

/** The name of a projection weight in the checkpoint. */
export function projectionWeightName(layer: number, target: LoraTarget): string {
  return `model.layers.${layer}.${LORA_TARGETS[target]}.weight`;
}

/**
 * Refuses, from the config alone (before any download), a quantization one of the projections cannot
 * take; the error names the tensor. Every layer has the same shapes, so layer 0 speaks for all.
 */
export function checkModelQuantization(config: ModelConfig, spec: QuantSpec | undefined): void {
  if (!spec) return;
  if (spec.dtype === 'int4' && !(INT4_GROUP_SIZES as readonly number[]).includes(spec.group)) {
    throw new CocktailError('QUANT_GROUP_SIZE', `int4 group size ${spec.group} is not supported; choose ${INT4_GROUP_SIZES.join(', ')}`, { group: spec.group });
  }
  for (const target of loraTargetsOf(config)) {
    const { inFeatures, outFeatures } = projectionShape(config, target);
    checkQuantizable(projectionWeightName(0, target), spec, outFeatures, inFeatures);
  }
}

/** What app/model/quant-error.ts measures: each projection's relative output error on calibration rows. */
export interface ProjectionError {
  layer: number;
  target: LoraTarget;
  relativeError: number;
}

export interface QuantizationError {
  /** Calibration rows (tokens) every projection was measured on. */
  rows: number;
  projections: ProjectionError[];
  /** Mean and largest relative error over every projection. */
  mean: number;
  worst: ProjectionError;
}

/** One line for people: "int4 changes the layers' outputs by 3.1% on average (worst 7.9%: layer 2 down_proj) over 34 calibration rows". */
export function describeQuantizationError(dtype: string, error: QuantizationError): string {
  const percent = (value: number) => `${(value * 100).toFixed(value < 0.01 ? 2 : 1)}%`;
  return `${dtype} changes the projections' outputs by ${percent(error.mean)} on average (worst ${percent(error.worst.relativeError)}: layer ${error.worst.layer} ${error.worst.target}) over ${error.rows} calibration rows`;
}
