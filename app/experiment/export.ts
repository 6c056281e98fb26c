/**
 * The experiment's results as files: JSON in the shape `cocktail experiment --json` prints (arms,
 * baselines, effects, recommended, timing, then the synergy matrix, leave-one-out contributions, the
 * incremental curve and greedy's stages), and CSV with one row per arm and task.
 */
import type { Recipe } from '../train/recipe.ts';
import { armRecipe } from './budget.ts';
import type { ExperimentSpec } from './design.ts';
import type { ExperimentResults } from './results.ts';
import type { ExperimentTiming } from './runner.ts';

export interface ExperimentReport {
  arms: ExperimentResults['arms'];
  baselines: Record<string, string>;
  effects: ExperimentResults['effects'];
  recommended: { tasks: string[]; selection_scores: Record<string, number>; report_scores: Record<string, number>; arm: string; recipe: Recipe } | null;
  timing: ExperimentTiming;
  budget: ExperimentResults['budget'];
  targets: string[];
  split: ExperimentResults['split'];
  synergy: ExperimentResults['synergy'];
  leave_one_out: ExperimentResults['leave_one_out'];
  incremental: ExperimentResults['incremental'];
  greedy: ExperimentResults['greedy'];
}

export function resultsJson(spec: ExperimentSpec, results: ExperimentResults, timing: ExperimentTiming): ExperimentReport {
  const { recommended } = results;
  const steps = recommended ? results.arms.find((arm) => arm.id === recommended.arm)!.steps : 0;
  return {
    arms: results.arms.map(({ id, design, tasks, seeds, steps: armSteps, metrics }) => ({ id, design, tasks, seeds, steps: armSteps, metrics })),
    baselines: results.baselines,
    effects: results.effects,
    recommended: recommended && {
      tasks: recommended.tasks,
      selection_scores: recommended.selection_scores,
      report_scores: recommended.report_scores,
      arm: recommended.arm,
      // "Train this": the recommended cocktail as a recipe of its own, one run with the base seed.
      recipe: armRecipe(spec.recipe, recommended.tasks, spec.recipe.seed, steps),
    },
    timing,
    budget: results.budget,
    targets: results.targets,
    split: results.split,
    synergy: results.synergy,
    leave_one_out: results.leave_one_out,
    incremental: results.incremental,
    greedy: results.greedy,
  };
}

const CSV_COLUMNS = ['arm', 'design', 'tasks', 'seeds', 'steps', 'task', 'metric', 'mean', 'std', 'ci_low', 'ci_high', 'n', 'loss_mean', 'loss_ci_low', 'loss_ci_high', 'effect', 'effect_ci_low', 'effect_ci_high', 'significant'];

function csvField(value: string | number | boolean): string {
  const text = String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One row per arm and task; the effect columns are filled for targets, against their single arm. */
export function resultsCsv(results: Pick<ExperimentResults, 'arms' | 'effects'>): string {
  const rows = [CSV_COLUMNS.join(',')];
  for (const arm of results.arms) {
    for (const [task, m] of Object.entries(arm.metrics)) {
      const effect = results.effects.find((e) => e.arm === arm.id && e.target === task);
      const cells: (string | number | boolean)[] = [arm.id, arm.design, arm.tasks.join(' '), arm.seeds.join(' '), arm.steps, task, m.metric, m.mean, m.std, m.ci[0], m.ci[1], m.n, m.loss.mean, m.loss.ci[0], m.loss.ci[1]];
      cells.push(...(effect ? [effect.delta, effect.ci[0], effect.ci[1], effect.significant] : ['', '', '', '']));
      rows.push(cells.map(csvField).join(','));
    }
  }
  return `${rows.join('\n')}\n`;
}
