/**
 * experiment.run, experiment.pause and experiment.load inside the engine worker: an experiment over a
 * recipe whose model and task files come from the studio's storage, run by app/experiment/runner.ts.
 * Its manifest and finished arms live in the "runs" store, so a reload shows what finished and a
 * resume continues from the arm in progress.
 */
import type { ExperimentSpec } from '../app/experiment/design.ts';
import { resultsJson } from '../app/experiment/export.ts';
import { computeResults } from '../app/experiment/results.ts';
import { loadExperiment, runExperiment } from '../app/experiment/runner.ts';
import type { GpuContext } from '../app/gpu/device.ts';
import type { Json, Storage } from '../app/store/storage.ts';
import { armRecipe } from '../app/experiment/budget.ts';
import { parseRecipe } from '../app/train/recipe.ts';
import { everyInterval, PROGRESS_INTERVAL_MS } from './progress.ts';
import type { ExperimentProgress, ExperimentRequest, ExperimentRunResult, ExperimentSnapshot, HubSettings, RunRecord } from './protocol.ts';
import { studioRunEnvironment } from './studio-env.ts';

function specOf(request: ExperimentRequest): ExperimentSpec {
  const recipe = parseRecipe(request.recipe, `recipe of experiment "${request.id}"`);
  return {
    recipe,
    targets: request.targets,
    designs: request.designs,
    seeds: request.seeds,
    budget: request.budget,
    ...(request.order ? { order: request.order } : {}),
    ...(request.custom ? { custom: request.custom } : {}),
  };
}

const ZERO_TIMING = { total_s: 0, train_s: 0, evaluate_s: 0, prepare_s: 0 };

export async function runExperimentInStudio(
  request: ExperimentRequest & { resume: boolean } & HubSettings,
  ctx: GpuContext,
  storage: Storage,
  signal: AbortSignal,
  progress: (event: ExperimentProgress) => void,
): Promise<ExperimentRunResult> {
  const spec = specOf(request);
  const outcome = await runExperiment(
    spec,
    request.id,
    studioRunEnvironment(ctx, storage, signal, request),
    {
      run: {
        onStage: (stage) => progress({ kind: 'stage', stage }),
        onPrepare: everyInterval(PROGRESS_INTERVAL_MS, (prepare) => progress({ kind: 'prepare', progress: prepare })),
      },
      onPlan: (plan) => progress({ kind: 'plan', arms: plan.arms.map(({ id, tasks, designs, steps }) => ({ id, tasks, designs, steps })), seeds: plan.seeds, runs: plan.runs, steps: plan.steps, tokens: plan.tokens }),
      onArmStart: (arm, seed, run, runs) => progress({ kind: 'arm', arm, seed, run, runs }),
      onStep: (step) => progress({ kind: 'step', step }),
      onArmDone: async (record, _history, _adapter, evaluations) => {
        // Each arm and seed is also an ordinary run in the runs store, so the Evaluate page and the Library show it.
        const now = Date.now();
        const runRecord: RunRecord = {
          runId: record.runId,
          name: `Experiment ${request.id}: ${record.tasks.join(' + ')} (seed ${record.seed})`,
          recipe: armRecipe(spec.recipe, record.tasks, record.seed, record.steps),
          status: 'completed',
          step: record.steps,
          totalSteps: record.steps,
          startedAt: now,
          updatedAt: now,
          evaluations: [{ step: record.steps, tasks: evaluations }],
          adapterKeys: [`${record.runId}/shared`],
        };
        await storage.put('runs', record.runId, runRecord as unknown as Json);
        progress({ kind: 'arm-done', arm: record.arm, seed: record.seed });
      },
      onWarning: (message) => progress({ kind: 'warning', message }),
    },
    { signal, resume: request.resume },
  );
  return { status: outcome.status, report: resultsJson(spec, outcome.results, outcome.timing) };
}

/** A stored experiment as it stands (running, paused or finished): its request and the report of its finished arms. */
export async function loadExperimentInStudio(id: string, storage: Storage): Promise<ExperimentSnapshot | null> {
  const stored = await loadExperiment(storage, id);
  if (!stored) return null;
  const { manifest, records } = stored;
  const request: ExperimentRequest = {
    id,
    recipe: manifest.recipe,
    targets: manifest.targets,
    designs: manifest.designs as ExperimentRequest['designs'],
    seeds: manifest.seeds,
    budget: manifest.budget as ExperimentRequest['budget'],
    ...(manifest.order ? { order: manifest.order } : {}),
    ...(manifest.custom ? { custom: manifest.custom } : {}),
  };
  const spec = specOf(request);
  return { request, status: manifest.status, finishedRuns: records.length, report: resultsJson(spec, computeResults(spec, records), ZERO_TIMING) };
}
