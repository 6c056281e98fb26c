import { useEffect, useMemo, useState } from 'react';
import { useStudio } from '../../state/store.ts';
import { evaluationSources } from '../../studio/evaluation-sources.ts';
import { ErrorNotice } from '../components/ErrorNotice.tsx';
import { Field } from '../components/Field.tsx';
import { CompareRuns } from '../evaluate/CompareRuns.tsx';
import { EvaluateModel } from '../evaluate/EvaluateModel.tsx';
import { EvaluationProgress } from '../evaluate/EvaluationProgress.tsx';
import { MetricsTable } from '../evaluate/MetricsTable.tsx';
import { RouterEvaluationPanel } from '../evaluate/RouterEvaluationPanel.tsx';
import { RunCurves } from '../evaluate/RunCurves.tsx';
import { hrefFor, useRoute } from '../routes.ts';

/**
 * Evaluate: the per-task metrics of a run (or of an evaluation made here, kept across visits),
 * evaluating again, the base model or a library adapter, and runs side by side. Runs come from the "runs" store, read again
 * whenever a training run changes state so a finished run shows up without a reload.
 */
export function EvaluatePage() {
  const runs = useStudio((state) => state.library.runs);
  const libraryStatus = useStudio((state) => state.library.status);
  const libraryError = useStudio((state) => state.library.error);
  const results = useStudio((state) => state.evaluation.results);
  const evaluating = useStudio((state) => state.evaluation.status === 'running');
  const notSaved = useStudio((state) => state.evaluation.notSaved);
  const trainStatus = useStudio((state) => state.train.status);
  const sources = useMemo(() => evaluationSources(runs, results), [runs, results]);
  // A choice holds until the page makes a new evaluation, which is then shown.
  const [chosen, setChosen] = useState<{ id: string; results: number }>();

  useEffect(() => {
    void useStudio.getState().refreshLibrary();
  }, [trainStatus]);

  // #/evaluate?run=<runId> (an experiment's arm, for one) opens on that run until another is chosen.
  const params = useRoute().params;
  const linkedRun = params.get('run');
  // &compare=<runId>: the comparison opens on the linked run against that one (an arm against its target's single arm).
  const comparedRun = params.get('compare');
  const linked = linkedRun ? sources.find((source) => source.runId === linkedRun)?.id : undefined;
  const newest = linked ?? results.at(-1)?.id ?? sources.filter((s) => s.runId).at(-1)?.id ?? sources.at(-1)?.id;
  const shownId = chosen && chosen.results === results.length ? chosen.id : newest;
  const shown = sources.find((source) => source.id === shownId);
  const shownRun = shown?.runId ? runs.find((run) => run.runId === shown.runId) : undefined;

  return (
    <div className="evaluate-page">
      <section className="panel" aria-labelledby="evaluate-title">
        <h2 id="evaluate-title">Evaluate</h2>
        {libraryError && <ErrorNotice error={libraryError} title="Runs could not be read from storage" />}
        {sources.length === 0 ? (
          libraryStatus !== 'loading' && (
            <p className="muted">
              No evaluations yet. Train a run on the <a href={hrefFor('train')}>Train page</a> (it evaluates every task as it goes), or evaluate the base model below.
            </p>
          )
        ) : (
          <>
            <div className="row eval-choose">
              <Field label="Results of">
                {(props) => (
                  <select {...props} value={shown?.id ?? ''} onChange={(event) => setChosen({ id: event.target.value, results: results.length })}>
                    {sources.map((source) => (
                      <option key={source.id} value={source.id}>
                        {source.label}
                      </option>
                    ))}
                  </select>
                )}
              </Field>
              {shown && !shown.runId && (
                <button type="button" className="secondary" disabled={evaluating} onClick={() => useStudio.getState().forgetEvaluation(shown.id)}>
                  Forget this evaluation
                </button>
              )}
              {shownRun && (
                <button
                  type="button"
                  className="secondary"
                  disabled={evaluating || shownRun.adapterKeys.length === 0}
                  title={shownRun.adapterKeys.length === 0 ? 'Only finished runs have adapters to evaluate' : undefined}
                  onClick={() => void useStudio.getState().evaluateRun(shownRun.runId)}
                >
                  Evaluate again
                </button>
              )}
            </div>
            {shown && <MetricsTable source={shown} />}
            {notSaved && <p className="muted">This browser would not store the page’s evaluations (storage full or disabled): they last until the page is closed.</p>}
          </>
        )}
        <EvaluationProgress />
      </section>
      <EvaluateModel />
      {sources.length > 0 &&
        (linkedRun && comparedRun ? (
          <CompareRuns key={`${comparedRun}/${linkedRun}`} sources={sources} opened={{ ids: [`run:${comparedRun}`, `run:${linkedRun}`], baselineId: `run:${comparedRun}` }} />
        ) : (
          <CompareRuns sources={sources} />
        ))}
      <RunCurves />
      <RouterEvaluationPanel />
    </div>
  );
}
