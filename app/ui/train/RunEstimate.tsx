import { useEffect, useMemo } from 'react';
import { useStudio } from '../../state/store.ts';
import { mixturePreview, taskSizes } from '../../studio/mixture-preview.ts';
import { estimateRun, measuredRate } from '../../studio/run-estimate.ts';
import { formatDuration } from '../components/ProgressBar.tsx';
import { formatCount } from '../mixture/format.ts';
import { hrefFor } from '../routes.ts';

/**
 * Before Start: how many examples and tokens the run will train on, and how long that takes at the
 * rate the last run of this model measured on this machine. Only what is known is said.
 */
export function RunEstimate() {
  const recipe = useStudio((state) => state.recipe);
  const taskStats = useStudio((state) => state.taskStats);
  const importedFiles = useStudio((state) => state.importedFiles);
  const last = useStudio((state) => state.train);

  useEffect(() => {
    if (useStudio.getState().importedFiles.status === 'idle') void useStudio.getState().refreshImportedFiles();
  }, []);

  const fileRows = useMemo(() => Object.fromEntries(importedFiles.files.map((file) => [file.name, file.rows])), [importedFiles.files]);
  const preview = useMemo(() => {
    try {
      return mixturePreview(recipe, taskSizes(recipe, taskStats, fileRows));
    } catch {
      // The recipe's problems are listed above the Start button; no estimate until they are fixed.
      return undefined;
    }
  }, [recipe, taskStats, fileRows]);
  const lastModel = (last.recipe as { model?: { source?: unknown } } | undefined)?.model?.source;
  const rate = lastModel === recipe.model.source ? measuredRate(last.history) : undefined;

  if (!preview || preview.status !== 'ready') return null;
  const estimate = estimateRun(recipe, preview, rate);
  return (
    <p className="run-estimate" data-testid="run-estimate">
      <strong>Estimate:</strong> {formatCount(estimate.optimizerSteps)} steps, {formatCount(estimate.examples)} examples,{' '}
      {estimate.tokens !== null ? (
        <>about {formatCount(Math.round(estimate.tokens))} tokens</>
      ) : (
        <>
          at most {formatCount(estimate.maxTokens)} tokens (the expected count needs the tasks’ token counts: <a href={hrefFor('mixture')}>Mixture page</a>)
        </>
      )}
      {'; '}
      {estimate.seconds !== null ? (
        <>
          {estimate.secondsIsUpperBound ? 'at most' : 'about'} {formatDuration(estimate.seconds)} of training at {formatCount(Math.round(rate!))} tokens/s, the rate the last run of this model
          measured here (evaluations come on top).
        </>
      ) : (
        <>the time is known after a first run of this model here: the run shows its remaining time as it trains.</>
      )}
    </p>
  );
}
