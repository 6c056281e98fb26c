/** Numbers on chart axes, tooltips and summaries. */

/** Four significant digits; exponent notation for very small or very large values (learning rates). */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (value === 0) return '0';
  const magnitude = Math.abs(value);
  if (magnitude < 1e-3 || magnitude >= 1e6) return value.toExponential(2);
  return Number(value.toPrecision(4)).toString();
}

/** A task metric as people read it: accuracy and match rates in percent, losses and ROUGE-L as numbers. */
export function formatMetric(metric: string, score: number): string {
  if (!Number.isFinite(score)) return '—';
  if (metric === 'accuracy' || metric === 'exact_match' || metric === 'numeric_match') return `${(100 * score).toFixed(1)}%`;
  return score.toFixed(3);
}
