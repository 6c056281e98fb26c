import { useEffect, useState } from 'react';
import type { RouterRecord } from '../../../workers/protocol.ts';
import { useStudio } from '../../state/store.ts';
import { expertsLabel } from '../../studio/router-plan.ts';
import { formatDelta, formatMetric, METRIC_LABELS } from '../../studio/compare-runs.ts';
import { waitingFor } from '../../studio/gpu-jobs.ts';
import { Field } from '../components/Field.tsx';
import { ErrorNotice } from '../components/ErrorNotice.tsx';
import { RoutingConfusion } from '../router/RoutingConfusion.tsx';
import { percent } from './ClassificationView.tsx';
import { TaskTable, type TaskColumn } from './MetricsTable.tsx';
import { hrefFor } from '../routes.ts';
import type { RegretTest } from '../../route/regret.ts';

type TaskRouting = NonNullable<RouterRecord['evaluation']>['tasks'][string];

const score = (row: TaskRouting, value: number | null) => (value === null ? '—' : formatMetric(row.metric, value));

/** Per task: the metric routed, with the expert the task teaches (oracle), the shared adapter and the base model, and the regret. */
const ROUTING_COLUMNS: TaskColumn<TaskRouting & { task: string }>[] = [
  { header: 'metric', cell: (row) => METRIC_LABELS[row.metric] },
  { header: 'examples', numeric: true, cell: (row) => row.examples },
  { header: 'routing accuracy', numeric: true, cell: (row) => percent(row.routing_accuracy) },
  { header: 'routed', numeric: true, cell: (row) => score(row, row.routed) },
  { header: 'oracle', numeric: true, cell: (row) => score(row, row.oracle) },
  { header: 'shared', numeric: true, cell: (row) => score(row, row.shared) },
  { header: 'base', numeric: true, cell: (row) => score(row, row.base) },
  { header: 'regret', numeric: true, cell: (row) => formatDelta(row.metric, row.regret) },
  { header: 'regret 95% interval', numeric: true, cell: regretInterval },
  { header: 'within noise of oracle', cell: withinNoise },
];

/** The paired test of routed against oracle (app/route/regret.ts); evaluations stored before it existed lack it. */
function regretInterval(row: TaskRouting & Partial<RegretTest>): string {
  return row.regret_interval ? `${formatDelta(row.metric, row.regret_interval[0])} to ${formatDelta(row.metric, row.regret_interval[1])}` : '—';
}

function withinNoise(row: Partial<RegretTest>): string {
  if (!row.regret_test) return '—';
  const { p_value: p, within_noise: within } = row.regret_test;
  return `${within ? 'yes' : 'no'} (p ${p < 0.001 ? '< 0.001' : p.toFixed(3)})`;
}

/**
 * A router measured on its recipe's validation prompts (app/route/evaluate.ts): routing accuracy, the
 * confusion matrix, and per task the metric when routed, with the expert the task teaches (oracle: its
 * own adapter, the shared one or the base model), with a shared cocktail adapter, with the base model,
 * and the routing regret (oracle − routed; for a loss, routed − oracle, so a positive regret always
 * means the router cost something) with its 95% interval and whether it is within noise (an exact
 * paired sign test over the same prompts).
 */
export function RouterEvaluationPanel() {
  const routers = useStudio((state) => state.routers.items);
  const evaluation = useStudio((state) => state.routerEvaluation);
  const adapters = useStudio((state) => state.library.adapters);
  const [chosen, setChosen] = useState<string>('');
  const [sharedKey, setSharedKey] = useState<string>('');

  useEffect(() => {
    void useStudio.getState().refreshRouters();
  }, []);

  const router = routers.find((candidate) => candidate.key === chosen) ?? routers[0];
  const running = evaluation.status === 'running';
  const result = router?.evaluation;
  return (
    <section className="panel" aria-labelledby="router-evaluation-title">
      <h2 id="router-evaluation-title">Routers</h2>
      {routers.length === 0 ? (
        <p className="muted">
          No routers yet: train one on the <a href={hrefFor('router')}>Router page</a>.
        </p>
      ) : (
        <>
          <div className="row">
            <Field label="Router to evaluate">
              {(props) => (
                <select {...props} value={router?.key ?? ''} disabled={running} onChange={(event) => setChosen(event.target.value)}>
                  {routers.map((candidate) => (
                    <option key={candidate.key} value={candidate.key}>
                      {candidate.name} ({expertsLabel(candidate)})
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <Field label="Shared adapter to compare" hint="The cocktail adapter trained on every task (the router’s own fallback adapter when it has one).">
              {(props) => (
                <select {...props} value={sharedKey} disabled={running} onChange={(event) => setSharedKey(event.target.value)}>
                  <option value="">{router?.sharedKey ? `The router’s fallback (${router.sharedKey})` : 'None'}</option>
                  {adapters.map((adapter) => (
                    <option key={adapter.key} value={adapter.key}>
                      {adapter.label ?? adapter.key}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            {running ? (
              <button type="button" className="secondary" onClick={() => useStudio.getState().cancelRouterEvaluation()}>
                Cancel
              </button>
            ) : (
              <button type="button" disabled={!router} onClick={() => router && void useStudio.getState().evaluateRouter(router.key, sharedKey || undefined)}>
                Evaluate router
              </button>
            )}
          </div>
          {running && (
            <p role="status" data-testid="router-evaluation-status">
              {evaluation.waitingBehind
                ? waitingFor(evaluation.waitingBehind)
                : `Evaluating the router: ${evaluation.stage ?? 'starting'}${evaluation.tasksDone.length > 0 ? ` (done: ${evaluation.tasksDone.join(', ')})` : ''}…`}
            </p>
          )}
          {evaluation.status === 'failed' && evaluation.error && evaluation.routerKey === router?.key && <ErrorNotice error={evaluation.error} title="The router could not be evaluated" />}
          {router && result && (
            <>
              <p data-testid="routing-accuracy">
                Routing accuracy on the validation prompts: <strong>{percent(result.routing_accuracy)}</strong>
              </p>
              <TaskTable className="metrics-table" label="Routed against oracle, shared and base" rowHeader="task" columns={ROUTING_COLUMNS} rows={Object.entries(result.tasks).map(([task, row]) => ({ task, ...row }))} />
              <RoutingConfusion confusion={result.confusion} experts={router.experts} label="Router evaluation confusion matrix" />
            </>
          )}
          {router && !result && !running && <p className="muted">This router has not been evaluated yet.</p>}
        </>
      )}
    </section>
  );
}
