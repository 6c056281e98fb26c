import { useStudio } from '../../state/store.ts';
import { formatMetric, formatNumber } from '../charts/format.ts';
import { hrefFor } from '../routes.ts';

/**
 * The latest evaluation as a table (the final one once the run has completed, with a few of the
 * model's answers), and for a completed run its adapters with where to go next.
 */
export function RunResults() {
  const evaluation = useStudio((state) => state.train.evaluations.at(-1));
  const status = useStudio((state) => state.train.status);
  const runId = useStudio((state) => state.train.runId);
  const adapterKeys = useStudio((state) => state.train.adapterKeys);
  const completed = status === 'completed';
  if (!evaluation && !completed) return null;
  const title = completed ? 'Final evaluation' : `Latest evaluation (step ${evaluation!.step})`;
  return (
    <section className="panel" aria-labelledby="run-results-title">
      <h2 id="run-results-title">{completed ? 'Results' : 'Evaluation'}</h2>
      {evaluation && (
        <table className="eval-table">
          <caption>{title}</caption>
          <thead>
            <tr>
              <th scope="col">Task</th>
              <th scope="col">Metric</th>
              <th scope="col">Score</th>
              <th scope="col">Validation loss</th>
              <th scope="col">Examples</th>
            </tr>
          </thead>
          <tbody>
            {evaluation.tasks.map((task) => (
              <tr key={task.task}>
                <th scope="row">{task.task}</th>
                <td>{task.metric}</td>
                <td>{formatMetric(task.metric, task.score)}</td>
                <td>{formatNumber(task.loss)}</td>
                <td>{task.examples}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {evaluation && evaluation.tasks.some((task) => task.samples.length > 0) && (
        <details>
          <summary>Answers from the validation split</summary>
          {evaluation.tasks
            .filter((task) => task.samples.length > 0)
            .map((task) => (
              <div key={task.task}>
                <h3>{task.task}</h3>
                <table className="samples">
                  <thead>
                    <tr>
                      <th scope="col">Expected</th>
                      <th scope="col">The model said</th>
                    </tr>
                  </thead>
                  <tbody>
                    {task.samples.map((sample, i) => (
                      <tr key={i}>
                        <td>{sample.expected}</td>
                        <td>{sample.got}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            ))}
        </details>
      )}
      {completed && (
        <>
          <h3>Adapters</h3>
          {adapterKeys.length > 0 ? (
            <ul className="adapter-keys" aria-label="Exported adapters">
              {adapterKeys.map((key) => (
                <li key={key}>
                  <code>{key}</code> — <a href={hrefFor('playground', { adapter: key })}>Try it in the Playground</a>
                </li>
              ))}
            </ul>
          ) : (
            <p className="muted">This run exported no adapters.</p>
          )}
          <p className="row next-steps">
            <a href={hrefFor('evaluate', runId ? { run: runId } : undefined)}>Compare runs on the Evaluate page</a>
            <a href={hrefFor('playground', adapterKeys[0] ? { adapter: adapterKeys[0] } : undefined)}>Open the Playground</a>
            <a href={hrefFor('library')}>Export it from the Library</a>
          </p>
        </>
      )}
    </section>
  );
}
