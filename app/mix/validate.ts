/**
 * Checks a mixture plan as it arrives from a recipe file, the UI or a checkpoint (so nothing about
 * its types is trusted), reports every problem at once, and resolves the defaults the rest of the
 * module relies on.
 */
import { CocktailError } from '../errors.ts';
import { adaptiveOptionProblems } from './adaptive.ts';
import type { MixConfig, MixPlan, MixStrategy, MixTask, ScheduleInterpolation, TaskWeights } from './types.ts';

export const DEFAULT_REGULARIZER_SHARE = 0.15;

export interface MixProblem {
  code: string;
  /** Path of the offending field, e.g. "tasks[2].examples" or "strategy.weights.alpaca". */
  field: string;
  message: string;
}

/** A validated plan with its defaults filled in and the quantities every strategy needs. */
export interface ResolvedMix {
  plan: MixPlan;
  names: readonly string[];
  sizes: readonly number[];
  /** Indices of tasks with role "task", in plan order. */
  trainingTasks: readonly number[];
  /** Indices of tasks with role "regularizer", in plan order. */
  regularizers: readonly number[];
  /** The regularizers' combined share; 0 when there are none. */
  regularizerShare: number;
  /** Σ nᵢ: the examples of one mixture epoch. */
  mixtureEpochExamples: number;
  /** E = max(1, ⌈totalSteps · batchSize / Σ nᵢ⌉): mixture epochs the run is planned for. */
  epochs: number;
  /** Task choices per step: batchSize when sampling per example, 1 when per batch. */
  choicesPerStep: number;
  /** Rows taken per task choice: 1 when sampling per example, batchSize when per batch. */
  rowsPerChoice: number;
  interpolation: ScheduleInterpolation;
}

const STRATEGY_KINDS: readonly MixStrategy['kind'][] = [
  'proportional',
  'uniform',
  'temperature',
  'annealed',
  'reverse-annealed',
  'round-robin',
  'manual',
  'schedule',
  'sequential',
];

/** Every problem of a plan, in field order; empty when the plan is valid. */
export function findMixPlanProblems(plan: MixPlan): MixProblem[] {
  const problems: MixProblem[] = [];
  const report = (code: string, field: string, message: string): void => {
    problems.push({ code, field, message });
  };
  if (!isRecord(plan)) {
    report('MIX_PLAN_INVALID', 'plan', `a mixture plan must be an object, got ${show(plan)}`);
    return problems;
  }

  const tasks = checkTasks(plan.tasks, report);
  checkRegularizerShare(plan.regularizerShare, report);
  if (plan.sampleBy !== 'example' && plan.sampleBy !== 'batch') {
    report('MIX_SAMPLE_BY_INVALID', 'sampleBy', `sampleBy must be "example" or "batch", got ${show(plan.sampleBy)}`);
  }
  checkPositiveInteger(plan.batchSize, 'batchSize', 'MIX_BATCH_SIZE_INVALID', report);
  checkPositiveInteger(plan.totalSteps, 'totalSteps', 'MIX_TOTAL_STEPS_INVALID', report);
  checkStrategy(plan.strategy, tasks, shareOf(plan), report);
  checkAdaptive(plan, tasks.length, report);
  return problems;
}

export function findMixConfigProblems(config: MixConfig): MixProblem[] {
  const problems = findMixPlanProblems(config);
  if (isRecord(config) && !(Number.isInteger(config.seed) && config.seed >= 0 && config.seed < 2 ** 32)) {
    problems.push({
      code: 'MIX_SEED_INVALID',
      field: 'seed',
      message: `seed must be an integer in [0, 4294967295], got ${show(config.seed)}`,
    });
  }
  return problems;
}

/** Throws a CocktailError naming every problem (its code is the first problem's), or resolves the plan. */
export function resolveMixPlan(plan: MixPlan): ResolvedMix {
  throwIfAny(findMixPlanProblems(plan));
  return resolveValid(plan);
}

export function validateMixConfig(config: MixConfig): ResolvedMix {
  throwIfAny(findMixConfigProblems(config));
  return resolveValid(config);
}

function throwIfAny(problems: readonly MixProblem[]): void {
  const first = problems[0];
  if (!first) return;
  const message =
    problems.length === 1
      ? first.message
      : `${problems.length} problems in the mixture: ${problems.map((problem) => problem.message).join('; ')}`;
  throw new CocktailError(first.code, message, { field: first.field, problems: problems.map((problem) => ({ ...problem })) });
}

function resolveValid(plan: MixPlan): ResolvedMix {
  const tasks: MixTask[] = plan.tasks.map((task) => ({ name: task.name, examples: task.examples, role: task.role ?? 'task' }));
  const indicesWithRole = (role: string): number[] =>
    tasks.flatMap((task, index) => (task.role === role ? [index] : []));
  const regularizers = indicesWithRole('regularizer');
  const regularizerShare = regularizers.length === 0 ? 0 : shareOf(plan);
  const sizes = tasks.map((task) => task.examples);
  const mixtureEpochExamples = sizes.reduce((sum, size) => sum + size, 0);
  const perExample = plan.sampleBy === 'example';
  return {
    plan: JSON.parse(JSON.stringify({ ...plan, tasks, regularizerShare })) as MixPlan,
    names: tasks.map((task) => task.name),
    sizes,
    trainingTasks: indicesWithRole('task'),
    regularizers,
    regularizerShare,
    mixtureEpochExamples,
    epochs: Math.max(1, Math.ceil((plan.totalSteps * plan.batchSize) / mixtureEpochExamples)),
    choicesPerStep: perExample ? plan.batchSize : 1,
    rowsPerChoice: perExample ? 1 : plan.batchSize,
    interpolation: (plan.strategy.kind === 'schedule' && plan.strategy.interpolation) || 'constant',
  };
}

type Report = (code: string, field: string, message: string) => void;

interface CheckedTask {
  name: string;
  role: string;
}

function checkTasks(tasks: unknown, report: Report): CheckedTask[] {
  if (!Array.isArray(tasks)) {
    report('MIX_NO_TASKS', 'tasks', `tasks must be a list of tasks, got ${show(tasks)}`);
    return [];
  }
  if (tasks.length === 0) {
    report('MIX_NO_TASKS', 'tasks', 'the mixture has no tasks: add at least one task with training examples');
    return [];
  }
  const seen = new Set<string>();
  const checked = tasks.map((task: unknown, index): CheckedTask => {
    const field = `tasks[${index}]`;
    if (!isRecord(task)) {
      report('MIX_TASK_INVALID', field, `${field} must be an object with a name and a number of examples, got ${show(task)}`);
      return { name: '', role: 'task' };
    }
    const name = typeof task.name === 'string' ? task.name : '';
    if (name === '') {
      report('MIX_TASK_NAME_INVALID', `${field}.name`, `${field}.name must be a non-empty string, got ${show(task.name)}`);
    } else if (seen.has(name)) {
      report('MIX_TASK_NAME_DUPLICATE', `${field}.name`, `${field}.name "${name}" is used by an earlier task; task names must be unique`);
    }
    seen.add(name);
    if (task.examples === 0) {
      report('MIX_TASK_EMPTY', `${field}.examples`, `task "${name}" (${field}.examples) has 0 training examples: import rows for it or remove it`);
    } else if (!(Number.isInteger(task.examples) && (task.examples as number) > 0)) {
      report('MIX_TASK_EXAMPLES_INVALID', `${field}.examples`, `${field}.examples must be a positive integer, got ${show(task.examples)}`);
    }
    const role = task.role ?? 'task';
    if (role !== 'task' && role !== 'regularizer') {
      report('MIX_TASK_ROLE_INVALID', `${field}.role`, `${field}.role must be "task" or "regularizer", got ${show(task.role)}`);
    }
    return { name, role: String(role) };
  });
  if (checked.length > 0 && checked.every((task) => task.role === 'regularizer')) {
    report('MIX_NO_TRAINING_TASK', 'tasks', 'every task is a regularizer: mark at least one task with role "task"');
  }
  return checked;
}

function checkRegularizerShare(share: unknown, report: Report): void {
  if (share === undefined) return;
  if (!(typeof share === 'number' && share >= 0 && share < 1)) {
    report(
      'MIX_REGULARIZER_SHARE_INVALID',
      'regularizerShare',
      `regularizerShare must be a number in [0, 1) (e.g. 0.15), got ${show(share)}`,
    );
  }
}

function checkPositiveInteger(value: unknown, field: string, code: string, report: Report): void {
  if (!(Number.isInteger(value) && (value as number) > 0)) {
    report(code, field, `${field} must be a positive integer, got ${show(value)}`);
  }
}

function checkStrategy(strategy: unknown, tasks: readonly CheckedTask[], share: number, report: Report): void {
  if (!isRecord(strategy)) {
    report('MIX_STRATEGY_INVALID', 'strategy', `strategy must be an object with a "kind", got ${show(strategy)}`);
    return;
  }
  const kind = strategy.kind;
  if (!STRATEGY_KINDS.includes(kind as MixStrategy['kind'])) {
    report('MIX_STRATEGY_UNKNOWN', 'strategy.kind', `strategy.kind must be one of ${STRATEGY_KINDS.join(', ')}; got ${show(kind)}`);
    return;
  }
  if (kind === 'proportional' || kind === 'temperature') checkCap(strategy.cap, report);
  if (kind === 'temperature') {
    const temperature = strategy.temperature;
    if (!(typeof temperature === 'number' && Number.isFinite(temperature) && temperature > 0)) {
      report(
        'MIX_TEMPERATURE_INVALID',
        'strategy.temperature',
        `strategy.temperature must be a finite number > 0 (1 is proportional, larger is flatter), got ${show(temperature)}`,
      );
    }
  }
  if (kind === 'manual') checkWeights(strategy.weights, 'strategy.weights', tasks, share, report);
  if (kind === 'schedule') checkSchedule(strategy, tasks, share, report);
}

function checkAdaptive(plan: MixPlan, taskCount: number, report: Report): void {
  if (plan.adaptive === undefined) return;
  if (!isRecord(plan.adaptive)) {
    report('MIX_ADAPTIVE_INVALID', 'adaptive', `adaptive must be an object of options, got ${show(plan.adaptive)}`);
    return;
  }
  const kind = isRecord(plan.strategy) ? plan.strategy.kind : undefined;
  if (kind === 'round-robin' || kind === 'sequential') {
    report('MIX_ADAPTIVE_BASE_INVALID', 'strategy.kind', `adaptive mixing re-weights probabilities, and ${kind} draws none: choose a base strategy that samples (proportional, temperature, …)`);
  }
  for (const problem of adaptiveOptionProblems(plan.adaptive, taskCount)) report('MIX_ADAPTIVE_INVALID', problem.field, problem.message);
}

function checkCap(cap: unknown, report: Report): void {
  if (cap === undefined) return;
  if (!(typeof cap === 'number' && Number.isFinite(cap) && cap > 0)) {
    report('MIX_CAP_INVALID', 'strategy.cap', `strategy.cap (K in min(nᵢ, K)) must be a finite number > 0, got ${show(cap)}`);
  }
}

function checkSchedule(strategy: Record<string, unknown>, tasks: readonly CheckedTask[], share: number, report: Report): void {
  const interpolation = strategy.interpolation;
  if (interpolation !== undefined && interpolation !== 'constant' && interpolation !== 'linear') {
    report(
      'MIX_SCHEDULE_INTERPOLATION_INVALID',
      'strategy.interpolation',
      `strategy.interpolation must be "constant" or "linear", got ${show(interpolation)}`,
    );
  }
  const points = strategy.points;
  if (!Array.isArray(points) || points.length === 0) {
    report('MIX_SCHEDULE_EMPTY', 'strategy.points', `strategy.points must list at least one {at, weights}, got ${show(points)}`);
    return;
  }
  let previousAt = -Infinity;
  points.forEach((point: unknown, index) => {
    const field = `strategy.points[${index}]`;
    if (!isRecord(point)) {
      report('MIX_SCHEDULE_POINT_INVALID', field, `${field} must be an object {at, weights}, got ${show(point)}`);
      return;
    }
    const at = point.at;
    if (!(typeof at === 'number' && at >= 0 && at <= 1)) {
      report('MIX_SCHEDULE_AT_INVALID', `${field}.at`, `${field}.at must be a training fraction in [0, 1], got ${show(at)}`);
    } else {
      if (at <= previousAt) {
        report(
          'MIX_SCHEDULE_ORDER',
          `${field}.at`,
          `${field}.at must be greater than the point before it (${previousAt}), got ${show(at)}: list points in increasing order`,
        );
      }
      previousAt = at;
    }
    checkWeights(point.weights, `${field}.weights`, tasks, share, report);
  });
}

function checkWeights(weights: unknown, field: string, tasks: readonly CheckedTask[], share: number, report: Report): void {
  if (!isRecord(weights)) {
    report('MIX_WEIGHTS_INVALID', field, `${field} must map task names to weights, got ${show(weights)}`);
    return;
  }
  const names = new Set(tasks.map((task) => task.name));
  for (const [name, weight] of Object.entries(weights)) {
    if (!names.has(name)) {
      report(
        'MIX_WEIGHT_UNKNOWN_TASK',
        `${field}.${name}`,
        `${field} has a weight for unknown task "${name}"; the tasks are ${[...names].map((known) => `"${known}"`).join(', ')}`,
      );
    } else if (!(typeof weight === 'number' && Number.isFinite(weight) && weight >= 0)) {
      report('MIX_WEIGHT_INVALID', `${field}.${name}`, `${field}.${name} must be a finite number >= 0, got ${show(weight)}`);
    }
  }
  const typed = weights as TaskWeights;
  for (const task of tasks) {
    if (task.name !== '' && !Object.hasOwn(typed, task.name)) {
      report('MIX_WEIGHT_MISSING', `${field}.${task.name}`, `${field} has no weight for task "${task.name}"; give it one (0 to leave it out)`);
    }
  }
  const totalOf = (role: string): number =>
    tasks
      .filter((task) => task.role === role)
      .reduce((sum, task) => {
        const weight = typed[task.name];
        return typeof weight === 'number' && Number.isFinite(weight) && weight > 0 ? sum + weight : sum;
      }, 0);
  if (tasks.some((task) => task.role === 'task') && totalOf('task') <= 0) {
    report('MIX_WEIGHTS_ALL_ZERO', field, `${field} gives every training task weight 0: at least one must be positive`);
  }
  if (share > 0 && tasks.some((task) => task.role === 'regularizer') && totalOf('regularizer') <= 0) {
    report(
      'MIX_WEIGHTS_ALL_ZERO',
      field,
      `${field} gives every regularizer weight 0 while regularizerShare is ${share}: give one a positive weight or set the share to 0`,
    );
  }
}

function shareOf(plan: MixPlan): number {
  const share = plan.regularizerShare;
  return typeof share === 'number' && share >= 0 && share < 1 ? share : DEFAULT_REGULARIZER_SHARE;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A value as a person should read it in a message: NaN and Infinity as such, strings quoted. */
function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
