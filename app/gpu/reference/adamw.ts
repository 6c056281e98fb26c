/**
 * Float64 reference of adamw: one step of torch.optim.AdamW over several tensors (_single_tensor_adamw,
 * non-capturable path), after clipping the global gradient norm as torch.nn.utils.clip_grad_norm_, and
 * skipped entirely when any gradient is NaN or ±Inf. Updates param, m and v in place.
 */
export interface AdamwReferenceTensor {
  param: Float64Array;
  grad: ArrayLike<number>;
  m: Float64Array;
  v: Float64Array;
  weightDecay?: number;
}

export interface AdamwReferenceStep {
  step: number;
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  maxGradNorm?: number;
}

export interface AdamwReferenceResult {
  skipped: boolean;
  gradNorm: number;
  clipCoefficient: number;
}

export function gradNormReference(grads: readonly ArrayLike<number>[]): number {
  let sum = 0;
  for (const grad of grads) for (let i = 0; i < grad.length; i++) sum += grad[i]! * grad[i]!;
  return Math.sqrt(sum);
}

/** clip_grad_norm_: clamp(max_norm / (total_norm + 1e-6), max=1). */
export function clipCoefficientReference(gradNorm: number, maxGradNorm: number | undefined): number {
  return maxGradNorm === undefined ? 1 : Math.min(1, maxGradNorm / (gradNorm + 1e-6));
}

export function adamwReferenceStep(tensors: readonly AdamwReferenceTensor[], hyper: AdamwReferenceStep): AdamwReferenceResult {
  const grads = tensors.map((tensor) => tensor.grad);
  const gradNorm = gradNormReference(grads);
  const clipCoefficient = clipCoefficientReference(gradNorm, hyper.maxGradNorm);
  if (!Number.isFinite(gradNorm)) return { skipped: true, gradNorm, clipCoefficient };
  const { step, lr, beta1, beta2, eps } = hyper;
  const stepSize = lr / (1 - beta1 ** step);
  const biasCorrection2Sqrt = Math.sqrt(1 - beta2 ** step);
  for (const { param, grad, m, v, weightDecay } of tensors) {
    const decay = 1 - lr * (weightDecay ?? hyper.weightDecay);
    for (let i = 0; i < param.length; i++) {
      const g = grad[i]! * clipCoefficient;
      param[i]! *= decay;
      m[i] = m[i]! + (1 - beta1) * (g - m[i]!);
      v[i] = beta2 * v[i]! + (1 - beta2) * g * g;
      param[i]! -= (stepSize * m[i]!) / (Math.sqrt(v[i]!) / biasCorrection2Sqrt + eps);
    }
  }
  return { skipped: false, gradNorm, clipCoefficient };
}
