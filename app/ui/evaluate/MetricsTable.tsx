import { formatMetric, METRIC_LABELS } from '../../studio/compare-runs.ts';
import type { EvaluationSource } from '../../studio/evaluation-sources.ts';
import { TaskDetails } from './TaskDetails.tsx';

/**
 * One evaluation per task: metric, score, validation loss and examples, then each task's details
 * (the sample, per-class results and confusion matrix, answers with their input).
 */
export function MetricsTable({ source }: { source: EvaluationSource }) {
  const { tasks } = source.evaluation;
  return (
    <>
      <table className="eval-metrics">
        <caption>
          {source.label} — {source.detail}
        </caption>
        <thead>
          <tr>
            <th scope="col">Task</th>
            <th scope="col">Metric</th>
            <th scope="col" className="number">
              Score
            </th>
            <th scope="col" className="number">
              Validation loss
            </th>
            <th scope="col" className="number">
              Examples
            </th>
          </tr>
        </thead>
        <tbody>
          {tasks.map((task) => (
            <tr key={task.task}>
              <th scope="row">{task.task}</th>
              <td>{METRIC_LABELS[task.metric]}</td>
              <td className="number">{formatMetric(task.metric, task.score)}</td>
              <td className="number">{formatMetric('loss', task.loss)}</td>
              <td className="number">{task.examples}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {tasks.map((task) => (
        <TaskDetails key={task.task} task={task} />
      ))}
    </>
  );
}
