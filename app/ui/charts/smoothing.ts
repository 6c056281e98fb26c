/**
 * Exponential moving average of per-step values, as TensorBoard smooths its scalars: for weight w,
 * s_t = w·s_{t−1} + (1 − w)·v_t, divided by 1 − w^n (n values seen so far) so the first points are
 * not pulled towards 0. A step without a value (a task not drawn in that step, a skipped step) stays
 * without one, and the average carries over the gap. Weight 0 leaves the values as they are.
 */
import type { ChartRow } from './LineChartPanel.tsx';

export const MAX_SMOOTHING = 0.99;

export function smoothRows(rows: readonly ChartRow[], keys: readonly string[], weight: number): ChartRow[] {
  if (!(weight > 0)) return [...rows];
  const w = Math.min(weight, MAX_SMOOTHING);
  const state = new Map(keys.map((key) => [key, { sum: 0, seen: 0 }]));
  return rows.map((row) => {
    const smoothed: ChartRow = { ...row };
    for (const key of keys) {
      const value = row[key];
      if (value === null || value === undefined || !Number.isFinite(value)) continue;
      const series = state.get(key)!;
      series.sum = w * series.sum + (1 - w) * value;
      series.seen += 1;
      smoothed[key] = series.sum / (1 - w ** series.seen);
    }
    return smoothed;
  });
}
