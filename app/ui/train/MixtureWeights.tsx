import { useMemo } from 'react';
import { useStudio } from '../../state/store.ts';
import { LineChartPanel, type ChartRow, type ChartSeries } from '../charts/LineChartPanel.tsx';
import { seriesColor } from '../charts/theme.ts';

/**
 * Adaptive mixing on the Train page: each task's sampling probability over the steps (it changes only
 * at evaluations, so each value holds until the next point), and why each change was made. Also where
 * the best checkpoint stands and whether early stopping ended the run.
 */
export function MixtureWeights() {
  const mixture = useStudio((state) => state.train.mixture);
  const best = useStudio((state) => state.train.best);
  const stoppedEarly = useStudio((state) => state.train.stoppedEarly);
  const finished = useStudio((state) => state.train.status === 'completed');
  const rows = useMemo((): ChartRow[] => (mixture ?? []).map((point) => Object.fromEntries([['step', point.step], ...point.probabilities.map((p, task) => [`task${task}`, p])])), [mixture]);
  const series = useMemo((): ChartSeries[] => (mixture?.[0]?.taskNames ?? []).map((name, task) => ({ key: `task${task}`, label: name, color: seriesColor(task) })), [mixture]);
  const changes = (mixture ?? []).filter((point) => point.reasons.length > 0);
  if (!mixture && !best && !stoppedEarly) return null;
  return (
    <section className="panel" aria-labelledby="adaptive-title" data-testid="adaptive-mixing">
      <h3 id="adaptive-title">{mixture ? 'Adaptive mixture' : 'Best checkpoint'}</h3>
      {best && (
        <p role="status">
          Best evaluation so far: step {best.step} (score {best.score.toFixed(4)}). Its adapters are kept{finished ? ' and were exported' : ' and will be exported'}.
        </p>
      )}
      {stoppedEarly && <p role="status">Stopped early at step {stoppedEarly.step}: {stoppedEarly.reason}.</p>}
      {mixture && <LineChartPanel title="Task probabilities" rows={rows} x="step" series={series} yDomain={[0, 1]} format={(p) => p.toFixed(3)} />}
      {mixture && (
        <table aria-label="Changes to the mixture">
          <thead>
            <tr>
              <th scope="col">Step</th>
              <th scope="col">Task</th>
              <th scope="col">Why</th>
            </tr>
          </thead>
          <tbody>
            {changes.length === 0 && (
              <tr>
                <td colSpan={3} className="muted">
                  No change yet: weights change at evaluations when a task’s validation loss rises.
                </td>
              </tr>
            )}
            {changes.flatMap((point) =>
              point.reasons.map((reason) => (
                <tr key={`${point.step}/${reason.task}`}>
                  <td>{point.step}</td>
                  <td>{reason.task}</td>
                  <td>{reason.reason}</td>
                </tr>
              )),
            )}
          </tbody>
        </table>
      )}
    </section>
  );
}
