import { useId, useState } from 'react';
import { compareRuns, deltaGlyph, formatDelta, formatMetric, METRIC_LABELS, type CompareBy, type ComparisonCell, type Metric } from '../../studio/compare-runs.ts';
import type { EvaluationSource } from '../../studio/evaluation-sources.ts';
import { Field } from '../components/Field.tsx';

/** Columns shown at first: the newest few, so a long history does not make a table too wide to read. */
const DEFAULT_COLUMNS = 4;

/**
 * Runs side by side: pick the evaluations to compare (single-task runs, the mixture run, the base
 * model...), a baseline, and whether to compare each task's metric or the validation loss. The best
 * value of each task is marked, and every other column shows its difference from the baseline with
 * its sign, an up or down arrow and the word better or worse (lower loss is better) — never colour
 * alone — and whether the difference is larger than the validation split's noise.
 */
export function CompareRuns({ sources, opened }: { sources: readonly EvaluationSource[]; /** Columns and baseline to open with (a link from an experiment's arm). */ opened?: { ids: string[]; baselineId: string } }) {
  const [chosen, setChosen] = useState<string[] | undefined>(opened?.ids);
  const [baselineId, setBaselineId] = useState<string | undefined>(opened?.baselineId);
  const [by, setBy] = useState<CompareBy>('metric');
  const groupId = useId();

  const selectedIds = (chosen ?? sources.slice(-DEFAULT_COLUMNS).map((s) => s.id)).filter((id) => sources.some((s) => s.id === id));
  const columns = sources.filter((source) => selectedIds.includes(source.id));
  const baseline = columns.find((c) => c.id === baselineId)?.id ?? columns[0]?.id;
  const rows = compareRuns(columns, { ...(baseline ? { baselineId: baseline } : {}), by });

  const toggle = (id: string, on: boolean) => setChosen(on ? [...selectedIds, id] : selectedIds.filter((other) => other !== id));

  return (
    <section className="panel" aria-labelledby="compare-title">
      <h2 id="compare-title">Compare runs</h2>
      <fieldset className="compare-columns">
        <legend id={groupId}>Evaluations to compare</legend>
        {sources.map((source) => (
          <label key={source.id} className="compare-choice">
            <input type="checkbox" checked={selectedIds.includes(source.id)} onChange={(event) => toggle(source.id, event.target.checked)} /> {source.label}
            <small className="muted"> — {source.detail}</small>
          </label>
        ))}
      </fieldset>
      <div className="row compare-settings">
        <Field label="Baseline" hint="Differences are shown against this column.">
          {(props) => (
            <select {...props} value={baseline ?? ''} onChange={(event) => setBaselineId(event.target.value)} disabled={columns.length < 2}>
              {columns.map((column) => (
                <option key={column.id} value={column.id}>
                  {column.label}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Compare by" hint="Each task's own metric, or the validation loss of every task.">
          {(props) => (
            <select {...props} value={by} onChange={(event) => setBy(event.target.value as CompareBy)}>
              <option value="metric">Task metric</option>
              <option value="loss">Validation loss</option>
            </select>
          )}
        </Field>
      </div>
      {columns.length < 2 ? (
        <p className="muted">Choose at least two evaluations to compare them.</p>
      ) : (
        <div className="table-scroll">
          <table className="compare-table">
            <caption>
              {by === 'loss' ? 'Validation loss per task (lower is better)' : 'Task metric per task (higher is better)'}; ★ marks the best of each task; differences are against{' '}
              {columns.find((c) => c.id === baseline)?.label}.
            </caption>
            <thead>
              <tr>
                <th scope="col">Task</th>
                {columns.map((column) => (
                  <th scope="col" key={column.id} className="number">
                    {column.label}
                    {column.id === baseline && <span className="baseline-tag"> (baseline)</span>}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <tr key={row.task}>
                  <th scope="row">
                    {row.task} <small className="muted">{METRIC_LABELS[row.metric]}</small>
                  </th>
                  {row.cells.map((cell, index) => (
                    <CompareCell key={columns[index]!.id} cell={cell} metric={row.metric} />
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function CompareCell({ cell, metric }: { cell: ComparisonCell; metric: Metric }) {
  if (cell.otherMetric) return <td className="number muted">measured by {METRIC_LABELS[cell.otherMetric]}</td>;
  if (cell.value === undefined) return <td className="number muted">—</td>;
  return (
    <td className={`number${cell.best ? ' best' : ''}`}>
      <span className="compare-value">
        {formatMetric(metric, cell.value)}
        {cell.best && <span className="best-mark"> ★ best</span>}
      </span>
      {cell.delta !== undefined && cell.change && <Delta metric={metric} delta={cell.delta} change={cell.change} matters={cell.matters ?? false} />}
    </td>
  );
}

function Delta({ metric, delta, change, matters }: { metric: Metric; delta: number; change: 'better' | 'worse' | 'same'; matters: boolean }) {
  // The arrow follows the number (up or down); whether that is good is said in words and colour.
  const arrow = deltaGlyph(delta);
  const words = change === 'same' ? 'same' : matters ? change : `${change}, within noise`;
  return (
    <span className={`delta ${change}${matters ? ' matters' : ''}`}>
      <span aria-hidden="true">{arrow} </span>
      {formatDelta(metric, delta)} <span className="delta-words">{words}</span>
    </span>
  );
}
