/**
 * The sampling formulas of the mixture strategies, each on its own so tests and the UI can cite them.
 * Inputs are already validated: sizes ≥ 1, caps > 0, temperatures finite and > 0.
 */

/** Weights scaled to sum to 1. */
export function normalize(weights: readonly number[]): number[] {
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  return weights.map((weight) => weight / total);
}

/** mᵢ = min(nᵢ, K): a cap keeps one very large task from crowding out the rest. No cap: mᵢ = nᵢ. */
export function cappedSizes(sizes: readonly number[], cap?: number): number[] {
  return cap === undefined ? [...sizes] : sizes.map((size) => Math.min(size, cap));
}

/** pᵢ ∝ mᵢ. */
export function proportionalProbabilities(sizes: readonly number[], cap?: number): number[] {
  return normalize(cappedSizes(sizes, cap));
}

export function uniformProbabilities(count: number): number[] {
  return new Array<number>(count).fill(1 / count);
}

/**
 * pᵢ ∝ bᵢ^exponent, computed in log space: at a small temperature the plain powers overflow
 * (10⁴ to the 100th is Infinity) and at a large one they all round to 1.
 */
export function powerProbabilities(bases: readonly number[], exponent: number): number[] {
  const logs = bases.map((base) => exponent * Math.log(base));
  const largest = Math.max(...logs);
  return normalize(logs.map((log) => Math.exp(log - largest)));
}

/** pᵢ ∝ min(nᵢ, K)^(1/T): T = 1 is proportional, T → ∞ approaches uniform. */
export function temperatureProbabilities(sizes: readonly number[], temperature: number, cap?: number): number[] {
  return powerProbabilities(cappedSizes(sizes, cap), 1 / temperature);
}

/** Stickland & Murray (2019): α = 1 − 0.8·(e − 1)/(E − 1) in epoch e of E (1-based); α = 1 when E = 1. */
export function annealingAlpha(epoch: number, epochs: number): number {
  if (epochs <= 1) return 1;
  return 1 - (0.8 * (epoch - 1)) / (epochs - 1);
}

/**
 * The mirror image of annealing, α(e) = α_annealed(E + 1 − e) = 0.2 + 0.8·(e − 1)/(E − 1): the run
 * starts near uniform (α = 0.2) and ends proportional (α = 1). α = 1 when E = 1, as for annealing.
 */
export function reverseAnnealingAlpha(epoch: number, epochs: number): number {
  if (epochs <= 1) return 1;
  return 0.2 + (0.8 * (epoch - 1)) / (epochs - 1);
}

/** pᵢ ∝ nᵢ^α. */
export function annealedProbabilities(sizes: readonly number[], alpha: number): number[] {
  return powerProbabilities(sizes, alpha);
}
