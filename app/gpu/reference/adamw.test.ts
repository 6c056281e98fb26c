import { describe, expect, it } from 'vitest';
import { adamwReferenceStep, clipCoefficientReference, gradNormReference, type AdamwReferenceStep } from './adamw.ts';

const hyper: AdamwReferenceStep = { step: 1, lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };

function tensor(param: number[], grad: number[], weightDecay?: number) {
  return {
    param: Float64Array.from(param),
    grad,
    m: new Float64Array(param.length),
    v: new Float64Array(param.length),
    ...(weightDecay === undefined ? {} : { weightDecay }),
  };
}

describe('adamw reference (torch.optim.AdamW)', () => {
  it('moves each weight by lr·g/(|g| + eps) on the first step (bias correction makes m̂ = g, v̂ = g²)', () => {
    const t = tensor([1, -2, 0.5], [0.3, -4, 1e-3]);
    adamwReferenceStep([t], hyper);
    const expected = [1 - (0.1 * 0.3) / (0.3 + 1e-8), -2 + (0.1 * 4) / (4 + 1e-8), 0.5 - (0.1 * 1e-3) / (1e-3 + 1e-8)];
    expected.forEach((value, i) => expect(t.param[i]).toBeCloseTo(value, 12));
  });

  it('keeps moving by lr·g/(|g| + eps) under a constant gradient at every step', () => {
    const t = tensor([0], [2]);
    for (let step = 1; step <= 5; step++) {
      const before = t.param[0]!;
      adamwReferenceStep([t], { ...hyper, step });
      expect(before - t.param[0]!).toBeCloseTo((0.1 * 2) / (2 + 1e-8), 12);
    }
  });

  it('decays weights by (1 − lr·wd) apart from the gradient (decoupled weight decay)', () => {
    const t = tensor([3, -1], [0, 0]);
    adamwReferenceStep([t], { ...hyper, weightDecay: 0.01 });
    expect(Array.from(t.param)).toEqual([3 * (1 - 0.1 * 0.01), -1 * (1 - 0.1 * 0.01)]);
  });

  it('lets a tensor override the step weight decay (a param group with wd = 0)', () => {
    const t = tensor([3], [0], 0);
    adamwReferenceStep([t], { ...hyper, weightDecay: 0.5 });
    expect(t.param[0]).toBe(3);
  });

  it('clips with min(1, max_norm / (norm + 1e-6)) over all tensors together', () => {
    expect(gradNormReference([[3], [4]])).toBe(5);
    expect(clipCoefficientReference(5, 1)).toBe(1 / (5 + 1e-6));
    expect(clipCoefficientReference(5, 10)).toBe(1);
    expect(clipCoefficientReference(5, undefined)).toBe(1);
    const a = tensor([0], [3]);
    const b = tensor([0], [4]);
    const result = adamwReferenceStep([a, b], { ...hyper, maxGradNorm: 1 });
    expect(result.clipCoefficient).toBe(1 / (5 + 1e-6));
    expect(b.m[0]).toBeCloseTo(0.1 * 4 * result.clipCoefficient, 15);
  });

  it('skips the whole step, moments included, when a gradient is NaN or Inf', () => {
    for (const bad of [NaN, Infinity]) {
      const a = tensor([1, 2], [0.5, 0.5]);
      const b = tensor([3], [bad]);
      const result = adamwReferenceStep([a, b], { ...hyper, weightDecay: 0.01 });
      expect(result.skipped).toBe(true);
      expect(Array.from(a.param)).toEqual([1, 2]);
      expect(Array.from(a.m)).toEqual([0, 0]);
      expect(Array.from(b.v)).toEqual([0]);
    }
  });
});
