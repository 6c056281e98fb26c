import type { TaskExpectation } from '../../studio/mixture-preview.ts';
import { seriesColor } from '../charts/theme.ts';
import { formatCount, formatPasses, formatPercent } from './format.ts';

/**
 * What each task should receive over the run: its probability at the start and the end, expected
 * examples and passes over its data, and expected tokens (examples × mean tokens per example) once
 * the task's tokens were counted. Estimated sizes are marked, never passed off as exact.
 */
export function ExpectationTable({ tasks }: { tasks: readonly TaskExpectation[] }) {
  const changes = tasks.some((task) => Math.abs(task.first - task.last) > 1e-12);
  return (
    <table className="mix-expectations" aria-label="Expected examples and tokens per task">
      <thead>
        <tr>
          <th scope="col">Task</th>
          <th scope="col">Training examples</th>
          <th scope="col">{changes ? 'Probability (first → last step)' : 'Probability'}</th>
          <th scope="col">Expected examples</th>
          <th scope="col">Passes over its data</th>
          <th scope="col">Expected tokens</th>
        </tr>
      </thead>
      <tbody>
        {tasks.map((task, index) => (
          <tr key={task.seriesKey}>
            <th scope="row">
              <span className="mix-swatch" style={{ background: seriesColor(index) }} aria-hidden="true" />
              {task.name}
              {task.role === 'regularizer' && <span className="muted"> (regularizer)</span>}
            </th>
            <td>
              {task.basis === 'rows' && <abbr title="estimated from the file’s rows less the validation split">≈ </abbr>}
              {formatCount(task.examples)}
            </td>
            <td>{changes ? `${formatPercent(task.first)} → ${formatPercent(task.last)}` : formatPercent(task.first)}</td>
            <td>{formatCount(task.expectedExamples)}</td>
            <td>{formatPasses(task.passes)}</td>
            <td>{task.expectedTokens === null ? <span className="muted">pending</span> : formatCount(task.expectedTokens)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
