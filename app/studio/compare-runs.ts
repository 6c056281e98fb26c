/**
 * Runs side by side: each column is one evaluation (a run's final one, or an evaluation made on the
 * Evaluate page), each row a task. Cells are aligned by task name, the best cell of a row is marked,
 * and every cell gets its difference from a baseline column, with whether that difference is larger
 * than the noise of a validation split of that size — a 2-point gain on 32 examples is one example.
 */
import type { EvalEvent } from '../train/run.ts';
import type { TaskEvaluation } from '../train/evaluate.ts';

export type Metric = TaskEvaluation['metric'];

/** What a comparison compares: each task's own metric, or the validation loss of every task. */
export type CompareBy = 'metric' | 'loss';

export interface ComparedColumn {
  id: string;
  label: string;
  evaluation: EvalEvent;
}

export interface ComparisonCell {
  /** The value compared (the metric's score, or the loss); undefined when the column lacks the task. */
  value?: number;
  examples?: number;
  /** The best value of its row (ties are all best); never set when fewer than two columns have a value, or all are equal. */
  best: boolean;
  /** value − baseline value, for columns other than the baseline that have both. */
  delta?: number;
  /** Whether the delta is an improvement, given the metric's direction. */
  change?: 'better' | 'worse' | 'same';
  /** The delta is larger than the validation split's noise. */
  matters?: boolean;
  /** The column measured the task with another metric, so it is not compared. */
  otherMetric?: Metric;
}

export interface ComparisonRow {
  task: string;
  /** What the row compares: the metric, or "loss" when comparing losses. */
  metric: Metric;
  cells: ComparisonCell[];
}

export const METRIC_LABELS: Record<Metric, string> = {
  loss: 'validation loss',
  accuracy: 'accuracy',
  exact_match: 'exact match',
  numeric_match: 'numeric match',
  rouge_l: 'ROUGE-L',
};

/** Loss goes down as a model gets better; every other metric goes up. */
export function higherIsBetter(metric: Metric): boolean {
  return metric !== 'loss';
}

/** The evaluation a run reports: its latest (a finished run's last is its final one). */
export function finalEvaluation(evaluations: readonly EvalEvent[]): EvalEvent | undefined {
  let latest: EvalEvent | undefined;
  for (const evaluation of evaluations) if (!latest || evaluation.step >= latest.step) latest = evaluation;
  return latest;
}

/**
 * The smallest difference worth reading as real. Proportions (accuracy, exact and numeric match)
 * on n examples move in steps of 1/n and have a standard error of sqrt(p(1−p)/n) each: a difference
 * must exceed two standard errors of the difference and one example. ROUGE-L is a mean of values in
 * [0, 1], treated the same way. Loss has no such bound here: 1% of the smaller loss.
 */
export function noiseThreshold(metric: Metric, a: { value: number; examples: number }, b: { value: number; examples: number }): number {
  if (metric === 'loss') return 0.01 * Math.min(Math.abs(a.value), Math.abs(b.value));
  const na = Math.max(1, a.examples);
  const nb = Math.max(1, b.examples);
  const variance = (p: number, n: number) => (Math.min(1, Math.max(0, p)) * (1 - Math.min(1, Math.max(0, p)))) / n;
  const standardError = Math.sqrt(variance(a.value, na) + variance(b.value, nb));
  return Math.max(2 * standardError, 1 / Math.min(na, nb));
}

function valueOf(evaluation: TaskEvaluation, by: CompareBy): number {
  return by === 'loss' ? evaluation.loss : evaluation.score;
}

/**
 * Aligns the columns' per-task results. Rows follow the order tasks first appear in, column by
 * column; a task's metric is the one the baseline (or else the first column having it) used.
 */
export function compareRuns(columns: readonly ComparedColumn[], options: { baselineId?: string; by?: CompareBy } = {}): ComparisonRow[] {
  const by = options.by ?? 'metric';
  const baselineIndex = columns.findIndex((column) => column.id === options.baselineId);
  const taskOrder: string[] = [];
  for (const column of columns) for (const { task } of column.evaluation.tasks) if (!taskOrder.includes(task)) taskOrder.push(task);

  return taskOrder.map((task) => {
    const found = columns.map((column) => column.evaluation.tasks.find((t) => t.task === task));
    const reference = (baselineIndex >= 0 ? found[baselineIndex] : undefined) ?? found.find((t) => t !== undefined)!;
    const metric: Metric = by === 'loss' ? 'loss' : reference.metric;
    const cells: ComparisonCell[] = found.map((result) => {
      if (!result) return { best: false };
      if (by === 'metric' && result.metric !== metric) return { best: false, otherMetric: result.metric };
      return { value: valueOf(result, by), examples: result.examples, best: false };
    });

    const values = cells.filter((cell) => cell.value !== undefined && Number.isFinite(cell.value)).map((cell) => cell.value!);
    const best = higherIsBetter(metric) ? Math.max(...values) : Math.min(...values);
    // A best needs something it beats: a row where every value is equal has none.
    if (values.length >= 2 && values.some((value) => value !== best)) {
      for (const cell of cells) cell.best = cell.value === best;
    }

    const baseline = baselineIndex >= 0 ? cells[baselineIndex] : undefined;
    if (baseline?.value !== undefined && Number.isFinite(baseline.value)) {
      cells.forEach((cell, index) => {
        if (index === baselineIndex || cell.value === undefined || !Number.isFinite(cell.value)) return;
        const delta = cell.value - baseline.value!;
        cell.delta = delta;
        cell.change = delta === 0 ? 'same' : delta > 0 === higherIsBetter(metric) ? 'better' : 'worse';
        cell.matters = delta !== 0 && Math.abs(delta) > noiseThreshold(metric, { value: cell.value, examples: cell.examples ?? 1 }, { value: baseline.value!, examples: baseline.examples ?? 1 });
      });
    }
    return { task, metric, cells };
  });
}

/**
 * The sign of a difference as one glyph from fonts every system has (the full-width ＝ drew a
 * missing-glyph box on common fonts): the arrow follows the number, up or down.
 */
export function deltaGlyph(delta: number): '▲' | '▼' | '=' {
  return delta > 0 ? '▲' : delta < 0 ? '▼' : '=';
}

/** A metric's value for people: proportions as percentages, losses to three decimals. */
export function formatMetric(metric: Metric, value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return metric === 'loss' ? value.toFixed(3) : `${(100 * value).toFixed(1)}%`;
}

/** A difference with its sign: "+12.5 pts" for proportions, "−0.031" for losses. */
export function formatDelta(metric: Metric, delta: number): string {
  const sign = delta > 0 ? '+' : delta < 0 ? '−' : '±';
  const size = Math.abs(delta);
  return metric === 'loss' ? `${sign}${size.toFixed(3)}` : `${sign}${(100 * size).toFixed(1)} pts`;
}
