/**
 * What an experiment is and which arms it trains. An experiment = a base recipe + target tasks (whose
 * metrics decide) + designs; an arm is one set of tasks trained together with the recipe's settings.
 * Designs that name the same task set share one arm (the target's single arm is also the first stage
 * of "incremental" and the "target + other" pair of a two-task "leave-one-out"). Regularizer tasks
 * (role "regularizer") are held fixed: they are in every arm and never a candidate.
 *
 * Every check here runs before anything is loaded, so a typo is refused in a moment, with its reason.
 */
import { CocktailError } from '../errors.ts';
import type { Recipe } from '../train/recipe.ts';

export const DESIGNS = ['single', 'all', 'leave-one-out', 'pairs', 'incremental', 'greedy', 'custom'] as const;
export type DesignName = (typeof DESIGNS)[number];

/** The same optimizer steps in every arm, or the same (expected) number of target-task examples seen. */
export type BudgetRule = 'steps' | 'target-examples';

export const DEFAULT_SEEDS = 3;

export interface ExperimentSpec {
  recipe: Recipe;
  targets: string[];
  designs: DesignName[];
  /** Replicates: each arm is trained once per seed. Seeds are recipe.seed, recipe.seed + 1, … */
  seeds: number;
  budget: BudgetRule;
  /** For "incremental": the order in which the other tasks are added; default the recipe's order. */
  order?: string[];
  /** For "custom": task sets to train (regularizers are added to each). */
  custom?: string[][];
}

export interface Arm {
  /** Stable name of the task set, e.g. "fpb+tweets" (candidate tasks in recipe order). */
  id: string;
  /** Candidate tasks of the arm, in recipe order (regularizers not listed; they are in every arm). */
  tasks: string[];
  /** The designs that asked for this arm. */
  designs: DesignName[];
}

export class ExperimentError extends CocktailError {}

/** The candidate tasks (role "task") and the fixed regularizers of a recipe. */
export function taskRoles(recipe: Recipe): { candidates: string[]; regularizers: string[] } {
  return {
    candidates: recipe.tasks.filter((task) => task.role !== 'regularizer').map((task) => task.name),
    regularizers: recipe.tasks.filter((task) => task.role === 'regularizer').map((task) => task.name),
  };
}

export function armId(tasks: readonly string[]): string {
  return tasks.join('+');
}

/** The training run (checkpoint, adapter, run record) of one arm of an experiment under one seed. */
export function armRunId(experiment: string, arm: string, seed: number): string {
  return `experiment-${experiment}-${arm}-seed-${seed}`;
}

/** Refuses a spec that cannot run (unknown task, target or design, zero seeds), naming what is wrong. */
export function validateExperiment(spec: ExperimentSpec): void {
  const { candidates, regularizers } = taskRoles(spec.recipe);
  const known = (list: string[]) => list.map((name) => `"${name}"`).join(', ');
  const requireCandidate = (name: string, field: string) => {
    if (regularizers.includes(name)) throw new ExperimentError('EXPERIMENT_REGULARIZER', `${field}: "${name}" is a regularizer, held fixed in every arm; it cannot be a candidate or a target`, { field, task: name });
    if (!candidates.includes(name)) throw new ExperimentError('EXPERIMENT_UNKNOWN_TASK', `${field}: "${name}" is not a task of the recipe; its tasks are ${known(candidates)}`, { field, task: name });
  };
  if (!Number.isInteger(spec.seeds) || spec.seeds < 1) throw new ExperimentError('EXPERIMENT_SEEDS', `seeds must be a whole number of at least 1 (each arm is trained once per seed); got ${spec.seeds}`, { field: 'seeds' });
  if (spec.budget !== 'steps' && spec.budget !== 'target-examples') throw new ExperimentError('EXPERIMENT_BUDGET', `budget must be "steps" or "target-examples"; got "${String(spec.budget)}"`, { field: 'budget' });
  if (spec.designs.length === 0) throw new ExperimentError('EXPERIMENT_NO_DESIGN', `choose at least one design: ${DESIGNS.join(', ')}`, { field: 'design' });
  for (const design of spec.designs) {
    if (!(DESIGNS as readonly string[]).includes(design)) throw new ExperimentError('EXPERIMENT_UNKNOWN_DESIGN', `design "${design}" is not one of ${DESIGNS.join(', ')}`, { field: 'design', design });
  }
  if (spec.targets.length === 0) throw new ExperimentError('EXPERIMENT_NO_TARGET', `choose at least one target task; the recipe's tasks are ${known(candidates)}`, { field: 'targets' });
  for (const target of spec.targets) requireCandidate(target, 'targets');
  if (new Set(spec.targets).size !== spec.targets.length) throw new ExperimentError('EXPERIMENT_DUPLICATE', 'targets name a task twice', { field: 'targets' });
  for (const name of spec.order ?? []) requireCandidate(name, 'order');
  if (spec.designs.includes('custom')) {
    if (!spec.custom || spec.custom.length === 0) throw new ExperimentError('EXPERIMENT_NO_CUSTOM', 'the custom design needs at least one task set', { field: 'custom' });
    spec.custom.forEach((set, i) => {
      if (set.length === 0) throw new ExperimentError('EXPERIMENT_EMPTY_ARM', `custom[${i}] is empty; an arm needs at least one task`, { field: `custom[${i}]` });
      for (const name of set) requireCandidate(name, `custom[${i}]`);
    });
  }
}

/** The seeds of the replicates. */
export function experimentSeeds(spec: ExperimentSpec): number[] {
  return Array.from({ length: spec.seeds }, (_, i) => spec.recipe.seed + i);
}

/** The incremental order: the given one, else the recipe's order; targets are the start, not added. */
export function incrementalOrder(spec: ExperimentSpec): string[] {
  const { candidates } = taskRoles(spec.recipe);
  const order = spec.order ?? candidates;
  return [...order, ...candidates.filter((name) => !order.includes(name))].filter((name) => !spec.targets.includes(name));
}

/**
 * The arms every design but greedy fixes in advance (greedy's later stages depend on results). The
 * targets' single arms are always included: they are the baselines effects are measured against.
 */
export function planArms(spec: ExperimentSpec): Arm[] {
  const { candidates } = taskRoles(spec.recipe);
  const arms = new Map<string, Arm>();
  const add = (tasks: readonly string[], design: DesignName) => {
    const ordered = candidates.filter((name) => tasks.includes(name));
    const id = armId(ordered);
    const arm = arms.get(id) ?? { id, tasks: ordered, designs: [] };
    if (!arm.designs.includes(design)) arm.designs.push(design);
    arms.set(id, arm);
  };
  for (const target of spec.targets) add([target], 'single');
  for (const design of spec.designs) {
    switch (design) {
      case 'single':
        for (const name of candidates) add([name], design);
        break;
      case 'all':
        add(candidates, design);
        break;
      case 'leave-one-out':
        add(candidates, design);
        if (candidates.length > 1) for (const left of candidates) add(candidates.filter((name) => name !== left), design);
        break;
      case 'pairs':
        for (const target of spec.targets) for (const other of candidates) if (other !== target) add([target, other], design);
        break;
      case 'incremental':
        for (const stage of incrementalStages(spec)) add(stage, design);
        break;
      case 'greedy':
        add(spec.targets, design);
        break;
      case 'custom':
        for (const set of spec.custom ?? []) add(set, design);
        break;
    }
  }
  return [...arms.values()];
}

/** The incremental stages as arm ids: targets, targets + first, targets + first + second, … */
export function incrementalStages(spec: ExperimentSpec): string[][] {
  const stages = [[...spec.targets]];
  for (const name of incrementalOrder(spec)) stages.push([...stages.at(-1)!, name]);
  return stages;
}

/**
 * The single-task arms that train together, one run per seed with an adapter each: all of them when
 * there are at least two, every one has the same steps under the budget rule (always so under "steps";
 * under "target-examples" a single target and a single non-target arm both train the base steps), and
 * no regularizer is held fixed (it would share each arm's adapter, which per-task adapters cannot do).
 */
export function singleArmsTogether(spec: ExperimentSpec, arms: readonly (Arm & { steps: number })[]): string[] {
  const singles = arms.filter((arm) => arm.tasks.length === 1);
  if (singles.length < 2 || taskRoles(spec.recipe).regularizers.length > 0 || singles.some((arm) => arm.steps !== singles[0]!.steps)) return [];
  return singles.map((arm) => arm.id);
}
