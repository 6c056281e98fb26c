import { useEffect, useMemo, useState } from 'react';
import { readRunHistories } from '../../state/run-histories.ts';
import { useStudio } from '../../state/store.ts';
import { taskNamesOf } from '../../state/slices/train.ts';
import { overlayCurves, runCurve, type CurveMeasure, type StepLike } from '../../studio/run-metrics.ts';
import { LineChartPanel, type ChartSeries } from '../charts/LineChartPanel.tsx';
import { smoothRows } from '../charts/smoothing.ts';
import { DEFAULT_SMOOTHING, SmoothingControl } from '../charts/SmoothingControl.tsx';
import { seriesColor } from '../charts/theme.ts';
import { Field } from '../components/Field.tsx';

/** Runs drawn at first: the newest few, so a long library does not start as a tangle. */
const FIRST_SHOWN = 4;

const measureId = (measure: CurveMeasure) => (measure.kind === 'train-loss' ? 'train-loss' : `${measure.kind}:${measure.task}`);

/**
 * The training curves of several runs on one chart: training loss per step (smoothed as on the Train
 * page), or a task's validation loss or metric at each evaluation, so runs of different recipes
 * (a single task against the cocktail) can be read against each other over the whole run.
 */
export function RunCurves() {
  const runs = useStudio((state) => state.library.runs);
  const [chosen, setChosen] = useState<readonly string[]>();
  const [measure, setMeasure] = useState<CurveMeasure>({ kind: 'train-loss' });
  const [smoothing, setSmoothing] = useState(DEFAULT_SMOOTHING);
  const [histories, setHistories] = useState<Map<string, StepLike[]>>(new Map());
  const [failed, setFailed] = useState(false);
  const shown = useMemo(() => chosen ?? runs.slice(0, FIRST_SHOWN).map((run) => run.runId), [chosen, runs]);
  const shownRuns = useMemo(() => runs.filter((run) => shown.includes(run.runId)), [runs, shown]);

  useEffect(() => {
    let current = true;
    readRunHistories(shownRuns.map((run) => run.runId))
      .then((read) => current && setHistories(read))
      .catch(() => current && setFailed(true));
    return () => {
      current = false;
    };
    // Read again when the runs shown change, or the library was read again (a run finished).
  }, [shown.join('\n'), runs]); // eslint-disable-line react-hooks/exhaustive-deps

  const tasks = useMemo(() => [...new Set(runs.flatMap((run) => taskNamesOf(run.recipe)))], [runs]);
  const measures: { measure: CurveMeasure; label: string }[] = [
    { measure: { kind: 'train-loss' }, label: 'Training loss (overall, per step)' },
    ...tasks.flatMap((task) => [
      { measure: { kind: 'val-loss', task } as const, label: `Validation loss: ${task}` },
      { measure: { kind: 'val-score', task } as const, label: `Validation metric: ${task}` },
    ]),
  ];
  const series = useMemo<ChartSeries[]>(() => shownRuns.map((run, index) => ({ key: `run${index}`, label: run.name || run.runId, color: seriesColor(index) })), [shownRuns]);
  const rows = useMemo(() => {
    const overlaid = overlayCurves(shownRuns.map((run, index) => ({ key: `run${index}`, points: runCurve({ history: histories.get(run.runId) ?? [], evaluations: run.evaluations }, measure) })));
    return measure.kind === 'train-loss' ? smoothRows(overlaid, series.map((s) => s.key), smoothing) : overlaid;
  }, [shownRuns, histories, measure, smoothing, series]);

  if (runs.length === 0) return null;
  const toggle = (runId: string) => setChosen(shown.includes(runId) ? shown.filter((id) => id !== runId) : [...shown, runId]);
  return (
    <section className="panel" aria-labelledby="run-curves-title">
      <h2 id="run-curves-title">Training curves of several runs</h2>
      <fieldset className="run-curves-runs">
        <legend>Runs drawn</legend>
        {runs.map((run) => (
          <label key={run.runId}>
            <input type="checkbox" checked={shown.includes(run.runId)} onChange={() => toggle(run.runId)} /> {run.name || run.runId} <small className="muted">({run.status}, {run.step} steps)</small>
          </label>
        ))}
      </fieldset>
      <div className="row">
        <Field label="Curve">
          {(props) => (
            <select {...props} value={measureId(measure)} onChange={(event) => setMeasure(measures.find((m) => measureId(m.measure) === event.target.value)!.measure)}>
              {measures.map((m) => (
                <option key={measureId(m.measure)} value={measureId(m.measure)}>
                  {m.label}
                </option>
              ))}
            </select>
          )}
        </Field>
        {measure.kind === 'train-loss' && <SmoothingControl value={smoothing} onChange={setSmoothing} />}
      </div>
      {failed && <p className="muted">The runs’ step histories could not be read from storage; validation curves come from the run records and still show.</p>}
      <LineChartPanel
        title={measures.find((m) => measureId(m.measure) === measureId(measure))?.label ?? 'Training loss'}
        rows={rows}
        x="step"
        series={series}
        {...(measure.kind === 'val-score' ? { yDomain: [0, 1] as [number, number] } : {})}
        empty={shownRuns.length === 0 ? 'Choose runs to draw.' : measure.kind === 'train-loss' ? 'These runs have no saved steps yet (steps are kept with each checkpoint).' : 'These runs have no evaluation of this task.'}
        height={280}
      />
    </section>
  );
}
