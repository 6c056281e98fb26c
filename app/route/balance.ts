/**
 * The router's training set, drawn from each expert's task's training split only. A held-out slice
 * with the same number of prompts per expert comes out first (for early stopping); then, balanced,
 * every expert gives the same number of prompts: the smallest task's count (or `perExpert`, capped
 * at it), unless `oversample` draws the smaller tasks with repetition up to the count asked (default:
 * the largest task's). "unbalanced" keeps every remaining prompt of every task: the option exists to
 * show what balance is for.
 *
 * An expert that learns from several tasks (app/route/assignment.ts) counts as one pool: the balance is
 * per expert, and the expert's count is shared evenly between its tasks. Each task's prompts are
 * shuffled on their own and then dealt in turn (one of the first task, one of the second, ...), so any
 * number of the expert's prompts — its held-out slice, its training count — holds its tasks as evenly as
 * whole prompts allow (counts differ by at most one); a task that runs out leaves its turns to the others.
 */
import { CocktailError } from '../errors.ts';
import { Random } from '../util/random.ts';

export type RouterBalance = 'balanced' | 'unbalanced';

export interface BalanceOptions {
  balance: RouterBalance;
  /** Prompts per expert in the training set. */
  perExpert?: number;
  oversample?: boolean;
  /** Share of the smallest task held out per expert for early stopping (at least one prompt each). */
  heldOutFraction?: number;
  seed: number;
}

/** One expert's prompts: of one task, or of each of its tasks (shared evenly). */
export type RouterPool<T> = { name: string; items: readonly T[] } | { name: string; tasks: readonly { name: string; items: readonly T[] }[] };

export interface LabelledItem<T> {
  item: T;
  /** Index of the expert. */
  label: number;
}

export interface RouterSplit<T> {
  train: LabelledItem<T>[];
  heldOut: LabelledItem<T>[];
  /** Per expert, in order. */
  trainCounts: number[];
  heldOutCounts: number[];
}

export const DEFAULT_HELD_OUT_FRACTION = 0.2;

export function routerSplit<T>(pools: readonly RouterPool<T>[], options: BalanceOptions): RouterSplit<T> {
  if (pools.length < 2) throw new CocktailError('ROUTER_TOO_FEW_EXPERTS', `a router chooses between at least two experts; got ${pools.length}`, { experts: pools.length });
  const unprompted = pools.flatMap((pool) => ('tasks' in pool ? pool.tasks.filter((task) => task.items.length === 0).map((task) => `task "${task.name}" of expert "${pool.name}"`) : []));
  if (unprompted.length > 0) throw new CocktailError('ROUTER_NO_EXAMPLES', `${unprompted.join(', ')} has no training prompt to teach the router`, { tasks: unprompted });
  const sizes = pools.map((pool) => ('tasks' in pool ? pool.tasks.reduce((sum, task) => sum + task.items.length, 0) : pool.items.length));
  const empty = pools.filter((_, index) => sizes[index]! < 2);
  if (empty.length > 0) {
    throw new CocktailError('ROUTER_NO_EXAMPLES', `${empty.map((pool) => `"${pool.name}" (${sizes[pools.indexOf(pool)]})`).join(', ')}: every expert's tasks need at least two training prompts (one to train on, one held out)`, { experts: empty.map((pool) => pool.name) });
  }
  if (options.perExpert !== undefined && !(Number.isSafeInteger(options.perExpert) && options.perExpert >= 1)) {
    throw new CocktailError('BAD_ARGUMENT', `prompts per expert must be a whole number of at least 1, got ${options.perExpert}`, { field: 'per_expert' });
  }
  const fraction = options.heldOutFraction ?? DEFAULT_HELD_OUT_FRACTION;
  const random = Random.fromSeed(options.seed);
  const shuffled = pools.map((pool) => ('tasks' in pool ? dealt(pool.tasks.map((task) => shuffle(task.items, random))) : shuffle(pool.items, random)));
  const smallest = Math.min(...shuffled.map((items) => items.length));
  const heldOutCount = Math.min(smallest - 1, Math.max(1, Math.floor(smallest * fraction)));
  const heldOut = shuffled.flatMap((items, label) => items.slice(0, heldOutCount).map((item) => ({ item, label })));
  const rest = shuffled.map((items) => items.slice(heldOutCount));
  const counts = trainCounts(rest.map((items) => items.length), options);
  const train = rest.flatMap((items, label) => Array.from({ length: counts[label]! }, (_, i) => ({ item: items[i % items.length]!, label })));
  return { train: shuffle(train, random), heldOut, trainCounts: counts, heldOutCounts: pools.map(() => heldOutCount) };
}

function trainCounts(available: readonly number[], options: BalanceOptions): number[] {
  const { perExpert } = options;
  if (options.balance === 'unbalanced') return available.map((count) => Math.min(count, perExpert ?? count));
  if (options.oversample) {
    const count = perExpert ?? Math.max(...available);
    return available.map(() => count);
  }
  const count = Math.min(perExpert ?? Infinity, ...available);
  return available.map(() => count);
}

/** One of each list in turn, until all are used. */
function dealt<T>(lists: readonly (readonly T[])[]): T[] {
  const out: T[] = [];
  const longest = Math.max(0, ...lists.map((list) => list.length));
  for (let i = 0; i < longest; i++) for (const list of lists) if (i < list.length) out.push(list[i]!);
  return out;
}

function shuffle<T>(items: readonly T[], random: Random): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random.next() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}
