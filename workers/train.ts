/**
 * train.run and eval.run inside the engine worker: a recipe whose model and task files come from the
 * studio's storage (studio-env.ts). Models are Hub ids (downloaded once into the "models" store, then
 * offline) or imported folders (`local/<name>`); task files are what the user imported, kept in the
 * "datasets" store under `file/<name>`. Every run keeps a record in the "runs" store (run-records.ts).
 */
import { CocktailError, toErrorReport } from '../app/errors.ts';
import type { GpuContext } from '../app/gpu/device.ts';
import type { Storage } from '../app/store/storage.ts';
import { checkAdapterBaseModel } from '../app/train/peft-layout.ts';
import { parseRecipe } from '../app/train/recipe.ts';
import { evaluateRecipe, runRecipe, type EvalEvent, type RunEvents } from '../app/train/run.ts';
import { everyInterval, PROGRESS_INTERVAL_MS } from './progress.ts';
import type { HubSettings, TrainProgress, TrainRunResult } from './protocol.ts';
import { RunRecorder } from './run-records.ts';
import { openStoredAdapter, studioRunEnvironment } from './studio-env.ts';

/** Kept for the pages that import it from here; defined in protocol.ts. */

/** The progress events every recipe command sends, stages and preparation throttled as the UI needs. */
function progressEvents(progress: (event: TrainProgress) => void): RunEvents {
  return {
    onStage: (stage) => progress({ kind: 'stage', stage }),
    onPrepare: everyInterval(PROGRESS_INTERVAL_MS, (prepare) => progress({ kind: 'prepare', progress: prepare })),
    onEval: (evaluation) => progress({ kind: 'eval', eval: evaluation }),
    onMixture: (mixture) => progress({ kind: 'mixture', mixture }),
    onBest: (best) => progress({ kind: 'best', best }),
    onEarlyStop: (stop) => progress({ kind: 'early_stop', ...stop }),
    onEvalProgress: (evaluating) => progress({ kind: 'eval-progress', progress: evaluating }),
    onNotice: (message) => progress({ kind: 'notice', message }),
  };
}

export async function trainInStudio(
  request: { recipe: unknown; runId: string; resume: boolean; memoryBudgetBytes?: number } & HubSettings,
  ctx: GpuContext,
  storage: Storage,
  signal: AbortSignal,
  progress: (event: TrainProgress) => void,
): Promise<TrainRunResult> {
  const recipe = parseRecipe(request.recipe, `recipe of run "${request.runId}"`);
  const recorder = await RunRecorder.start(storage, request, { name: recipe.name ?? request.runId, totalSteps: recipe.steps ?? 0 });
  // Record writes follow the run's events in order; the run waits for them before it answers.
  let writes = Promise.resolve();
  const record = (write: () => Promise<void>) => {
    writes = writes.then(write);
  };
  const events = progressEvents(progress);
  try {
    const result = await runRecipe(
      recipe,
      request.runId,
      studioRunEnvironment(ctx, storage, signal, request),
      {
        ...events,
        onStep: (step) => {
          recorder.step(step.step, step.totalSteps);
          progress({ kind: 'step', step });
        },
        onEval: (evaluation) => {
          record(() => recorder.evaluation(evaluation));
          events.onEval!(evaluation);
        },
        onCheckpoint: (step) => {
          record(() => recorder.checkpoint(step));
          progress({ kind: 'checkpoint', step });
        },
      },
      { signal, resume: request.resume },
    );
    const adapterKeys = [...result.adapters.keys()].map((name) => `${request.runId}/${name}`);
    const answer = { status: result.status, step: result.step, totalSteps: result.totalSteps, adapterKeys, ...(result.best ? { best: result.best } : {}), ...(result.stoppedEarly ? { stoppedEarly: result.stoppedEarly } : {}) };
    record(() => recorder.end(answer));
    await writes;
    return answer;
  } catch (thrown) {
    const error = asCancellation(thrown, signal, request.runId);
    // The run's own error is what the user needs; a record that cannot be written must not hide it.
    await writes.catch(() => undefined);
    await recorder.fail(error).catch(() => undefined);
    throw error;
  }
}

/**
 * A run stopped by Cancel is cancelled, whichever stage noticed: preparation and downloads report
 * their own cancellation (DATA_CANCELLED, ...), which would otherwise record the run as failed.
 */
function asCancellation(error: unknown, signal: AbortSignal, runId: string): unknown {
  if (!signal.aborted || toErrorReport(error).code === 'CANCELLED') return error;
  return new CocktailError('CANCELLED', `run "${runId}" was cancelled before training started`, { runId });
}

export async function evaluateInStudio(
  request: { recipe: unknown; adapterKey?: string } & HubSettings,
  ctx: GpuContext,
  storage: Storage,
  signal: AbortSignal,
  progress: (event: TrainProgress) => void,
): Promise<EvalEvent> {
  const recipe = parseRecipe(request.recipe, request.adapterKey ? `recipe evaluated with adapter "${request.adapterKey}"` : 'recipe evaluated');
  const adapter = request.adapterKey ? await openStoredAdapter(storage, request.adapterKey) : undefined;
  if (adapter) checkAdapterBaseModel(adapter.config, recipe.model.source, `adapter "${request.adapterKey}"`);
  return evaluateRecipe(recipe, studioRunEnvironment(ctx, storage, signal, request), adapter, progressEvents(progress), signal);
}
