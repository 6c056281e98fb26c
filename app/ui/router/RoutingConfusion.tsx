import { confusionGrid } from '../../studio/router-plan.ts';
import { HeatmapChart } from '../charts/HeatmapChart.tsx';

/** A cell's colour: the share of the task's prompts, green on the diagonal (routed right), red off it. */
function cellFill(share: number, right: boolean): string {
  const alpha = 0.06 + 0.7 * share;
  return right ? `rgba(34, 139, 34, ${alpha.toFixed(3)})` : `rgba(200, 40, 40, ${alpha.toFixed(3)})`;
}

/**
 * Where each task's validation prompts were routed: a heatmap (tasks × experts, then any fallback that
 * answered; recharts through HeatmapChart) with each cell's count and share, and the same as a table.
 */
export function RoutingConfusion({ confusion, experts, label }: { confusion: Readonly<Record<string, Readonly<Record<string, number>>>>; experts: readonly string[]; label: string }) {
  const grid = confusionGrid(confusion, experts);
  if (grid.rows.length === 0) return <p className="muted">No validation prompts were routed.</p>;
  const cells = grid.rows.map((row, r) =>
    grid.columns.map((column, c) => ({ text: `${grid.counts[r]![c]} (${(100 * grid.shares[r]![c]!).toFixed(0)}%)`, fill: cellFill(grid.shares[r]![c]!, row === column) })),
  );
  return (
    <div className="routing-confusion">
      <HeatmapChart rows={grid.rows} columns={grid.columns} cells={cells} label={label} />
      <details>
        <summary>{label} as a table</summary>
        <table className="confusion-matrix" aria-label={`${label} table`}>
          <caption>Task of the prompt (rows) against the expert that answered it (columns)</caption>
          <thead>
            <tr>
              <th scope="col">task</th>
              {grid.columns.map((column) => (
                <th key={column} scope="col">
                  {column}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {grid.rows.map((row, r) => (
              <tr key={row}>
                <th scope="row">{row}</th>
                {grid.columns.map((column, c) => (
                  <td key={column}>{grid.counts[r]![c]}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </div>
  );
}
