import { ContextNotice } from '../components/ContextNotice.tsx';
import { useEffect } from 'react';
import { ACTIVE_STATUSES, type TrainStage, type TrainStatus } from '../../state/slices/train.ts';
import { useStudio } from '../../state/store.ts';
import { ErrorNotice } from '../components/ErrorNotice.tsx';
import { hrefFor, navigate } from '../routes.ts';
import { RecipeFit } from '../train/RecipeFit.tsx';
import { RecipeProblems } from '../train/RecipeProblems.tsx';
import { RunControls } from '../train/RunControls.tsx';
import { RunEstimate } from '../train/RunEstimate.tsx';
import { RunProgress } from '../train/RunProgress.tsx';
import { RunResults } from '../train/RunResults.tsx';
import { MixtureWeights } from '../train/MixtureWeights.tsx';
import { TrainCharts } from '../train/TrainCharts.tsx';
import { TrainSettings } from '../train/TrainSettings.tsx';

/** What will be trained, in one line, with links to the pages that choose it. */
function RecipeSummary() {
  const name = useStudio((state) => state.recipe.name);
  const model = useStudio((state) => state.recipe.model.source);
  const tasks = useStudio((state) => state.recipe.tasks);
  const steps = useStudio((state) => state.recipe.steps);
  const epochs = useStudio((state) => state.recipe.epochs);
  const strategy = useStudio((state) => state.recipe.mixture.strategy);
  const length = steps !== undefined ? `${steps} steps` : `${epochs ?? '?'} epochs`;
  return (
    <p className="recipe-summary">
      {name ? `“${name}”: ` : ''}
      <a href={hrefFor('model')}>{model}</a> on{' '}
      <a href={hrefFor('tasks')}>
        {tasks.length} task{tasks.length === 1 ? '' : 's'}
      </a>
      {tasks.length > 0 && ` (${tasks.map((t) => t.name).join(', ')})`} mixed by <a href={hrefFor('mixture')}>{strategy.replace('_', ' ')}</a>, {length}.
    </p>
  );
}

/** Where to fix a run that failed while loading its model or preparing its tasks. */
function fixFor(status: TrainStatus, stage: TrainStage | undefined): { action?: { label: string; run(): void } } {
  if (status !== 'failed') return {};
  if (stage === 'model') return { action: { label: 'Open the Model page', run: () => navigate('model') } };
  if (stage === 'data') return { action: { label: 'Open the Tasks page', run: () => navigate('tasks') } };
  return {};
}

/** Only a run still going can have failed to pause; an error of a run that ended is how it ended. */
function errorTitle(status: TrainStatus): string {
  if (status === 'idle') return 'The last run could not be read';
  if (status === 'failed') return 'Training stopped';
  if (status === 'watching') return 'Another tab of this studio owns this run';
  if (ACTIVE_STATUSES.includes(status)) return 'Pausing failed';
  return 'The run reported a problem';
}

/**
 * Train: the recipe's LoRA and optimizer settings, start / pause / resume / cancel, live progress and
 * charts, and the results. A run that was paused or cut off by a reload is offered for resuming.
 */
export function TrainPage() {
  const status = useStudio((state) => state.train.status);
  const error = useStudio((state) => state.train.error);
  const stage = useStudio((state) => state.train.stage);
  const hasSteps = useStudio((state) => state.train.history.length > 0);
  const problems = useStudio((state) => state.recipeProblems);
  const active = ACTIVE_STATUSES.includes(status);

  useEffect(() => {
    void useStudio.getState().restoreLastRun();
  }, []);

  return (
    <>
      <section className="panel" aria-labelledby="train-title">
        <h2 id="train-title">Train</h2>
        <RecipeSummary />
        {!active && <ContextNotice />}
        {!active && <RecipeProblems problems={problems} />}
        {!active && problems.length === 0 && <RunEstimate />}
        {!active && problems.length === 0 && <RecipeFit />}
        <RunControls />
        <RunProgress />
        {error && <ErrorNotice error={error} title={errorTitle(status)} {...fixFor(status, stage)} />}
      </section>
      {(active || hasSteps) && <TrainCharts />}
      <MixtureWeights />
      <RunResults />
      <TrainSettings disabled={active} />
    </>
  );
}
