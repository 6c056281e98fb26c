/**
 * Downsampling for long series: a chart of a 20,000-step run draws a few hundred points, not 20,000
 * (recharts re-renders every point on every update). Min/max per bucket, per series: each bucket
 * keeps the rows holding each series' lowest and highest value, so a loss spike or a gradient-norm
 * burst survives however long the run; the first and last rows are always kept, so the chart starts
 * at step 1 and ends at the latest step.
 */

/** Reads one series' value from a row; null, undefined or a non-finite number is "no value here". */
export type SeriesValue<Row> = (row: Row) => number | null | undefined;

/** How many points the studio's charts draw at most. */
export const CHART_POINTS = 300;

/**
 * At most `maxPoints` rows of `rows`, in their order: all of them when they fit, otherwise the first,
 * the last, and in each of the buckets between them the rows with each series' minimum and maximum.
 */
export function downsample<Row>(rows: readonly Row[], maxPoints: number, series: readonly SeriesValue<Row>[]): Row[] {
  if (rows.length <= maxPoints) return [...rows];
  if (maxPoints < 2) return rows.length > 0 ? [rows[rows.length - 1]!] : [];
  const perBucket = 2 * Math.max(1, series.length);
  const buckets = Math.floor((maxPoints - 2) / perBucket);
  const keep = new Set<number>([0, rows.length - 1]);
  const interior = rows.length - 2;
  for (let bucket = 0; bucket < buckets; bucket++) {
    const start = 1 + Math.floor((bucket * interior) / buckets);
    const end = 1 + Math.floor(((bucket + 1) * interior) / buckets);
    for (const value of series) {
      const extremes = extremesOf(rows, start, end, value);
      if (extremes) {
        keep.add(extremes.min);
        keep.add(extremes.max);
      }
    }
  }
  return [...keep].sort((a, b) => a - b).map((index) => rows[index]!);
}

/** Indices of the smallest and largest finite value of `value` in rows[start, end); none when the range has no value. */
function extremesOf<Row>(rows: readonly Row[], start: number, end: number, value: SeriesValue<Row>): { min: number; max: number } | undefined {
  let min = -1;
  let max = -1;
  let low = Infinity;
  let high = -Infinity;
  for (let i = start; i < end; i++) {
    const v = value(rows[i]!);
    if (v == null || !Number.isFinite(v)) continue;
    if (v < low) {
      low = v;
      min = i;
    }
    if (v > high) {
      high = v;
      max = i;
    }
  }
  return min < 0 ? undefined : { min, max };
}
