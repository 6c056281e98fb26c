import { Bar, BarChart, Cell, LabelList, XAxis, YAxis } from 'recharts';
import { useChartTheme } from './theme.ts';

export interface HeatmapCell {
  /** Text written in the cell (the value, with a mark when it is significant). */
  text: string;
  fill: string;
}

/**
 * A heatmap drawn with recharts: one horizontal bar per row, stacked from one segment of width 1 per
 * column, each segment filled with its cell's colour and labelled with its text. recharts has no
 * heatmap of its own; equal stacked segments give the grid, its axes and its labels.
 * `cells[row][column]` is undefined where there is no value.
 */
export function HeatmapChart({ rows, columns, cells, label, rowHeight = 40 }: { rows: readonly string[]; columns: readonly string[]; cells: readonly (readonly (HeatmapCell | undefined)[])[]; label: string; rowHeight?: number }) {
  const theme = useChartTheme();
  const data = rows.map((row, r) => ({
    row,
    ...Object.fromEntries(columns.flatMap((_, c) => [[`c${c}`, 1], [`t${c}`, cells[r]![c]?.text ?? '—']])),
  }));
  const axisHeight = 28;
  return (
    <div role="img" aria-label={label} className="heatmap">
      <BarChart responsive layout="vertical" style={{ width: '100%', height: rows.length * rowHeight + axisHeight + 8 }} data={data} margin={{ top: 8, right: 12, bottom: 0, left: 0 }} barCategoryGap={2}>
        <XAxis
          type="number"
          orientation="top"
          domain={[0, columns.length]}
          ticks={columns.map((_, c) => c + 0.5)}
          tickFormatter={(value: number) => columns[Math.floor(value)] ?? ''}
          height={axisHeight}
          stroke={theme.muted}
          tick={{ fill: theme.text, fontSize: 13 }}
          tickLine={false}
        />
        <YAxis type="category" dataKey="row" width={96} stroke={theme.muted} tick={{ fill: theme.text, fontSize: 13 }} tickLine={false} />
        {columns.map((column, c) => (
          <Bar key={column} dataKey={`c${c}`} stackId="cells" isAnimationActive={false} stroke={theme.panel} strokeWidth={2}>
            {rows.map((row, r) => (
              <Cell key={row} fill={cells[r]![c]?.fill ?? 'transparent'} />
            ))}
            <LabelList dataKey={`t${c}`} position="center" fill={theme.text} fontSize={13} />
          </Bar>
        ))}
      </BarChart>
    </div>
  );
}
