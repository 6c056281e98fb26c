/**
 * The mixture strategies as the Mixture page offers them: a name, a one-line explanation with its
 * formula, which parameters each takes, and the recipe's mixture section after switching strategy
 * (a strategy's own fields are dropped when it no longer applies, so a saved recipe says only what
 * is used).
 */
import type { MixtureStrategyName, Recipe } from '../../train/recipe.ts';

export type Mixture = Recipe['mixture'];

export interface StrategyInfo {
  name: MixtureStrategyName;
  label: string;
  explanation: string;
}

export const STRATEGIES: readonly StrategyInfo[] = [
  { name: 'proportional', label: 'Proportional', explanation: 'Each task as often as its size: pᵢ ∝ nᵢ. The largest task dominates; a cap limits that.' },
  { name: 'uniform', label: 'Uniform', explanation: 'Every task equally often, whatever its size: small tasks repeat many times.' },
  { name: 'temperature', label: 'Temperature', explanation: 'pᵢ ∝ nᵢ^(1/T): T = 1 is proportional, a larger T flattens towards uniform. T = 2 is a common middle ground.' },
  { name: 'annealed', label: 'Annealed', explanation: 'Proportional in the first epoch, moving towards uniform epoch by epoch: pᵢ ∝ nᵢ^α, α from 1 down to 0.2.' },
  { name: 'reverse_annealed', label: 'Reverse annealed', explanation: 'Near uniform first, proportional by the last epoch: α from 0.2 up to 1.' },
  { name: 'round_robin', label: 'Round robin', explanation: 'Tasks take turns, one example (or batch) each: equal shares, no randomness.' },
  { name: 'manual', label: 'Manual weights', explanation: 'You give each task a weight: pᵢ ∝ its weight (0 leaves a task out).' },
  { name: 'adaptive', label: 'Adaptive', explanation: 'Starts proportional and re-weights at each evaluation: a task whose validation loss rises above its best has its weight halved (bounded to 2%–90% of the draws). Needs a validation split for every task.' },
  { name: 'sequential', label: 'Sequential', explanation: 'One task after another, each in file order: no mixing. Useful as a comparison; earlier tasks tend to be forgotten.' },
];

export const DEFAULT_TEMPERATURE = 2;
/** The schema's defaults for mixture.adaptive (recipe.schema.json). */
export const DEFAULT_ADAPTIVE: NonNullable<Mixture['adaptive']> = { base: 'proportional', rise_threshold: 0.02, factor: 0.5, rule: 'none', rule_temperature: 1, min_share: 0.02, max_share: 0.9 };
export const DEFAULT_WEIGHT = 1;

/** Strategies that size tasks by mᵢ = min(nᵢ, K), so a cap K means something. */
export function usesCap(strategy: MixtureStrategyName): boolean {
  return strategy === 'proportional' || strategy === 'temperature';
}

/** Values of a strategy's parameters that the page remembers while the user tries other strategies. */
export interface RememberedParameters {
  temperature?: number;
  cap?: number;
  weights?: Record<string, number>;
}

export function rememberParameters(mixture: Mixture, remembered: RememberedParameters): RememberedParameters {
  return {
    temperature: mixture.temperature ?? remembered.temperature,
    cap: mixture.cap ?? remembered.cap,
    weights: mixture.weights ?? remembered.weights,
  };
}

/** The mixture after choosing `strategy`: its parameters from the mixture, else remembered ones, else defaults. */
export function withStrategy(mixture: Mixture, strategy: MixtureStrategyName, taskNames: readonly string[], remembered: RememberedParameters): Mixture {
  const next: Mixture = { strategy, per: mixture.per };
  if (mixture.regularizer_share !== undefined) next.regularizer_share = mixture.regularizer_share;
  if (strategy === 'temperature') next.temperature = mixture.temperature ?? remembered.temperature ?? DEFAULT_TEMPERATURE;
  const cap = mixture.cap ?? remembered.cap;
  if (usesCap(strategy) && cap !== undefined) next.cap = cap;
  if (strategy === 'adaptive') next.adaptive = mixture.adaptive ?? { ...DEFAULT_ADAPTIVE };
  if (strategy === 'manual') {
    const weights = mixture.weights ?? remembered.weights ?? {};
    next.weights = Object.fromEntries(taskNames.map((name) => [name, weights[name] ?? DEFAULT_WEIGHT]));
  }
  return next;
}
