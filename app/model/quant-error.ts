/**
 * The measured quantization error of a model loaded with int8/int4 projections: for a few
 * calibration rows (the tokens of a short text), the relative error of each projection's outputs
 * through its quantized weight against the same inputs through the checkpoint's own weight,
 *   ‖X·(Ŵ − W)ᵀ‖ / ‖X·Wᵀ‖  (Frobenius, X the rows reaching that projection).
 * The inputs are the quantized model's own activations (what its layers really see). Each original
 * weight goes up in its stored dtype one layer at a time and is freed after; nothing else is kept.
 */
import { CocktailError } from '../errors.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { DType } from '../gpu/dtype.ts';
import { encodeTensorData } from '../gpu/dtype.ts';
import { encodeMatmul } from '../gpu/ops/matmul.ts';
import { guardGpu } from '../gpu/scope.ts';
import { createIndexTensor, createTensor, readTensor, view, type GpuTensor } from '../gpu/tensor.ts';
import { loraTargetsOf, type LoraTarget } from './config.ts';
import type { GpuModel, LoadOptions } from './gpu-model.ts';
import { DecoderGraph, type ActivationSet } from './graph.ts';
import { loadModel } from './load.ts';
import { projectionWeightName, type ProjectionError, type QuantizationError } from './quantization.ts';
import type { ModelFiles } from './source.ts';
import { locateWeights, readWeightRangeFloat32, type ModelWeights } from './weights.ts';

/** Calibration text: plain English prose, a few dozen tokens with most tokenizers. */
export const CALIBRATION_TEXT =
  'The committee met on Tuesday to review the quarterly results. Sales rose by four percent, while costs fell slightly, and the board expects steady growth next year.';

const STORED: Record<string, DType> = { F32: 'f32', BF16: 'bf16', F16: 'f16' };

/** The activation each projection reads. */
function projectionInput(acts: ActivationSet, target: LoraTarget): GpuTensor {
  if (target === 'o_proj') return acts.o;
  if (target === 'down_proj') return acts.h;
  if (target === 'gate_proj' || target === 'up_proj' || target === 'gate_up_proj') return acts.n2;
  return acts.n1;
}

/** Measures `model` (quantized) against the weights it was made from, on the calibration tokens `ids`. */
export async function measureQuantizationError(ctx: GpuContext, model: GpuModel, weights: ModelWeights, ids: readonly number[]): Promise<QuantizationError> {
  if (!model.format.spec) throw new CocktailError('MODEL_NOT_QUANTIZED', `the model's weights are ${model.weightDtype}: there is no quantization error to measure`, { dtype: model.weightDtype });
  if (ids.length === 0) throw new CocktailError('CALIBRATION_EMPTY', 'the calibration text has no tokens', {});
  const T = ids.length;
  const graph = new DecoderGraph(ctx, model, { B: 1, T }, { training: true, loraRank: 0 });
  const owned: GpuTensor[] = [createIndexTensor(ctx.device, 'calibration ids', [T], 'u32', ids), createIndexTensor(ctx.device, 'calibration positions', [T], 'u32', ids.map((_, t) => t))];
  const projections: ProjectionError[] = [];
  try {
    await guardGpu(ctx, 'the calibration forward pass', async () => {
      const encoder = ctx.device.createCommandEncoder({ label: 'calibration forward' });
      graph.encodeForward(encoder, { ids: owned[0]!, positions: owned[1]! });
      ctx.device.queue.submit([encoder.finish()]);
    });
    for (let layer = 0; layer < model.config.numLayers; layer++) {
      projections.push(...(await measureLayer(ctx, model, weights, graph, layer, T)));
    }
  } finally {
    graph.destroy();
    for (const tensor of owned) tensor.buffer.destroy();
  }
  const worst = projections.reduce((a, b) => (b.relativeError > a.relativeError ? b : a));
  return { rows: T, projections, mean: projections.reduce((sum, p) => sum + p.relativeError, 0) / projections.length, worst };
}

async function measureLayer(ctx: GpuContext, model: GpuModel, weights: ModelWeights, graph: DecoderGraph, layer: number, T: number): Promise<ProjectionError[]> {
  const acts = graph.activations(layer);
  const temporary: GpuTensor[] = [];
  const outputs: { target: LoraTarget; quantized: GpuTensor; original: GpuTensor }[] = [];
  try {
    await guardGpu(ctx, `measuring layer ${layer}'s quantization error`, async () => {
      const encoder = ctx.device.createCommandEncoder({ label: `quantization error, layer ${layer}` });
      for (const target of loraTargetsOf(model.config)) {
        const quantizedWeight = model.layers[layer]!.projections[target]!.weight;
        const [N, K] = quantizedWeight.shape as [number, number];
        const ref = weights.refs.get(projectionWeightName(layer, target))!;
        const dtype = STORED[ref.dtype]!;
        const originalWeight = createTensor(ctx.device, `${ref.name} (as stored)`, [N, K], dtype, encodeTensorData(dtype, await readWeightRangeFloat32(ref, 0, N * K)));
        const quantized = createTensor(ctx.device, `${target} through ${model.weightDtype}`, [T, N], 'f32');
        const original = createTensor(ctx.device, `${target} through ${dtype}`, [T, N], 'f32');
        temporary.push(originalWeight, quantized, original);
        const x = view(projectionInput(acts, target), [T, K]);
        encodeMatmul(ctx, encoder, 'nt', x, quantizedWeight, quantized);
        encodeMatmul(ctx, encoder, 'nt', x, originalWeight, original);
        outputs.push({ target, quantized, original });
      }
      ctx.device.queue.submit([encoder.finish()]);
    });
    const errors: ProjectionError[] = [];
    for (const { target, quantized, original } of outputs) {
      errors.push({ layer, target, relativeError: frobeniusError(await readTensor(ctx.device, quantized), await readTensor(ctx.device, original)) });
    }
    return errors;
  } finally {
    for (const tensor of temporary) tensor.buffer.destroy();
  }
}

/** ‖got − want‖ / ‖want‖ over every element; 0 when both are zero. */
export function frobeniusError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let difference = 0;
  let norm = 0;
  for (let i = 0; i < want.length; i++) {
    difference += (got[i]! - want[i]!) ** 2;
    norm += want[i]! ** 2;
  }
  return norm === 0 ? Math.sqrt(difference) : Math.sqrt(difference / norm);
}

/**
 * Loads `files` with quantized projections, measures them on the calibration text and frees the
 * model: what the Model page's "Measure" and `cocktail plan --measure` run.
 */
export async function measureModelQuantization(ctx: GpuContext, files: ModelFiles, options: Pick<LoadOptions, 'dtype' | 'int4'>): Promise<QuantizationError> {
  const loaded = await loadModel(ctx, files, options);
  try {
    const weights = await locateWeights(files, loaded.config);
    return await measureQuantizationError(ctx, loaded.gpu, weights, loaded.tokenizer.encode(CALIBRATION_TEXT));
  } finally {
    loaded.gpu.destroy();
  }
}
