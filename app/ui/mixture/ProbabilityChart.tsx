import { useMemo } from 'react';
import { CartesianGrid, Legend, Line, LineChart, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { ChartPoint, TaskExpectation } from '../../studio/mixture-preview.ts';
import { CHART_POINTS, downsample } from '../charts/downsample.ts';
import { seriesColor, useChartTheme } from '../charts/theme.ts';
import { formatPercent } from './format.ts';

const CHART_HEIGHT = 300;

/**
 * Each task's sampling probability over the run's optimizer steps, one line per task, with the same
 * numbers as a table for readers who cannot see the chart.
 */
/** More change lines than this would hide the curves: the note lists them instead. */
const MAX_CHANGE_LINES = 24;

export function ProbabilityChart({
  series,
  tasks,
  optimizerSteps,
  strategyLabel,
  changeSteps = [],
}: {
  series: readonly ChartPoint[];
  tasks: readonly TaskExpectation[];
  optimizerSteps: number;
  strategyLabel: string;
  /** Steps where the schedule changes (a new mixture epoch of an annealed strategy), drawn as dashed lines. */
  changeSteps?: readonly number[];
}) {
  const theme = useChartTheme();
  // Annealing adds two points per mixture epoch, so a long run over small tasks can bring thousands.
  const points = useMemo(() => downsample(series, CHART_POINTS, tasks.map((task) => (point: ChartPoint) => point[task.seriesKey])), [series, tasks]);
  const caption = `Sampling probability of each task over ${formatSteps(optimizerSteps)} (${strategyLabel})`;
  return (
    <figure className="mix-chart">
      <figcaption>{caption}</figcaption>
      <div role="img" aria-label={`${caption}: a line chart of ${tasks.map((task) => task.name).join(', ')}. The table below gives the same numbers.`} data-testid="probability-chart">
        <ResponsiveContainer width="100%" height={CHART_HEIGHT}>
          <LineChart data={points} margin={{ top: 8, right: 16, bottom: 8, left: 8 }} accessibilityLayer={false}>
            <CartesianGrid stroke={theme.border} strokeDasharray="3 3" />
            <XAxis
              dataKey="step"
              type="number"
              domain={[1, Math.max(optimizerSteps, 2)]}
              allowDecimals={false}
              stroke={theme.muted}
              tick={{ fill: theme.muted }}
              label={{ value: 'Optimizer step', position: 'insideBottom', offset: -4, fill: theme.muted }}
              height={44}
            />
            <YAxis domain={[0, 1]} tickFormatter={(value: number) => `${Math.round(100 * value)}%`} stroke={theme.muted} tick={{ fill: theme.muted }} width={52} />
            <Tooltip
              formatter={(value) => formatPercent(Number(value))}
              labelFormatter={(step) => `Step ${String(step)}`}
              contentStyle={{ background: theme.panel, border: `1px solid ${theme.border}`, color: theme.text }}
              labelStyle={{ color: theme.text }}
            />
            <Legend verticalAlign="top" height={32} wrapperStyle={{ color: theme.text }} />
            {changeSteps.length <= MAX_CHANGE_LINES && changeSteps.map((step) => <ReferenceLine key={step} x={step} stroke={theme.muted} strokeDasharray="4 4" ifOverflow="hidden" />)}
            {tasks.map((task, index) => (
              <Line key={task.seriesKey} dataKey={task.seriesKey} name={task.name} stroke={seriesColor(index)} strokeWidth={2} dot={false} isAnimationActive={false} type="linear" />
            ))}
          </LineChart>
        </ResponsiveContainer>
      </div>
      <details className="mix-chart-table">
        <summary>The chart as a table</summary>
        <div className="mix-scroll">
          <table aria-label="Sampling probability by step">
            <thead>
              <tr>
                <th scope="col">Step</th>
                {tasks.map((task) => (
                  <th key={task.seriesKey} scope="col">
                    {task.name}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {points.map((point, index) => (
                <tr key={index}>
                  <th scope="row">{point.step}</th>
                  {tasks.map((task) => (
                    <td key={task.seriesKey}>{formatPercent(point[task.seriesKey]!)}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}

function formatSteps(steps: number): string {
  return `${steps.toLocaleString('en-US')} step${steps === 1 ? '' : 's'}`;
}
