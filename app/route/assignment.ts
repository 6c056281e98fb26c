/**
 * Which tasks teach which expert. Every expert is a class the router can choose — a task adapter, the
 * run's shared cocktail adapter, or "base" (the model with no adapter) — and learns from the training
 * prompts of the tasks assigned to it. By default an expert learns from the task of its own name; an
 * explicit assignment (CLI `--expert-tasks base=alpaca+dolly,shared=squad`, the Router page's per-task
 * choice) overrides that for the experts it names. Every routed task belongs to exactly one expert,
 * which is its oracle in evaluation.
 */
import { CocktailError } from '../errors.ts';

/** Per expert, in the router's order: the recipe tasks whose training prompts teach it. */
export type ExpertTaskAssignment = string[][];

/**
 * Resolves and checks the tasks of each expert. `explicit` maps an expert's name to its tasks; an
 * expert it does not name learns from the task of its own name. Refuses, naming them: an explicit
 * entry for an expert that is not in `experts`, a task the recipe lacks, an expert with no task, and a
 * task claimed by two experts.
 */
export function assignTasks(experts: readonly string[], recipeTasks: readonly string[], explicit: ReadonlyMap<string, readonly string[]> = new Map()): ExpertTaskAssignment {
  const strangers = [...explicit.keys()].filter((name) => !experts.includes(name));
  if (strangers.length > 0) {
    throw new CocktailError('ROUTER_UNKNOWN_EXPERT', `tasks are assigned to ${strangers.map((name) => `"${name}"`).join(', ')}, which ${strangers.length === 1 ? 'is not an expert' : 'are not experts'} of this router (experts: ${experts.join(', ')})`, { experts: strangers });
  }
  const assignment = experts.map((name) => [...(explicit.get(name) ?? (recipeTasks.includes(name) ? [name] : []))]);
  const unknown = [...new Set(assignment.flat().filter((task) => !recipeTasks.includes(task)))];
  if (unknown.length > 0) {
    throw new CocktailError('ROUTER_UNKNOWN_TASK', `${unknown.map((task) => `task "${task}"`).join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not in the recipe (tasks: ${recipeTasks.join(', ')}); an expert learns from the recipe's tasks`, { tasks: unknown });
  }
  const idle = experts.filter((_, index) => assignment[index]!.length === 0);
  if (idle.length > 0) {
    throw new CocktailError('ROUTER_EXPERT_WITHOUT_TASK', `${idle.map((name) => `expert "${name}"`).join(', ')} has no task of that name in the recipe (tasks: ${recipeTasks.join(', ')}) and none assigned: the router learns each expert from its tasks' training prompts; assign it tasks (--expert-tasks ${idle[0]}=TASK+TASK) or name it after its task (--names)`, { experts: idle });
  }
  const owner = new Map<string, string>();
  experts.forEach((name, index) => {
    for (const task of assignment[index]!) {
      const first = owner.get(task);
      if (first !== undefined) {
        throw new CocktailError('ROUTER_TASK_CLAIMED_TWICE', `task "${task}" is assigned to expert "${first}" and to expert "${name}"${first === name ? ' twice' : ''}: every task teaches exactly one expert`, { task, experts: [first, name] });
      }
      owner.set(task, name);
    }
  });
  return assignment;
}

/** The expert that answers a task (its oracle), or undefined for a task no expert learns from. */
export function expertOfTask(experts: readonly string[], assignment: ExpertTaskAssignment, task: string): string | undefined {
  const index = assignment.findIndex((tasks) => tasks.includes(task));
  return index < 0 ? undefined : experts[index];
}

/** What a router without an explicit assignment (a bundle from before assignments) means: each expert learns from its own name's task. */
export const ownTasks = (experts: readonly string[]): ExpertTaskAssignment => experts.map((name) => [name]);

/**
 * Parses `--expert-tasks base=alpaca+dolly,shared=squad`: comma-separated entries, each an expert's
 * name, "=", and its tasks joined by "+".
 */
export function parseExpertTasks(text: string): Map<string, string[]> {
  const explicit = new Map<string, string[]>();
  for (const entry of text.split(',').map((part) => part.trim()).filter((part) => part !== '')) {
    const match = /^([^=]+)=(.+)$/.exec(entry);
    const tasks = match ? match[2]!.split('+').map((task) => task.trim()) : [];
    if (!match || tasks.some((task) => task === '')) {
      throw new CocktailError('BAD_ARGUMENT', `--expert-tasks takes entries like base=alpaca+dolly, separated by commas; "${entry}" is not one`, { field: 'expert-tasks' });
    }
    const expert = match[1]!.trim();
    if (explicit.has(expert)) throw new CocktailError('BAD_ARGUMENT', `--expert-tasks names expert "${expert}" twice; list all its tasks in one entry (${expert}=a+b)`, { field: 'expert-tasks' });
    explicit.set(expert, tasks);
  }
  return explicit;
}
