import { useId, useMemo } from 'react';
import { CartesianGrid, Legend, Line, LineChart, Tooltip, XAxis, YAxis } from 'recharts';
import { CHART_POINTS, downsample } from './downsample.ts';
import { formatNumber } from './format.ts';
import { seriesColor, useChartTheme } from './theme.ts';

export type ChartRow = Record<string, number | null>;

export interface ChartSeries {
  /** Key of the value in each row (no dots: recharts reads dots as paths). */
  key: string;
  label: string;
  color?: string;
  /** Drawn thicker, for the series the chart is mainly about (e.g. overall loss). */
  emphasis?: boolean;
}

/**
 * A themed line chart in a labelled figure: rows downsampled to CHART_POINTS, one line per series
 * with a legend when there is more than one, gaps (a task not drawn in a step) bridged, no animation
 * (a live chart redraws every frame), and the latest value of each series in words beside it.
 */
export function LineChartPanel({
  title,
  rows,
  x,
  series,
  format = formatNumber,
  height = 220,
  empty = 'Nothing to draw yet.',
  yDomain = ['auto', 'auto'],
}: {
  title: string;
  rows: readonly ChartRow[];
  /** Key of the x value (e.g. "step"). */
  x: string;
  series: readonly ChartSeries[];
  format?: (value: number) => string;
  height?: number;
  empty?: string;
  /** The y axis range; fixed for bounded values (a score from 0 to 1), automatic otherwise. */
  yDomain?: [number | 'auto', number | 'auto'];
}) {
  const theme = useChartTheme();
  const captionId = useId();
  const points = useMemo(
    () =>
      downsample(
        rows,
        CHART_POINTS,
        series.map((s) => (row: ChartRow) => row[s.key]),
      ),
    [rows, series],
  );
  const latest = series.map((s) => ({ ...s, value: lastValue(rows, s.key) })).filter((s) => s.value !== undefined);
  return (
    <figure className="chart" aria-labelledby={captionId}>
      <figcaption id={captionId}>{title}</figcaption>
      {points.length === 0 ? (
        <p className="muted chart-empty" style={{ height }}>
          {empty}
        </p>
      ) : (
        <LineChart responsive style={{ width: '100%', height }} data={points} margin={{ top: 8, right: 12, bottom: 0, left: 0 }}>
          <CartesianGrid stroke={theme.border} strokeDasharray="3 3" />
          <XAxis dataKey={x} type="number" domain={['dataMin', 'dataMax']} allowDecimals={false} stroke={theme.muted} tick={{ fill: theme.muted, fontSize: 12 }} />
          <YAxis width={56} stroke={theme.muted} tick={{ fill: theme.muted, fontSize: 12 }} tickFormatter={format} domain={yDomain} />
          <Tooltip
            formatter={(value) => (typeof value === 'number' ? format(value) : String(value))}
            labelFormatter={(label) => `${x} ${String(label)}`}
            contentStyle={{ background: theme.panel, border: `1px solid ${theme.border}`, color: theme.text }}
            labelStyle={{ color: theme.text }}
          />
          {series.length > 1 && <Legend wrapperStyle={{ color: theme.text, fontSize: 13 }} />}
          {series.map((s, i) => (
            <Line
              key={s.key}
              dataKey={s.key}
              name={s.label}
              stroke={s.color ?? seriesColor(i)}
              strokeWidth={s.emphasis ? 2.5 : 1.5}
              dot={points.length < 40 ? { r: 2 } : false}
              connectNulls
              isAnimationActive={false}
            />
          ))}
        </LineChart>
      )}
      {latest.length > 0 && (
        <p className="muted chart-latest">
          Latest: {latest.map((s) => `${s.label} ${format(s.value!)}`).join(' · ')}
        </p>
      )}
    </figure>
  );
}

function lastValue(rows: readonly ChartRow[], key: string): number | undefined {
  for (let i = rows.length - 1; i >= 0; i--) {
    const value = rows[i]![key];
    if (value != null && Number.isFinite(value)) return value;
  }
  return undefined;
}
