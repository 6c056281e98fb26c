/** Numbers as the Mixture page shows them: fixed English grouping, so every reader (and test) sees the same text. */

export function formatPercent(fraction: number): string {
  return `${(100 * fraction).toFixed(1)}%`;
}

export function formatCount(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** Passes over a task's examples: two decimals below 10, whole passes above. */
export function formatPasses(passes: number): string {
  return `${passes < 10 ? passes.toFixed(2) : Math.round(passes).toLocaleString('en-US')}×`;
}
