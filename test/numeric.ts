/**
 * Numerical helpers for kernel tests: comparison against a Float64 reference, and central finite
 * differences for checking reference backward passes.
 */
export { relativeError } from '../app/util/numeric.ts';

/**
 * ∂f/∂x by central differences, in Float64: (f(x + h·eᵢ) − f(x − h·eᵢ)) / 2h for every i of `x`
 * (or only `indices`). `f` must read `x` afresh on each call; `x` is restored afterwards.
 */
export function finiteDifferenceGradient(f: () => number, x: Float64Array, h = 1e-6, indices?: readonly number[]): Float64Array {
  const gradient = new Float64Array(x.length);
  for (const i of indices ?? x.keys()) {
    const saved = x[i]!;
    x[i] = saved + h;
    const plus = f();
    x[i] = saved - h;
    const minus = f();
    x[i] = saved;
    gradient[i] = (plus - minus) / (2 * h);
  }
  return gradient;
}

/** Σ out·weights: a scalar loss whose gradient with respect to `out` is `weights`, for backward checks. */
export function weightedSum(out: ArrayLike<number>, weights: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < out.length; i++) sum += out[i]! * weights[i]!;
  return sum;
}

/**
 * The two-sided exact sign test on n = a + b discordant pairs, summed directly as the tests' independent
 * check of app/route/regret.ts: min(1, 2·Σ_{k ≤ min(a,b)} C(n, k) / 2^n).
 */
export function signTest(a: number, b: number): number {
  const n = a + b;
  let choose = 1;
  let tail = 0;
  for (let k = 0; k <= Math.min(a, b); k++) {
    if (k > 0) choose = (choose * (n - k + 1)) / k;
    tail += choose;
  }
  return Math.min(1, (2 * tail) / 2 ** n);
}
