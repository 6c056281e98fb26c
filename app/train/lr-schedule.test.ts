import { describe, expect, it } from 'vitest';
import { learningRate } from './lr-schedule.ts';

describe('learning-rate schedules (transformers semantics)', () => {
  const base = { lr: 1e-3, warmupSteps: 10, totalSteps: 110 };

  it('warms up linearly from 0, reaching the full rate at the end of warmup', () => {
    expect(learningRate({ ...base, kind: 'cosine' }, 0)).toBe(0);
    expect(learningRate({ ...base, kind: 'cosine' }, 5)).toBeCloseTo(5e-4, 15);
    expect(learningRate({ ...base, kind: 'linear' }, 10)).toBeCloseTo(1e-3, 15);
  });

  it('keeps the rate after warmup with constant', () => {
    expect(learningRate({ ...base, kind: 'constant' }, 100)).toBe(1e-3);
  });

  it('decays linearly to 0 at the last step', () => {
    expect(learningRate({ ...base, kind: 'linear' }, 60)).toBeCloseTo(5e-4, 15);
    expect(learningRate({ ...base, kind: 'linear' }, 110)).toBe(0);
  });

  it('follows half a cosine: half the rate midway, 0 at the end', () => {
    expect(learningRate({ ...base, kind: 'cosine' }, 60)).toBeCloseTo(5e-4, 15);
    expect(learningRate({ ...base, kind: 'cosine' }, 35)).toBeCloseTo(1e-3 * 0.5 * (1 + Math.cos(Math.PI / 4)), 15);
    expect(learningRate({ ...base, kind: 'cosine' }, 110)).toBeCloseTo(0, 18);
  });

  it('has no warmup division by zero when warmup is 0', () => {
    expect(learningRate({ lr: 1, warmupSteps: 0, totalSteps: 1, kind: 'linear' }, 0)).toBe(1);
  });
});
