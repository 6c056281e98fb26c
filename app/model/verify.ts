/**
 * "Verify engine": the same prompt through ONNX Runtime (an independent implementation, on the
 * model's ONNX export) and through our WGSL engine, and the largest logit difference between them.
 */
import type { GpuContext } from '../gpu/device.ts';
import { sequenceLogits } from './logits.ts';
import type { GpuModel } from './gpu-model.ts';
import { onnxLogits } from './onnx-check.ts';

export interface EngineCheck {
  tokens: number;
  /** max |ours − onnx| over every position and vocabulary entry. */
  maxAbsDifference: number;
  /** maxAbsDifference / max |onnx| */
  relativeDifference: number;
  /** Positions where the two engines' top token differs. */
  argmaxDisagreements: number;
  passed: boolean;
  tolerance: number;
}

export const ENGINE_CHECK_TOLERANCE = 1e-4;

export async function verifyEngine(ctx: GpuContext, model: GpuModel, onnxModel: Uint8Array, ids: readonly number[]): Promise<EngineCheck> {
  const onnx = await onnxLogits(onnxModel, ids);
  const ours = await sequenceLogits(ctx, model, ids);
  const V = onnx.V;
  let maxAbsDifference = 0;
  let maxReference = 0;
  let argmaxDisagreements = 0;
  for (let t = 0; t < onnx.T; t++) {
    let ourBest = 0;
    let theirBest = 0;
    for (let v = 0; v < V; v++) {
      const i = t * V + v;
      const difference = Math.abs(ours[i]! - onnx.logits[i]!);
      maxAbsDifference = Math.max(maxAbsDifference, Number.isNaN(difference) ? Infinity : difference);
      maxReference = Math.max(maxReference, Math.abs(onnx.logits[i]!));
      if (ours[i]! > ours[t * V + ourBest]!) ourBest = v;
      if (onnx.logits[i]! > onnx.logits[t * V + theirBest]!) theirBest = v;
    }
    if (ourBest !== theirBest) argmaxDisagreements++;
  }
  const relativeDifference = maxAbsDifference / Math.max(maxReference, Number.MIN_VALUE);
  return { tokens: onnx.T, maxAbsDifference, relativeDifference, argmaxDisagreements, passed: relativeDifference <= ENGINE_CHECK_TOLERANCE, tolerance: ENGINE_CHECK_TOLERANCE };
}
