import { useEffect, useState } from 'react';
import { useStudio } from '../../state/store.ts';
import { waitingFor } from '../../studio/gpu-jobs.ts';
import { Field } from '../components/Field.tsx';
import { ErrorNotice } from '../components/ErrorNotice.tsx';
import { RoutingConfusion } from '../router/RoutingConfusion.tsx';
import { hrefFor } from '../routes.ts';
import type { RegretTest } from '../../route/regret.ts';

const fmt = (value: number | null) => (value === null || !Number.isFinite(value) ? '—' : value.toFixed(3));

/** The paired test of routed against oracle (app/route/regret.ts); evaluations stored before it existed lack it. */
function noiseCells(row: Partial<RegretTest>) {
  if (!row.regret_interval || !row.regret_test) return ['—', '—'];
  const { p_value: p, within_noise: withinNoise } = row.regret_test;
  return [`${fmt(row.regret_interval[0])} to ${fmt(row.regret_interval[1])}`, `${withinNoise ? 'yes' : 'no'} (p ${p < 0.001 ? '< 0.001' : p.toFixed(3)})`];
}

/**
 * A router measured on its recipe's validation prompts (app/route/evaluate.ts): routing accuracy, the
 * confusion matrix, and per task the metric when routed, with the task's own adapter (oracle), with a
 * shared cocktail adapter, with the base model, and the routing regret (oracle − routed; for a loss,
 * routed − oracle, so a positive regret always means the router cost something) with its 95% interval
 * and whether it is within noise (an exact paired sign test over the same prompts).
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
                      {candidate.name} ({candidate.experts.join(', ')})
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
                Routing accuracy on the validation prompts: <strong>{(100 * result.routing_accuracy).toFixed(1)}%</strong>
              </p>
              <table className="metrics-table" aria-label="Routed against oracle, shared and base">
                <thead>
                  <tr>
                    <th scope="col">task</th>
                    <th scope="col">metric</th>
                    <th scope="col" className="number">
                      examples
                    </th>
                    <th scope="col" className="number">
                      routing accuracy
                    </th>
                    <th scope="col" className="number">
                      routed
                    </th>
                    <th scope="col" className="number">
                      oracle
                    </th>
                    <th scope="col" className="number">
                      shared
                    </th>
                    <th scope="col" className="number">
                      base
                    </th>
                    <th scope="col" className="number">
                      regret
                    </th>
                    <th scope="col" className="number">
                      regret 95% interval
                    </th>
                    <th scope="col">within noise of oracle</th>
                  </tr>
                </thead>
                <tbody>
                  {Object.entries(result.tasks).map(([task, row]) => (
                    <tr key={task}>
                      <th scope="row">{task}</th>
                      <td>{row.metric}</td>
                      <td className="number">{row.examples}</td>
                      <td className="number">{(100 * row.routing_accuracy).toFixed(1)}%</td>
                      <td className="number">{fmt(row.routed)}</td>
                      <td className="number">{fmt(row.oracle)}</td>
                      <td className="number">{fmt(row.shared)}</td>
                      <td className="number">{fmt(row.base)}</td>
                      <td className="number">{fmt(row.regret)}</td>
                      {noiseCells(row).map((cell, index) => (
                        <td key={index} className={index === 0 ? 'number' : undefined}>
                          {cell}
                        </td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
              <RoutingConfusion confusion={result.confusion} experts={router.experts} label="Router evaluation confusion matrix" />
            </>
          )}
          {router && !result && !running && <p className="muted">This router has not been evaluated yet.</p>}
        </>
      )}
    </section>
  );
}
