import { useEffect, useMemo, useState } from 'react';
import { toErrorReport, type ErrorReport } from '../../errors.ts';
import { useStudio } from '../../state/store.ts';
import { mixturePreview, taskSizes, type MixturePreviewResult } from '../../studio/mixture-preview.ts';
import { ContextNotice } from '../components/ContextNotice.tsx';
import { ErrorNotice } from '../components/ErrorNotice.tsx';
import { CountTasks } from '../mixture/CountTasks.tsx';
import { ExpectationTable } from '../mixture/ExpectationTable.tsx';
import { AnnealingNote } from '../mixture/AnnealingNote.tsx';
import { ProbabilityChart } from '../mixture/ProbabilityChart.tsx';
import { RegularizerShare } from '../mixture/RegularizerShare.tsx';
import { RunLength } from '../mixture/RunLength.tsx';
import { STRATEGIES } from '../mixture/strategies.ts';
import { StrategyControl } from '../mixture/StrategyControl.tsx';
import { ProblemList } from '../recipes/ProblemList.tsx';
import { MixtureAudit } from '../audit/MixtureAudit.tsx';
import { hrefFor } from '../routes.ts';

/**
 * Item 3 of the studio: how the tasks are mixed. The strategy and its parameters edit the recipe's
 * mixture section; the preview below is app/mix's previewMix of exactly the plan training will use,
 * drawn as each task's probability over the run with the expected examples and tokens per task.
 */
export function MixturePage() {
  const recipe = useStudio((state) => state.recipe);
  const problems = useStudio((state) => state.recipeProblems);
  const taskStats = useStudio((state) => state.taskStats);
  const importedFiles = useStudio((state) => state.importedFiles);

  const [statsError, setStatsError] = useState<ErrorReport>();

  useEffect(() => {
    const studio = useStudio.getState();
    void studio.refreshImportedFiles();
    // Stats made before the task or the model changed are stale: loadTaskStats drops and recounts them (and is free when they are current).
    for (const name of Object.keys(studio.taskStats)) studio.loadTaskStats(name).catch((error: unknown) => setStatsError(toErrorReport(error)));
  }, []);

  const taskNames = useMemo(() => recipe.tasks.map((task) => task.name), [recipe.tasks]);
  const regularizers = useMemo(() => recipe.tasks.filter((task) => task.role === 'regularizer').map((task) => task.name), [recipe.tasks]);
  const mixtureProblems = useMemo(() => problems.filter((problem) => PREVIEWED_PATHS.some((path) => isAtOrInside(problem.path, path))), [problems]);
  const fileRows = useMemo(() => Object.fromEntries(importedFiles.files.map((file) => [file.name, file.rows])), [importedFiles.files]);
  const sizes = useMemo(() => taskSizes(recipe, taskStats, fileRows), [recipe, taskStats, fileRows]);
  const preview = useMemo((): { result?: MixturePreviewResult; error?: ErrorReport } => {
    try {
      return { result: mixturePreview(recipe, sizes) };
    } catch (error) {
      return { error: toErrorReport(error) };
    }
  }, [recipe, sizes]);
  const strategyLabel = STRATEGIES.find((strategy) => strategy.name === recipe.mixture.strategy)?.label ?? recipe.mixture.strategy;

  return (
    <div className="mixture-page">
      <section className="panel" aria-labelledby="mixture-title">
        <h2 id="mixture-title">Mixture</h2>
        <p className="muted">How often each task is drawn while training. Tasks of very different sizes need a strategy between “as often as its size” and “all equally”.</p>
        <ProblemList title="The mixture, or the run length it depends on, has problems to fix before training can start:" problems={mixtureProblems} />
        {importedFiles.error && <ErrorNotice error={importedFiles.error} title="The sizes of the imported task files could not be read" />}
        {statsError && <ErrorNotice error={statsError} title="The tasks’ token counts could not be brought up to date" />}
        <StrategyControl taskNames={taskNames} />
        <RegularizerShare regularizers={regularizers} />
      </section>

      <section className="panel" aria-labelledby="mixture-preview-title">
        <h2 id="mixture-preview-title">Preview</h2>
        <ContextNotice />
        <RunLength optimizerSteps={preview.result?.status === 'ready' ? preview.result.optimizerSteps : null} />
        {preview.error && <ErrorNotice error={preview.error} title="The preview cannot be drawn" />}
        {preview.result && <PreviewBody result={preview.result} strategyLabel={strategyLabel} loadingSizes={importedFiles.status === 'loading' || importedFiles.status === 'idle'} />}
      </section>

      <section className="panel" aria-labelledby="mixture-audit-title">
        <h2 id="mixture-audit-title">Data audit</h2>
        <MixtureAudit />
      </section>
    </div>
  );
}

/** Recipe fields whose problems this page shows: the mixture it edits, and the run length the preview follows from. */
const PREVIEWED_PATHS = ['mixture', 'steps', 'epochs', 'batch_size', 'grad_accum'];

function isAtOrInside(path: string, root: string): boolean {
  return path === root || path.startsWith(`${root}.`) || path.startsWith(`${root}[`);
}

function PreviewBody({ result, strategyLabel, loadingSizes }: { result: MixturePreviewResult; strategyLabel: string; loadingSizes: boolean }) {
  const strategy = useStudio((state) => state.recipe.mixture.strategy);
  if (result.status === 'no-tasks') {
    return (
      <p>
        The recipe has no tasks yet. Add tasks on the <a href={hrefFor('tasks')}>Tasks page</a>, or load the Finance cocktail on the <a href={hrefFor('recipes')}>Recipes page</a>.
      </p>
    );
  }
  if (result.status === 'needs-sizes') {
    return loadingSizes ? (
      <p className="muted" role="status">
        Reading the sizes of the imported task files…
      </p>
    ) : (
      <SizesMissing names={result.missing} />
    );
  }
  const estimated = result.tasks.filter((task) => task.basis === 'rows').map((task) => task.name);
  const annealing = strategy === 'annealed' || strategy === 'reverse_annealed' ? strategy : undefined;
  const pendingTokens = result.tasks.filter((task) => task.expectedTokens === null);
  return (
    <>
      {annealing && <AnnealingNote strategy={annealing} epochs={result.epochs} optimizerSteps={result.optimizerSteps} />}
      <ProbabilityChart series={result.series} tasks={result.tasks} optimizerSteps={result.optimizerSteps} strategyLabel={strategyLabel} {...(annealing ? { changeSteps: result.epochs.changeSteps } : {})} />
      <h3>Expected examples and tokens per task</h3>
      <ExpectationTable tasks={result.tasks} />
      {estimated.length > 0 && (
        <p className="muted">
          ≈ Estimated from the imported file’s rows less the validation split ({estimated.join(', ')}): rows the format cannot use are still counted.
        </p>
      )}
      {pendingTokens.length > 0 && <TokenCounting taskNames={pendingTokens.map((task) => task.name)} />}
    </>
  );
}

/** Which sizes are missing and how each becomes known: an imported file gives its rows; a Hub data set is downloaded and counted. */
function SizesMissing({ names }: { names: readonly string[] }) {
  const tasks = useStudio((state) => state.recipe.tasks);
  const fromHub = new Set(tasks.filter((task) => 'hub' in task.source).map((task) => task.name));
  const files = names.filter((name) => !fromHub.has(name));
  const hub = names.filter((name) => fromHub.has(name));
  return (
    <div role="status" data-testid="sizes-missing">
      <p>The preview needs every task’s number of training examples, and draws nothing rather than guess.</p>
      <ul>
        {files.length > 0 && (
          <li>
            {quote(files)}: import the task’s file on the <a href={hrefFor('tasks')}>Tasks page</a>.
          </li>
        )}
        {hub.length > 0 && (
          <li>
            <CountTasks taskNames={hub} action="Download and count" failure="The Hub data sets could not be counted">
              {quote(hub)}: from the Hub. Downloading {hub.length === 1 ? 'it' : 'them'} once into this browser counts the examples; training reads the same copy, offline too.
            </CountTasks>
          </li>
        )}
      </ul>
    </div>
  );
}

const quote = (list: readonly string[]) => list.map((name) => `“${name}”`).join(', ');

/** Token figures need each task tokenized as training will: offered, not started on its own, since it may download the model. */
function TokenCounting({ taskNames }: { taskNames: readonly string[] }) {
  return (
    <div className="mix-tokens" data-testid="tokens-pending">
      <CountTasks taskNames={taskNames} action="Count tokens" failure="Tokens could not be counted">
        <p className="muted">
          Token figures are pending for {taskNames.join(', ')}: they need each task tokenized as training will, with the model’s tokenizer (the model is downloaded first if it is
          not in this browser yet).
        </p>
      </CountTasks>
    </div>
  );
}
