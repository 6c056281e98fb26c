/**
 * The recipe of one arm, and the budget rule that sets its length.
 *
 * - "steps" (default): every arm trains the base recipe's optimizer steps, so arms cost the same and a
 *   mixture spends part of them on other tasks.
 * - "target-examples": every arm sees as many examples of the targets as a target's single arm does
 *   (steps × batch_size × grad_accum), so adding tasks adds steps instead of taking target examples
 *   away. The count is the mixture's expected count (app/mix preview), not a draw-by-draw one. It is
 *   met only when each target's training split holds that many examples, so no arm repeats target
 *   examples; otherwise the experiment is refused before training.
 *
 * An arm uses one shared adapter (lora.layout "shared"): with an adapter per task no task could change
 * another's metric, which is what an experiment measures. Single-task arms of one seed may train in one
 * run with an adapter each (singleArmsRecipe), since each of them has only its own task.
 */
import { previewMix } from '../mix/index.ts';
import { mixPlan, optimizerSteps } from '../train/mixture.ts';
import type { Recipe } from '../train/recipe.ts';
import type { PreparedTask } from '../train/task-data.ts';
import { ExperimentError, taskRoles, type BudgetRule } from './design.ts';

/** The base recipe restricted to an arm's tasks (plus every regularizer), with the given seed and steps. */
export function armRecipe(recipe: Recipe, tasks: readonly string[], seed: number, steps: number): Recipe {
  const { regularizers } = taskRoles(recipe);
  const kept = recipe.tasks.filter((task) => tasks.includes(task.name) || regularizers.includes(task.name));
  const names = kept.map((task) => task.name);
  const { weights, ...mixture } = recipe.mixture;
  const keptWeights = weights && Object.fromEntries(Object.entries(weights).filter(([name]) => names.includes(name)));
  const { epochs: _epochs, ...rest } = recipe;
  return {
    ...rest,
    tasks: kept,
    mixture: { ...mixture, ...(keptWeights ? { weights: keptWeights } : {}) },
    lora: { ...recipe.lora, layout: 'shared' },
    seed,
    steps,
    eval_every: Math.max(recipe.eval_every, steps),
  };
}

/**
 * Single-task arms of one seed as one run: per-task adapters, batches of one task each, `steps` per
 * task; the trainer's separateTasks trains each adapter as the arm's own run would (its rows, learning
 * rate, dropout and initialisation), so the run stands for those arms' separate runs.
 */
export function singleArmsRecipe(recipe: Recipe, tasks: readonly string[], seed: number, steps: number): Recipe {
  const arms = armRecipe(recipe, tasks, seed, steps);
  return { ...arms, lora: { ...arms.lora, layout: 'per_task' }, mixture: { ...arms.mixture, per: 'batch' } };
}

/** Optimizer steps of the base recipe over all its tasks: the steps rule's budget for every arm. */
export function baseSteps(recipe: Recipe, prepared: readonly PreparedTask[]): number {
  return optimizerSteps(recipe, prepared);
}

function targetExamplesPerStep(recipe: Recipe): number {
  return recipe.batch_size * recipe.grad_accum;
}

/** Refuses a budget rule that cannot be met, naming the task and the numbers; runs before any training. */
export function checkBudget(recipe: Recipe, prepared: readonly PreparedTask[], targets: readonly string[], rule: BudgetRule): void {
  if (rule !== 'target-examples') return;
  const needed = baseSteps(recipe, prepared) * targetExamplesPerStep(recipe);
  for (const target of targets) {
    const task = prepared.find((t) => t.name === target)!;
    if (task.train.length < needed) {
      throw new ExperimentError(
        'EXPERIMENT_BUDGET_UNMET',
        `budget "target-examples": task "${target}" has ${task.train.length} training examples, but each arm must see ${needed} of them (${baseSteps(recipe, prepared)} steps × batch_size ${recipe.batch_size} × grad_accum ${recipe.grad_accum}); lower the steps or use the "steps" budget`,
        { task: target, have: task.train.length, needed },
      );
    }
  }
}

/**
 * The steps of an arm under the rule. For "target-examples" an arm with targets trains until the
 * mixture's expected examples of its least-sampled target reach the single arm's count; an arm without
 * targets keeps the base steps.
 */
export function armSteps(recipe: Recipe, prepared: readonly PreparedTask[], armTasks: readonly string[], targets: readonly string[], rule: BudgetRule): number {
  const steps = baseSteps(recipe, prepared);
  const armTargets = targets.filter((target) => armTasks.includes(target));
  if (rule === 'steps' || armTargets.length === 0) return steps;
  const arm = armRecipe(recipe, armTasks, recipe.seed, steps);
  const armPrepared = arm.tasks.map((task) => prepared.find((t) => t.name === task.name)!);
  const preview = previewMix(mixPlan(arm, armPrepared.map((task) => ({ name: task.name, examples: task.train.length, role: task.role })), steps));
  const needed = steps * targetExamplesPerStep(recipe);
  const fewest = Math.min(...armTargets.map((target) => preview.expectedExamples[preview.taskNames.indexOf(target)]!));
  if (!(fewest > 0)) throw new ExperimentError('EXPERIMENT_BUDGET_UNMET', `budget "target-examples": the mixture of arm ${armTasks.join('+')} never draws its targets`, { arm: armTasks.join('+') });
  return Math.ceil((steps * needed) / fewest - 1e-9);
}
