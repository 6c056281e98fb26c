import { describe, expect, it } from 'vitest';
import { downsample } from './downsample.ts';

interface Point {
  step: number;
  loss: number | null;
  lr?: number;
}

const byLoss = (point: Point) => point.loss;
const series = (n: number, loss: (step: number) => number | null = (step) => 1 / step): Point[] => Array.from({ length: n }, (_, i) => ({ step: i + 1, loss: loss(i + 1) }));

describe('downsample', () => {
  it('returns every row, as a copy, when they fit', () => {
    const rows = series(300);
    const result = downsample(rows, 300, [byLoss]);
    expect(result).toEqual(rows);
    expect(result).not.toBe(rows);
  });

  it('draws a long run with at most maxPoints rows, in step order', () => {
    const result = downsample(series(20_000), 300, [byLoss]);
    expect(result.length).toBeLessThanOrEqual(300);
    expect(result.length).toBeGreaterThan(250);
    const steps = result.map((p) => p.step);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    expect(new Set(steps).size).toBe(steps.length);
  });

  it('always keeps the first and the last row', () => {
    const result = downsample(series(10_001), 100, [byLoss]);
    expect(result[0]!.step).toBe(1);
    expect(result.at(-1)!.step).toBe(10_001);
  });

  it('keeps a one-step spike and a one-step dip that a stride would skip', () => {
    const rows = series(9_999, (step) => (step === 4_321 ? 50 : step === 7_777 ? -3 : 2));
    const steps = downsample(rows, 60, [byLoss]).map((p) => p.step);
    expect(steps).toContain(4_321);
    expect(steps).toContain(7_777);
  });

  it('keeps the extremes of every series, not only the first', () => {
    const rows = series(5_000, () => 1).map((p) => ({ ...p, lr: p.step === 2_500 ? 9 : 0.1 }));
    const steps = downsample(rows, 100, [byLoss, (p) => p.lr]).map((p) => p.step);
    expect(steps).toContain(2_500);
    expect(steps.length).toBeLessThanOrEqual(100);
  });

  it('skips missing and non-finite values when looking for extremes', () => {
    const rows = series(4_000, (step) => (step % 2 === 0 ? null : step === 1_001 ? Number.NaN : step === 3_001 ? 7 : 1));
    const result = downsample(rows, 50, [byLoss]);
    expect(result.map((p) => p.step)).toContain(3_001);
    expect(result.slice(1, -1).every((p) => p.loss !== null && Number.isFinite(p.loss))).toBe(true);
  });

  it('handles an empty series and tiny limits', () => {
    expect(downsample([], 300, [byLoss])).toEqual([]);
    expect(downsample(series(10), 1, [byLoss]).map((p) => p.step)).toEqual([10]);
    expect(downsample(series(10), 2, [byLoss]).map((p) => p.step)).toEqual([1, 10]);
  });
});
