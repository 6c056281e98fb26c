import { useState } from 'react';
import type { LayerResult } from '../../route/layers.ts';
import type { LayerComparisonState } from '../../state/slices/router.ts';
import { useStudio } from '../../state/store.ts';
import { waitingFor } from '../../studio/gpu-jobs.ts';
import { ErrorNotice } from '../components/ErrorNotice.tsx';
import { ProgressBar } from '../components/ProgressBar.tsx';

const percent = (value: number) => (Number.isFinite(value) ? `${(100 * value).toFixed(1)}%` : '—');

/**
 * Held-out accuracy per layer (and pooling) side by side, a bar each, the best row marked, and a "Use"
 * button per row that puts its layer and pooling in the router's settings.
 */
export function LayerComparisonTable({ results, best, current, onUse, disabled }: { results: readonly LayerResult[]; best?: LayerResult; current: { layer?: number; pooling: string }; onUse: (result: LayerResult) => void; disabled: boolean }) {
  return (
    <table className="layer-comparison" aria-label="Held-out accuracy per layer">
      <thead>
        <tr>
          <th scope="col">Layer</th>
          <th scope="col">Pooling</th>
          <th scope="col">Held-out accuracy</th>
          <th scope="col">Train accuracy</th>
          <th scope="col">Kept step</th>
          <th scope="col" aria-label="Use" />
        </tr>
      </thead>
      <tbody>
        {results.map((result) => {
          const isBest = best !== undefined && result.layer === best.layer && result.pooling === best.pooling;
          const inUse = current.layer === result.layer && current.pooling === result.pooling;
          return (
            <tr key={`${result.layer} ${result.pooling}`} className={isBest ? 'best' : undefined} data-testid="layer-row" {...(isBest ? { 'aria-current': 'true' as const } : {})}>
              <th scope="row">{result.layer}</th>
              <td>{result.pooling}</td>
              <td>
                <meter min={0} max={1} value={Number.isFinite(result.heldOutAccuracy) ? result.heldOutAccuracy : 0} aria-hidden="true" /> {percent(result.heldOutAccuracy)}
                {isBest && <strong> best</strong>}
              </td>
              <td>{percent(result.trainAccuracy)}</td>
              <td>
                {result.bestStep} of {result.steps}
              </td>
              <td>
                {inUse ? (
                  <span className="muted">in use</span>
                ) : (
                  <button type="button" className="secondary" disabled={disabled} aria-label={`Use layer ${result.layer} (${result.pooling})`} onClick={() => onUse(result)}>
                    {isBest ? 'Use this layer' : 'Use'}
                  </button>
                )}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** What the comparison is doing: loading, preparing, the feature pass, or heads trained of all, with an ETA. */
export function LayerComparisonStatus({ state }: { state: LayerComparisonState }) {
  if (state.status !== 'running') return null;
  const { progress } = state;
  return (
    <div className="router-progress">
      <p role="status" data-testid="layers-status">
        {state.waitingBehind
          ? waitingFor(state.waitingBehind)
          : `Comparing layers: ${state.stage === 'model' ? 'loading the base model' : state.stage === 'data' ? 'preparing the tasks' : progress?.phase === 'heads' ? 'training one head per layer' : progress ? 'computing every layer’s features in one pass' : 'starting'}…`}
      </p>
      {state.stage === 'data' && state.prepare && <ProgressBar label={`Preparing ${state.prepare.task}`} value={state.prepare.done} max={state.prepare.total ?? null} />}
      {progress && (
        <ProgressBar
          label={progress.phase === 'features' ? 'Feature pass' : 'Heads trained'}
          value={progress.done}
          max={progress.total}
          {...(progress.etaSeconds !== undefined ? { etaSeconds: progress.etaSeconds } : {})}
          detail={progress.phase === 'features' ? `${progress.done} of ${progress.total} prompts` : `${progress.done} of ${progress.total} heads`}
        />
      )}
      <button type="button" className="secondary" onClick={() => useStudio.getState().cancelLayerComparison()}>
        Cancel
      </button>
    </div>
  );
}

/**
 * "Which layer routes best?": the router of the settings above trained at every layer on the same
 * balanced split, held-out accuracy side by side, and the chosen layer put in the settings.
 */
export function LayerComparisonPanel({ disabled, problems }: { disabled: boolean; problems: readonly string[] }) {
  const state = useStudio((studio) => studio.routerLayers);
  const settings = useStudio((studio) => studio.routerSettings);
  const [everyPooling, setEveryPooling] = useState(false);
  const running = state.status === 'running';
  return (
    <section className="panel" aria-labelledby="router-layers-title">
      <h3 id="router-layers-title">Which layer routes best?</h3>
      <p className="muted">
        Trains the router above at every layer of the base model (one feature pass reads them all) on the same balanced split, head and seed as Train router, and shows each one’s accuracy on the held-out training prompts. Nothing is stored.
      </p>
      <label>
        <input type="checkbox" checked={everyPooling} disabled={running || disabled} onChange={(event) => setEveryPooling(event.target.checked)} /> Compare every pooling too (mean, last, mean and last)
      </label>{' '}
      {!running && problems.length > 0 && (
        <ul className="problems" role="status" aria-label="Before comparing">
          {problems.map((problem) => (
            <li key={problem}>{problem}</li>
          ))}
        </ul>
      )}
      {!running && (
        <button type="button" className="secondary" disabled={disabled || problems.length > 0} onClick={() => void useStudio.getState().compareRouterLayers(everyPooling)}>
          Compare layers
        </button>
      )}
      <LayerComparisonStatus state={state} />
      {state.status === 'cancelled' && <p role="status">The layer comparison was cancelled.</p>}
      {state.error && state.status === 'failed' && <ErrorNotice error={state.error} title="The layers could not be compared" />}
      {state.results.length > 0 && (
        <LayerComparisonTable results={state.results} {...(state.comparison ? { best: state.comparison.best } : {})} current={settings} disabled={disabled || running} onUse={(result) => useStudio.getState().useComparedLayer(result)} />
      )}
    </section>
  );
}
