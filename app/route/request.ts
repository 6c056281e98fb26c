/**
 * The router's training request, built the same way for `cocktail router train` and the studio's
 * worker: the experts (adapters and "base") with the tasks assigned to them and those tasks' training
 * examples, and trainRouter's options from the settings either one collects.
 */
import type { Example } from '../data/example.ts';
import { CocktailError } from '../errors.ts';
import type { ModelConfig } from '../model/config.ts';
import type { ExpertTaskAssignment } from './assignment.ts';
import type { RouterBalance } from './balance.ts';
import { checkPolicy, type RoutingPolicy } from './decide.ts';
import { defaultRouterLayer, type Pooling } from './features.ts';
import type { RouterInput } from './prompt.ts';
import type { ExpertTask, Router, RouterTrainingOptions } from './router.ts';

export interface RouterTrainingSettings {
  /** hidden_states index; undefined: the middle layer. */
  layer?: number;
  pooling: Pooling;
  input: RouterInput;
  /** "oversample" balances by repeating the smaller experts' prompts; "unbalanced" keeps every prompt (for comparison). */
  balance: RouterBalance | 'oversample';
  perExpert?: number;
  /** Units of a relu hidden layer; undefined or 0: a linear head. */
  hidden?: number;
  temperature?: number;
  maxSteps?: number;
  seed: number;
  policy: RoutingPolicy;
  baseModel: Router['baseModel'];
}

export interface RouterTrainingRequest {
  experts: ExpertTask[];
  options: RouterTrainingOptions;
}

/**
 * `experts` in the head's order with their `assignment` (assignTasks), over the recipe's tasks in
 * order with their training examples. Refuses fewer than two experts and a policy that does not fit them.
 */
export function routerTrainingRequest(
  experts: readonly string[],
  assignment: ExpertTaskAssignment,
  recipeTasks: readonly { name: string; train: readonly Example[] }[],
  settings: RouterTrainingSettings,
  model: Pick<ModelConfig, 'numLayers'>,
): RouterTrainingRequest {
  if (experts.length < 2) throw new CocktailError('ROUTER_TOO_FEW_EXPERTS', `a router chooses between at least two experts; got ${experts.length}${experts.length === 1 ? ` ("${experts[0]}")` : ''}`, { experts: experts.length });
  checkPolicy(settings.policy, experts);
  const trainOf = (task: string) => recipeTasks.find((candidate) => candidate.name === task)!.train;
  return {
    experts: experts.map((name, index) => ({ name, tasks: assignment[index]!.map((task) => ({ name: task, train: trainOf(task) })) })),
    options: {
      feature: { layer: settings.layer ?? defaultRouterLayer(model), pooling: settings.pooling },
      input: settings.input,
      balance: settings.balance === 'unbalanced' ? 'unbalanced' : 'balanced',
      oversample: settings.balance === 'oversample',
      ...(settings.perExpert !== undefined ? { perExpert: settings.perExpert } : {}),
      ...(settings.hidden ? { hidden: settings.hidden } : {}),
      ...(settings.temperature !== undefined ? { temperature: settings.temperature } : {}),
      ...(settings.maxSteps !== undefined ? { maxSteps: settings.maxSteps } : {}),
      seed: settings.seed,
      policy: settings.policy,
      baseModel: settings.baseModel,
    },
  };
}
