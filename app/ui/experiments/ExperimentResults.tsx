import type { ExperimentReport } from '../../experiment/export.ts';
import { resultsCsv } from '../../experiment/export.ts';
import { armRunId } from '../../experiment/design.ts';
import { saveFile } from '../../studio/download.ts';
import { HeatmapChart } from '../charts/HeatmapChart.tsx';
import { LineChartPanel, type ChartRow } from '../charts/LineChartPanel.tsx';
import { hrefFor } from '../routes.ts';

const fmt = (value: number) => (Math.abs(value) >= 100 ? value.toFixed(1) : value.toFixed(3));
const interval = (ci: readonly [number, number]) => `[${fmt(ci[0])}, ${fmt(ci[1])}]`;

/** The arms table: each arm's mean, spread and interval per task, its effect on each target, and a link to Evaluate. */
export function ArmsTable({ report, experimentId }: { report: ExperimentReport; experimentId: string }) {
  const tasks = report.arms[0] ? Object.keys(report.arms[0].metrics) : [];
  const baseline = report.targets[0] === undefined ? undefined : report.baselines[report.targets[0]];
  return (
    <table className="experiment-arms">
      <caption>Arms (report part of each task’s validation examples; 95% intervals; effect = change vs the target trained alone, positive = better)</caption>
      <thead>
        <tr>
          <th scope="col">Arm</th>
          <th scope="col">Steps</th>
          {tasks.map((task) => (
            <th scope="col" key={task}>
              {task} ({report.arms[0]!.metrics[task]!.metric}){report.targets.includes(task) ? ' · target' : ''}
            </th>
          ))}
          <th scope="col">Open on Evaluate</th>
        </tr>
      </thead>
      <tbody>
        {report.arms.map((arm) => (
          <tr key={arm.id}>
            <th scope="row">
              {arm.tasks.join(' + ')}
              <small className="muted"> {arm.design}</small>
            </th>
            <td>{arm.steps}</td>
            {tasks.map((task) => {
              const m = arm.metrics[task]!;
              const effect = report.effects.find((e) => e.arm === arm.id && e.target === task);
              return (
                <td key={task}>
                  {fmt(m.mean)} ± {fmt(m.std)} <small className="muted">{interval(m.ci)}</small>
                  {m.metric !== 'loss' && <small className="muted"> loss {fmt(m.loss.mean)}</small>}
                  {effect && (
                    <div className={effect.significant ? (effect.delta > 0 ? 'effect-positive' : 'effect-negative') : 'muted'}>
                      effect {effect.delta > 0 ? '+' : ''}
                      {fmt(effect.delta)} {interval(effect.ci)}
                      {effect.significant ? ' *' : ''}
                    </div>
                  )}
                </td>
              );
            })}
            <td>
              {arm.seeds.map((seed) => (
                <a key={seed} href={armLink(experimentId, arm.id, seed, baseline)}>
                  seed {seed}{' '}
                </a>
              ))}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** An arm's run on the Evaluate page, in its comparison against the first target's single arm of the same seed. */
function armLink(experimentId: string, arm: string, seed: number, baseline: string | undefined): string {
  const run = armRunId(experimentId, arm, seed);
  return hrefFor('evaluate', baseline === undefined || baseline === arm ? { run } : { run, compare: armRunId(experimentId, baseline, seed) });
}

/** Colour of a cell: green for a helpful effect, red for a harmful one, pale when its interval includes zero. */
function cellColour(delta: number, scale: number, significant: boolean): string {
  const strength = Math.min(1, Math.abs(delta) / (scale || 1));
  const alpha = (significant ? 0.25 : 0.08) + 0.6 * strength * (significant ? 1 : 0.3);
  return delta >= 0 ? `rgba(34, 139, 34, ${alpha})` : `rgba(200, 40, 40, ${alpha})`;
}

/** The synergy matrix as a heatmap (targets × other tasks, recharts) with its table alternative. */
export function SynergyHeatmap({ report }: { report: ExperimentReport }) {
  if (report.synergy.length === 0) return <p className="muted">The synergy matrix needs the “pairs” design.</p>;
  const targets = [...new Set(report.synergy.map((s) => s.target))];
  const tasks = [...new Set(report.synergy.map((s) => s.task))];
  const scale = Math.max(...report.synergy.map((s) => Math.abs(s.delta)));
  const cells = targets.map((target) =>
    tasks.map((task) => {
      const cell = report.synergy.find((s) => s.target === target && s.task === task);
      return cell && { text: `${cell.delta > 0 ? '+' : ''}${fmt(cell.delta)}${cell.significant ? ' *' : ''}`, fill: cellColour(cell.delta, scale, cell.significant) };
    }),
  );
  return (
    <figure className="synergy" aria-labelledby="synergy-caption">
      <figcaption id="synergy-caption">Synergy: how much adding task j (column) changes target i’s metric (row); positive = helps, * = its 95% interval excludes 0</figcaption>
      <HeatmapChart rows={targets} columns={tasks} cells={cells} label="Synergy heatmap" />
      <details>
        <summary>Synergy as a table</summary>
        <table className="synergy-table">
          <thead>
            <tr>
              <th scope="col">Target</th>
              <th scope="col">Added task</th>
              <th scope="col">Effect</th>
              <th scope="col">95% interval</th>
              <th scope="col">Excludes 0</th>
            </tr>
          </thead>
          <tbody>
            {report.synergy.map((s) => (
              <tr key={`${s.target}/${s.task}`}>
                <td>{s.target}</td>
                <td>{s.task}</td>
                <td>{fmt(s.delta)}</td>
                <td>{interval(s.ci)}</td>
                <td>{s.significant ? 'yes' : 'no'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}

/** The incremental curve (targets' metric per stage) with its table alternative. */
export function IncrementalCurve({ report }: { report: ExperimentReport }) {
  if (report.incremental.length === 0) return null;
  const rows: ChartRow[] = report.incremental.map((stage, index) => ({ stage: index, ...Object.fromEntries(report.targets.map((target) => [target, stage.scores[target]?.mean ?? null])) }));
  return (
    <div>
      <LineChartPanel title="Incremental: targets’ metric as tasks are added (x = tasks added)" rows={rows} x="stage" series={report.targets.map((target) => ({ key: target, label: target }))} />
      <details>
        <summary>Incremental curve as a table</summary>
        <table>
          <thead>
            <tr>
              <th scope="col">Stage</th>
              {report.targets.map((target) => (
                <th scope="col" key={target}>
                  {target}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {report.incremental.map((stage) => (
              <tr key={stage.arm}>
                <td>{stage.tasks.join(' + ')}</td>
                {report.targets.map((target) => (
                  <td key={target}>{stage.scores[target] ? `${fmt(stage.scores[target].mean)} ${interval(stage.scores[target].ci)}` : '—'}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </div>
  );
}

export function LeaveOneOut({ report }: { report: ExperimentReport }) {
  if (report.leave_one_out.length === 0) return null;
  return (
    <table>
      <caption>Leave-one-out: what each task contributes to each target (all tasks vs all but it; positive = it helps)</caption>
      <thead>
        <tr>
          <th scope="col">Target</th>
          <th scope="col">Task removed</th>
          <th scope="col">Contribution</th>
          <th scope="col">95% interval</th>
        </tr>
      </thead>
      <tbody>
        {report.leave_one_out.map((l) => (
          <tr key={`${l.target}/${l.removed}`}>
            <td>{l.target}</td>
            <td>{l.removed}</td>
            <td>{fmt(l.delta)}</td>
            <td>
              {interval(l.ci)}
              {l.significant ? ' *' : ''}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function Recommendation({ report, onTrain }: { report: ExperimentReport; onTrain: () => void }) {
  const { recommended } = report;
  if (!recommended) return null;
  return (
    <div className="recommendation">
      <h3>Recommended cocktail: {recommended.tasks.join(' + ')}</h3>
      <p>
        Chosen on the selection part; scores on the report part (never used for any choice):{' '}
        {Object.entries(recommended.report_scores)
          .map(([target, score]) => `${target} ${fmt(score)}`)
          .join(', ')}
        .
      </p>
      <button type="button" onClick={onTrain}>
        Train this
      </button>
    </div>
  );
}

export function ExportButtons({ report, name }: { report: ExperimentReport; name: string }) {
  return (
    <div className="row">
      <button type="button" className="secondary" onClick={() => saveFile(JSON.stringify(report, null, 2), `${name}-results.json`, 'application/json')}>
        Export JSON
      </button>
      <button type="button" className="secondary" onClick={() => saveFile(resultsCsv(report), `${name}-results.csv`, 'text/csv')}>
        Export CSV
      </button>
    </div>
  );
}
