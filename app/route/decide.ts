/**
 * From the router's probabilities to who answers. Top-1 by default; with topK > 1 the k most probable
 * experts are mixed with their probabilities renormalized to sum to 1 (combineAdapters). Below the
 * confidence threshold (the top probability), the fallback answers instead: the shared cocktail
 * adapter or the base model.
 */
import { CocktailError } from '../errors.ts';

export interface RoutingPolicy {
  /** 1: the top expert alone; k > 1: soft mixing of the top k. */
  topK: number;
  /** The fallback answers when the top probability is below this (0: never). */
  threshold: number;
  /** Who answers below the threshold: an expert name of the bundle ("shared"), or "base" for no adapter. */
  fallback: string | null;
}

export interface RoutingDecision {
  probabilities: Record<string, number>;
  /** The expert that answers ("base" for no adapter); with mixing, the most probable of the mixed. */
  chosen: string;
  /** With topK > 1: the experts mixed and their weights. */
  mixture?: { expert: string; weight: number }[];
  /** True when the threshold handed the prompt to the fallback. */
  fellBack: boolean;
}

export const BASE_EXPERT = 'base';

export function checkPolicy(policy: RoutingPolicy, experts: readonly string[]): void {
  if (!Number.isSafeInteger(policy.topK) || policy.topK < 1 || policy.topK > experts.length) {
    throw new CocktailError('ROUTER_BAD_TOP_K', `top_k must be a whole number from 1 to the ${experts.length} experts, got ${policy.topK}`, { field: 'top_k' });
  }
  if (!(policy.threshold >= 0 && policy.threshold <= 1)) throw new CocktailError('ROUTER_BAD_THRESHOLD', `the confidence threshold must be in [0, 1], got ${policy.threshold}`, { field: 'threshold' });
  if (policy.threshold > 0 && policy.fallback === null) throw new CocktailError('ROUTER_NO_FALLBACK', 'a confidence threshold needs a fallback expert (the shared adapter or "base") to answer below it', { field: 'fallback' });
}

export function decide(probabilities: ArrayLike<number>, experts: readonly string[], policy: RoutingPolicy): RoutingDecision {
  const byExpert = Object.fromEntries(experts.map((name, k) => [name, probabilities[k]!]));
  const ranked = experts.map((name, k) => ({ name, p: probabilities[k]! })).sort((a, b) => b.p - a.p);
  const top = ranked[0]!;
  if (policy.fallback !== null && top.p < policy.threshold) return { probabilities: byExpert, chosen: policy.fallback, fellBack: true };
  if (policy.topK === 1) return { probabilities: byExpert, chosen: top.name, fellBack: false };
  const mixed = ranked.slice(0, policy.topK);
  const total = mixed.reduce((sum, { p }) => sum + p, 0);
  return { probabilities: byExpert, chosen: top.name, mixture: mixed.map(({ name, p }) => ({ expert: name, weight: p / total })), fellBack: false };
}
