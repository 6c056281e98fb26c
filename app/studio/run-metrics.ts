/**
 * A run's metrics as data: one CSV with a row per step (training loss overall and per task, learning
 * rate, gradient norm, throughput, and the validation loss and metric of each task on the steps that
 * were evaluated), and the curves the Evaluate page overlays for several runs. Pure, so tested in Node.
 */
import type { EvalEvent } from '../train/run.ts';
import type { StepRecord } from '../train/trainer.ts';

export type StepLike = Pick<StepRecord, 'step' | 'loss' | 'taskLosses' | 'lr' | 'gradNorm' | 'skipped' | 'tokens' | 'seconds'>;

export interface RunMetrics {
  taskNames: readonly string[];
  history: readonly StepLike[];
  evaluations: readonly EvalEvent[];
}

/** RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled. */
function csvField(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function runMetricsCsv({ taskNames, history, evaluations }: RunMetrics): string {
  const evaluated = [...new Set(evaluations.flatMap((evaluation) => evaluation.tasks.map((task) => task.task)))];
  const metricOf = new Map(evaluations.flatMap((evaluation) => evaluation.tasks.map((task) => [task.task, task.metric] as const)).reverse());
  const header = [
    'step',
    'loss',
    ...taskNames.map((name) => `loss/${name}`),
    'lr',
    'grad_norm',
    'tokens',
    'seconds',
    'tokens_per_second',
    'skipped',
    ...evaluated.flatMap((name) => [`val_loss/${name}`, ...(metricOf.get(name) === 'loss' ? [] : [`val_${metricOf.get(name)}/${name}`])]),
  ];
  const byStep = new Map<number, { record?: StepLike; evaluation?: EvalEvent }>();
  for (const record of history) byStep.set(record.step, { ...byStep.get(record.step), record });
  for (const evaluation of evaluations) byStep.set(evaluation.step, { ...byStep.get(evaluation.step), evaluation });
  const lines = [...byStep.entries()]
    .sort(([a], [b]) => a - b)
    .map(([step, { record, evaluation }]) => {
      const training = record
        ? [record.loss, ...taskNames.map((_, i) => record.taskLosses[i] ?? null), record.lr, record.gradNorm, record.tokens, record.seconds, record.seconds > 0 ? record.tokens / record.seconds : null, record.skipped]
        : new Array<null>(7 + taskNames.length).fill(null);
      const validation = evaluated.flatMap((name) => {
        const task = evaluation?.tasks.find((t) => t.task === name);
        return [task?.loss ?? null, ...(metricOf.get(name) === 'loss' ? [] : [task?.score ?? null])];
      });
      return [step, ...training, ...validation].map(csvField).join(',');
    });
  return `${[header.map(csvField).join(','), ...lines].join('\r\n')}\r\n`;
}

/** What the overlaid chart draws for each run. */
export type CurveMeasure = { kind: 'train-loss' } | { kind: 'val-loss'; task: string } | { kind: 'val-score'; task: string };

export interface CurvePoint {
  step: number;
  value: number | null;
}

/** One run's curve of a measure; non-finite values (a skipped step) are gaps. */
export function runCurve(run: Pick<RunMetrics, 'history' | 'evaluations'>, measure: CurveMeasure): CurvePoint[] {
  const finite = (value: number | undefined) => (value !== undefined && Number.isFinite(value) ? value : null);
  if (measure.kind === 'train-loss') return run.history.map((record) => ({ step: record.step, value: finite(record.loss) }));
  return run.evaluations.flatMap((evaluation) => {
    const task = evaluation.tasks.find((t) => t.task === measure.task);
    if (!task || (measure.kind === 'val-score' && task.metric === 'loss')) return [];
    return [{ step: evaluation.step, value: finite(measure.kind === 'val-loss' ? task.loss : task.score) }];
  });
}

/** Curves of several runs as chart rows: one row per step any run has, each run's value under its key (absent where it has none). */
export function overlayCurves(curves: readonly { key: string; points: readonly CurvePoint[] }[]): Record<string, number | null>[] {
  const rows = new Map<number, Record<string, number | null>>();
  for (const { key, points } of curves) {
    for (const { step, value } of points) {
      const row = rows.get(step) ?? { step };
      row[key] = value;
      rows.set(step, row);
    }
  }
  return [...rows.values()].sort((a, b) => a.step! - b.step!);
}
