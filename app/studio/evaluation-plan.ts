/**
 * What "evaluate" means for each thing the Evaluate page can evaluate, as eval.run requests. A run
 * with one shared adapter is one request. A run with an adapter per task is one request per task,
 * each with a recipe of that task alone (its validation split depends only on the task and the seed,
 * so the numbers are the ones training reported); the results are put back together in task order.
 */
import { CocktailError } from '../errors.ts';
import type { EvalEvent } from '../train/run.ts';
import type { Recipe } from '../train/recipe.ts';

export interface EvaluationJob {
  recipe: Recipe;
  adapterKey?: string;
}

/** A run as the "runs" store keeps it, reduced to what evaluating it needs. */
export interface EvaluableRun {
  runId: string;
  recipe: Recipe;
  adapterKeys: readonly string[];
}

/** The recipe of one task of a per-task run: that task alone, trained as a task, mixed by size. */
export function singleTaskRecipe(recipe: Recipe, taskName: string): Recipe {
  const task = recipe.tasks.find((t) => t.name === taskName);
  if (!task) throw new CocktailError('TASK_NOT_FOUND', `the recipe has no task "${taskName}"`, { task: taskName });
  const { weights: _weights, regularizer_share: _share, ...mixture } = recipe.mixture;
  return { ...recipe, tasks: [{ ...task, role: 'task' }], mixture: { ...mixture, strategy: 'proportional' } };
}

/** The eval.run requests that evaluate a run's adapters as the run evaluated them. */
export function runEvaluationJobs(run: EvaluableRun): EvaluationJob[] {
  const missing = (what: string) =>
    new CocktailError('ADAPTER_NOT_FOUND', `run "${run.runId}" has no ${what}: only finished runs export their adapters`, { runId: run.runId });
  if (run.recipe.lora.layout !== 'per_task') {
    const adapterKey = run.adapterKeys[0];
    if (!adapterKey) throw missing('adapter');
    return [{ recipe: run.recipe, adapterKey }];
  }
  return run.recipe.tasks.map((task) => {
    const adapterKey = run.adapterKeys.find((key) => key === `${run.runId}/${task.name}`);
    if (!adapterKey) throw missing(`adapter for task "${task.name}"`);
    return { recipe: singleTaskRecipe(run.recipe, task.name), adapterKey };
  });
}

/** One evaluation from the results of several jobs, tasks in the order the jobs ran. */
export function mergeEvaluations(events: readonly EvalEvent[]): EvalEvent {
  return { step: Math.max(0, ...events.map((event) => event.step)), tasks: events.flatMap((event) => event.tasks) };
}
