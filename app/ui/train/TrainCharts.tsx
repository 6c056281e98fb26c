import { useMemo, useState } from 'react';
import type { StepPoint } from '../../state/slices/train.ts';
import { useStudio } from '../../state/store.ts';
import type { EvalEvent } from '../../train/run.ts';
import { LineChartPanel, type ChartRow, type ChartSeries } from '../charts/LineChartPanel.tsx';
import { smoothRows } from '../charts/smoothing.ts';
import { DEFAULT_SMOOTHING, SmoothingControl } from '../charts/SmoothingControl.tsx';
import { seriesColor, useChartTheme } from '../charts/theme.ts';

/** Series keys are positional ("task0"), since task names may hold dots, which recharts reads as paths. */
const taskKey = (index: number) => `task${index}`;

const LR_SERIES: ChartSeries[] = [{ key: 'lr', label: 'learning rate', color: seriesColor(0) }];
const GRAD_NORM_SERIES: ChartSeries[] = [{ key: 'gradNorm', label: 'gradient norm', color: seriesColor(1) }];
const TOKENS_SERIES: ChartSeries[] = [{ key: 'tokensPerSecond', label: 'tokens/s', color: seriesColor(2) }];

export function lossRows(history: readonly StepPoint[]): ChartRow[] {
  return history.map((point) => {
    const row: ChartRow = { step: point.step, loss: point.loss, lr: point.lr, gradNorm: point.gradNorm, tokensPerSecond: point.tokensPerSecond };
    point.taskLosses.forEach((loss, i) => (row[taskKey(i)] = loss));
    return row;
  });
}

export function evaluationRows(evaluations: readonly EvalEvent[], taskNames: readonly string[], value: 'loss' | 'score'): ChartRow[] {
  return evaluations.map((evaluation) => {
    const row: ChartRow = { step: evaluation.step };
    for (const task of evaluation.tasks) {
      const index = taskNames.indexOf(task.task);
      if (index >= 0 && (value === 'loss' || task.metric !== 'loss')) row[taskKey(index)] = Number.isFinite(task[value]) ? task[value] : null;
    }
    return row;
  });
}

/**
 * The run's live charts: training loss overall and per task, validation loss and metric per task,
 * learning rate, gradient norm and tokens per second. Each chart downsamples long runs itself.
 */
export function TrainCharts() {
  const history = useStudio((state) => state.train.history);
  const evaluations = useStudio((state) => state.train.evaluations);
  const taskNames = useStudio((state) => state.train.taskNames);
  const theme = useChartTheme();

  const [smoothing, setSmoothing] = useState(DEFAULT_SMOOTHING);
  const rows = useMemo(() => lossRows(history), [history]);
  const validationLoss = useMemo(() => evaluationRows(evaluations, taskNames, 'loss'), [evaluations, taskNames]);
  const validationScore = useMemo(() => evaluationRows(evaluations, taskNames, 'score'), [evaluations, taskNames]);
  const metricOf = useMemo(() => new Map(evaluations.at(-1)?.tasks.map((t) => [t.task, t.metric]) ?? []), [evaluations]);

  const taskSeries = useMemo<ChartSeries[]>(() => taskNames.map((name, i) => ({ key: taskKey(i), label: name, color: seriesColor(i) })), [taskNames]);
  const lossSeries = useMemo<ChartSeries[]>(() => [{ key: 'loss', label: 'overall', color: theme.text, emphasis: true }, ...taskSeries], [taskSeries, theme.text]);
  const smoothedLoss = useMemo(() => smoothRows(rows, lossSeries.map((series) => series.key), smoothing), [rows, lossSeries, smoothing]);
  const scoreSeries = useMemo<ChartSeries[]>(
    () =>
      taskSeries.flatMap((series, i) => {
        const metric = metricOf.get(taskNames[i]!);
        return metric && metric !== 'loss' ? [{ ...series, label: `${series.label} (${metric})` }] : [];
      }),
    [taskSeries, metricOf, taskNames],
  );

  return (
    <section className="panel" aria-labelledby="train-charts-title">
      <h2 id="train-charts-title">Charts</h2>
      <SmoothingControl value={smoothing} onChange={setSmoothing} />
      <div className="chart-grid">
        <LineChartPanel title="Training loss" rows={smoothedLoss} x="step" series={lossSeries} empty="The loss appears with the first step." />
        <LineChartPanel title="Validation loss" rows={validationLoss} x="step" series={taskSeries} empty="Appears with the first evaluation." />
        <LineChartPanel title="Validation metric" rows={validationScore} x="step" series={scoreSeries} yDomain={[0, 1]} empty={evaluations.length > 0 ? 'Every task is scored by its loss alone.' : 'Appears with the first evaluation.'} />
        <LineChartPanel title="Learning rate" rows={rows} x="step" series={LR_SERIES} />
        <LineChartPanel title="Gradient norm" rows={rows} x="step" series={GRAD_NORM_SERIES} />
        <LineChartPanel title="Tokens per second" rows={rows} x="step" series={TOKENS_SERIES} />
      </div>
    </section>
  );
}
