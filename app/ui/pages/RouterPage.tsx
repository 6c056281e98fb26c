import { useEffect } from 'react';
import { useStudio } from '../../state/store.ts';
import { expertsLabel, layerComparisonRequest, routerRequest } from '../../studio/router-plan.ts';
import { ErrorNotice } from '../components/ErrorNotice.tsx';
import { LayerComparisonPanel } from '../router/LayerComparison.tsx';
import { RouterCharts } from '../router/RouterCharts.tsx';
import { RouterProgress } from '../router/RouterProgress.tsx';
import { RouterSettingsForm } from '../router/RouterSettingsForm.tsx';
import { RoutingConfusion } from '../router/RoutingConfusion.tsx';
import { hrefFor } from '../routes.ts';

const percent = (value: number | null | undefined) => (value === null || value === undefined || !Number.isFinite(value) ? '—' : `${(100 * value).toFixed(1)}%`);

/** The router just trained: how it was trained, how it routes the validation prompts, and where it went. */
function RouterResult() {
  const record = useStudio((state) => state.routerTraining.record);
  if (!record) return null;
  return (
    <section className="panel" aria-labelledby="router-result-title">
      <h3 id="router-result-title">Router “{record.name}”</h3>
      <p role="status" data-testid="router-result">
        Trained on {record.trainCounts?.join(' / ')} prompts ({expertsLabel(record)}), {record.balance}; kept step {record.bestStep}, held-out accuracy {percent(record.heldOutAccuracy)}
        {record.stoppedEarly ? ' (stopped early)' : ''}. Validation prompts routed to their own task’s expert: {percent(record.validation?.accuracy)} of {record.validation?.prompts ?? 0}.
      </p>
      {record.validation && <RoutingConfusion confusion={record.validation.confusion} experts={record.experts} label="Routing confusion matrix" />}
      <p>
        It is kept in the <a href={hrefFor('library')}>Library</a> (export it as a bundle there); try it in the <a href={hrefFor('playground')}>Playground</a>’s routed column, or measure it on the{' '}
        <a href={hrefFor('evaluate')}>Evaluate page</a>.
      </p>
    </section>
  );
}

/**
 * Router: a router over task adapters (app/route) — choose the experts, the balance and the features,
 * train it with live loss and accuracy, and see where it sends each task's validation prompts.
 */
export function RouterPage() {
  const training = useStudio((state) => state.routerTraining);
  const settings = useStudio((state) => state.routerSettings);
  const runs = useStudio((state) => state.library.runs);
  const running = training.status === 'running';
  const run = runs.find((candidate) => candidate.runId === settings.runId);
  const { problems } = routerRequest(settings, run);
  // Comparing layers needs no router name: its own problems, not training's.
  const comparisonProblems = layerComparisonRequest(settings, run, false).problems;
  const comparing = useStudio((state) => state.routerLayers.status === 'running');

  useEffect(() => {
    void useStudio.getState().refreshLibrary();
  }, []);

  return (
    <>
      <section className="panel" aria-labelledby="router-title">
        <h2 id="router-title">Router</h2>
        <p className="muted">
          A router picks, for each prompt, the expert that answers it: a task adapter, the shared cocktail adapter or the base model with no adapter, each learning from the tasks it answers. It reads the base model’s hidden state over the prompt as a person types it, and is trained on the same
          number of prompts from every task’s training split: a router trained on unbalanced data routes toward the largest task.
        </p>
        <RouterSettingsForm disabled={running || comparing} />
        {!running && problems.length > 0 && (
          <ul className="problems" role="status" aria-label="Before training">
            {problems.map((problem) => (
              <li key={problem}>{problem}</li>
            ))}
          </ul>
        )}
        {!running && (
          <button type="button" disabled={problems.length > 0 || comparing} onClick={() => void useStudio.getState().trainRouter()}>
            Train router
          </button>
        )}
        <RouterProgress />
        {training.status === 'cancelled' && <p role="status">Router training was cancelled; nothing was stored.</p>}
        {training.error && training.status === 'failed' && <ErrorNotice error={training.error} title="The router could not be trained" />}
      </section>
      <LayerComparisonPanel disabled={running} problems={comparisonProblems} />
      {(running || training.history.length > 0) && <RouterCharts history={training.history} />}
      <RouterResult />
    </>
  );
}
