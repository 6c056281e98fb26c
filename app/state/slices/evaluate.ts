import type { StateCreator } from 'zustand';
import { CocktailError, toErrorReport, type ErrorReport } from '../../errors.ts';
import { mergeEvaluations, runEvaluationJobs, type EvaluationJob } from '../../studio/evaluation-plan.ts';
import { loadSavedEvaluations, saveEvaluations, type SavedEvaluation } from '../../studio/saved-evaluations.ts';
import type { PrepareProgress } from '../../train/prepare.ts';
import { parseRecipe } from '../../train/recipe.ts';
import type { EvalEvent, EvalProgress } from '../../train/run.ts';
import type { CommandType, TrainProgress } from '../../../workers/protocol.ts';
import type { AppState } from '../store.ts';
import { hubSettingsOf } from './model.ts';

/**
 * The Evaluate page's own evaluations: the base model, a library adapter, or a run's adapters
 * evaluated again, each through the worker's eval.run (one at a time: there is one GPU). Their results
 * are kept in localStorage (app/studio/saved-evaluations.ts) as columns the page compares with the
 * runs' own evaluations; runs themselves come from the Library's listing of the "runs" store.
 */
export type EvaluationResult = SavedEvaluation;

export interface EvaluationState {
  status: 'idle' | 'running' | 'done' | 'failed' | 'cancelled';
  /** The evaluation in progress or last asked for. */
  label?: string;
  stage?: 'model' | 'data' | 'train' | 'evaluate' | 'export';
  prepare?: PrepareProgress;
  /** The task being evaluated, examples done of total. */
  evaluating?: EvalProgress;
  /** Per-task runs are evaluated one task at a time: which of how many. */
  job: number;
  jobs: number;
  results: EvaluationResult[];
  /** The GPU job this evaluation waits behind (training, say) before it loads its model. */
  waitingBehind?: CommandType;
  /** The browser would not keep the results (storage full or disabled): they last for this visit. */
  notSaved?: boolean;
  error?: ErrorReport;
}

export interface EvaluateSlice {
  evaluation: EvaluationState;
  /** Evaluates the studio's current recipe with the base model (no adapter) or a library adapter. */
  evaluateModel(adapterKey?: string): Promise<void>;
  /** Evaluates a run's adapters again, on the run's own recipe. */
  evaluateRun(runId: string): Promise<void>;
  cancelEvaluation(): void;
  /** Removes one of the page's evaluations from the list and from storage. */
  forgetEvaluation(id: string): void;
}

export const createEvaluateSlice: StateCreator<AppState, [], [], EvaluateSlice> = (set, get) => {
  let abort: AbortController | undefined;
  let sequence = 0;
  const update = (change: Partial<EvaluationState>) => set((state) => ({ evaluation: { ...state.evaluation, ...change } }));

  const onProgress = (progress: TrainProgress) => {
    if (progress.kind === 'stage') update({ stage: progress.stage, ...(progress.stage === 'data' ? {} : { prepare: undefined, evaluating: undefined }) });
    else if (progress.kind === 'prepare') update({ prepare: progress.progress });
    else if (progress.kind === 'eval-progress') update({ evaluating: progress.progress });
  };

  const run = async (label: string, model: string, jobsOf: () => EvaluationJob[], adapterKey?: string) => {
    if (get().evaluation.status === 'running') return;
    const controller = new AbortController();
    abort = controller;
    update({ status: 'running', label, job: 0, jobs: 0, stage: undefined, prepare: undefined, evaluating: undefined, error: undefined, waitingBehind: undefined });
    try {
      const jobs = jobsOf();
      const hub = hubSettingsOf(get());
      const events: EvalEvent[] = [];
      for (const [index, job] of jobs.entries()) {
        update({ job: index + 1, jobs: jobs.length });
        events.push(
          await get()
            .engine()
            .request('eval.run', { recipe: job.recipe, ...(job.adapterKey ? { adapterKey: job.adapterKey } : {}), ...hub }, { signal: controller.signal, onProgress, onQueued: (behind) => update({ waitingBehind: behind ?? undefined }) }),
        );
        // The engine checks for cancellation only between its stages: a result that comes after Cancel is not kept.
        if (controller.signal.aborted) {
          update({ status: 'cancelled', stage: undefined, prepare: undefined, evaluating: undefined });
          return;
        }
      }
      const finishedAt = Date.now();
      // Unique across visits: saved results from earlier visits keep their ids.
      const id = `evaluation-${finishedAt.toString(36)}-${++sequence}`;
      const result: EvaluationResult = { id, label, model, ...(adapterKey ? { adapterKey } : {}), evaluation: mergeEvaluations(events), finishedAt };
      const results = [...get().evaluation.results, result];
      update({ status: 'done', stage: undefined, prepare: undefined, evaluating: undefined, results, notSaved: !saveEvaluations(results) });
    } catch (error) {
      const report = toErrorReport(error);
      update({ status: report.code === 'CANCELLED' || controller.signal.aborted ? 'cancelled' : 'failed', error: report, stage: undefined, prepare: undefined, evaluating: undefined });
    } finally {
      if (abort === controller) abort = undefined;
    }
  };

  return {
    evaluation: { status: 'idle', job: 0, jobs: 0, results: loadSavedEvaluations() },

    evaluateModel(adapterKey) {
      const { recipe } = get();
      const model = recipe.model.source;
      const label = adapterKey ? `Adapter ${adapterKey}` : 'Base model';
      return run(label, model, () => [{ recipe: parseRecipe(recipe, 'the studio’s recipe'), ...(adapterKey ? { adapterKey } : {}) }], adapterKey);
    },

    evaluateRun(runId) {
      const record = get().library.runs.find((r) => r.runId === runId);
      const name = record?.name || runId;
      return run(`${name} (evaluated again)`, String((record?.recipe as { model?: { source?: string } } | undefined)?.model?.source ?? ''), () => {
        if (!record) throw new CocktailError('RUN_NOT_FOUND', `run "${runId}" is no longer in the library`, { runId });
        const recipe = parseRecipe(record.recipe, `the recipe of run "${name}"`);
        return runEvaluationJobs({ runId, recipe, adapterKeys: record.adapterKeys });
      });
    },

    cancelEvaluation() {
      abort?.abort();
    },

    forgetEvaluation(id) {
      const results = get().evaluation.results.filter((result) => result.id !== id);
      update({ results, notSaved: !saveEvaluations(results) });
    },
  };
};
