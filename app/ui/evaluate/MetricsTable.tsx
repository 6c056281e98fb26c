import { formatMetric, METRIC_LABELS } from '../../studio/compare-runs.ts';
import type { EvaluationSource } from '../../studio/evaluation-sources.ts';

/** How many of each task's answers to show next to its number. */
const SAMPLES_SHOWN = 3;

/** One evaluation per task: metric, score, validation loss, examples, and a few answers expected vs given. */
export function MetricsTable({ source }: { source: EvaluationSource }) {
  const { tasks } = source.evaluation;
  const withSamples = tasks.filter((task) => task.samples.length > 0);
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
      {withSamples.length > 0 && (
        <details className="eval-samples">
          <summary>Answers from the validation split: expected vs got</summary>
          {withSamples.map((task) => (
            <table key={task.task} className="eval-sample-table">
              <caption>{task.task}</caption>
              <thead>
                <tr>
                  <th scope="col">Expected</th>
                  <th scope="col">Got</th>
                </tr>
              </thead>
              <tbody>
                {task.samples.slice(0, SAMPLES_SHOWN).map((sample, index) => (
                  <tr key={index} className={sample.expected.trim() === sample.got.trim() ? 'sample-match' : undefined}>
                    <td>{sample.expected}</td>
                    <td>{sample.got || <span className="muted">(nothing)</span>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ))}
        </details>
      )}
    </>
  );
}
