import { useEffect, useMemo } from 'react';
import { DESIGNS, type BudgetRule, type DesignName } from '../../experiment/design.ts';
import { estimatedSeconds, experimentSize, longExperimentWarning } from '../../experiment/estimate.ts';
import { experimentSpecOf } from '../../state/slices/experiment.ts';
import { useStudio } from '../../state/store.ts';
import { ErrorNotice } from '../components/ErrorNotice.tsx';
import { Field } from '../components/Field.tsx';
import { formatDuration, ProgressBar } from '../components/ProgressBar.tsx';
import { ArmsTable, ExportButtons, IncrementalCurve, LeaveOneOut, Recommendation, SynergyHeatmap } from '../experiments/ExperimentResults.tsx';
import { navigate } from '../routes.ts';

const DESIGN_HELP: Record<DesignName, string> = {
  single: 'each task alone',
  all: 'every task together',
  'leave-one-out': 'all tasks but one, for each task',
  pairs: 'each target with each other task (synergy matrix)',
  incremental: 'targets, then add tasks in order',
  greedy: 'add the task that helps most, while it helps beyond its interval',
  custom: 'task sets you list',
};

/** A run's arms as the runner names them: one arm ("a+b"), or single-task arms trained together ("a | b"). */
function runLabel(arms: string): string {
  const together = arms.split(' | ');
  return together.length > 1 ? `single-task arms ${together.join(', ')} (one run, an adapter each)` : `arm ${arms}`;
}

/**
 * Experiments: which of the recipe's tasks help the target tasks. The page designs an experiment on
 * the studio's recipe (targets, designs, seeds, budget), shows its size and an estimated time, runs,
 * pauses and resumes it in the engine worker, and fills the results in as arms finish.
 */
export function ExperimentsPage() {
  const recipe = useStudio((state) => state.recipe);
  const experiment = useStudio((state) => state.experiment);
  const tokensPerSecond = useStudio((state) => state.train.history.at(-1)?.tokensPerSecond ?? null);
  const { form, status, report, request } = experiment;
  const locked = request !== undefined;
  const candidates = recipe.tasks.filter((task) => task.role !== 'regularizer').map((task) => task.name);

  useEffect(() => {
    void useStudio.getState().restoreExperiment();
  }, []);

  const sizing = useMemo((): { arms: number; runs: number; steps: number; together: number; seconds?: number; warning?: string; problem?: undefined } | { problem: string } => {
    try {
      const spec = experimentSpecOf(recipe, form);
      const seconds = tokensPerSecond ? estimatedSeconds(spec, tokensPerSecond) : undefined;
      const warning = seconds === undefined ? undefined : longExperimentWarning(seconds);
      return { ...experimentSize(spec), ...(seconds === undefined ? {} : { seconds }), ...(warning ? { warning } : {}) };
    } catch (error) {
      return { problem: (error as Error).message };
    }
  }, [form, recipe, tokensPerSecond]);

  const set = useStudio.getState().setExperimentForm;
  const toggle = <T,>(list: readonly T[], item: T) => (list.includes(item) ? list.filter((x) => x !== item) : [...list, item]);
  const name = request?.id ?? 'experiment';

  return (
    <div className="experiments-page">
      <section className="panel" aria-labelledby="experiments-title">
        <h2 id="experiments-title">Experiments</h2>
        <p className="muted">
          Which of the recipe’s tasks help your target tasks? Each arm trains one set of tasks with the recipe’s settings, once per seed; results come with 95% intervals, and the
          recommended cocktail is chosen on a selection part of the validation data and reported on the rest.
        </p>
        {locked && status !== 'idle' && (
          <p>
            Experiment <strong>{request.id}</strong> ({status}). Its recipe is fixed: changing the studio’s recipe does not change it.{' '}
            {status !== 'running' && (
              <button type="button" className="secondary" onClick={() => useStudio.getState().newExperiment()}>
                New experiment
              </button>
            )}
          </p>
        )}
        <fieldset disabled={locked}>
          <legend>Targets (whose metrics decide)</legend>
          {candidates.length === 0 && <p className="muted">Add tasks to the recipe on the Tasks page first.</p>}
          {candidates.map((task) => (
            <label key={task} className="checkbox">
              <input type="checkbox" checked={form.targets.includes(task)} onChange={() => set({ targets: toggle(form.targets, task) })} /> {task}
            </label>
          ))}
        </fieldset>
        <fieldset disabled={locked}>
          <legend>Design</legend>
          {DESIGNS.map((design) => (
            <label key={design} className="checkbox">
              <input type="checkbox" checked={form.designs.includes(design)} onChange={() => set({ designs: toggle(form.designs, design) })} /> {design} <small className="muted">({DESIGN_HELP[design]})</small>
            </label>
          ))}
        </fieldset>
        <div className="row">
          <Field label="Seeds" hint="Each arm is trained once per seed (replicates).">
            {(props) => <input {...props} type="number" min={1} max={20} disabled={locked} value={form.seeds} onChange={(event) => set({ seeds: Number(event.target.value) })} />}
          </Field>
          <Field label="Budget" hint="Same optimizer steps per arm, or the same number of target examples seen.">
            {(props) => (
              <select {...props} disabled={locked} value={form.budget} onChange={(event) => set({ budget: event.target.value as BudgetRule })}>
                <option value="steps">same steps</option>
                <option value="target-examples">same target examples</option>
              </select>
            )}
          </Field>
          {form.designs.includes('incremental') && (
            <Field label="Incremental order" hint="Task names, comma-separated; empty: the recipe’s order.">
              {(props) => <input {...props} disabled={locked} value={form.order} onChange={(event) => set({ order: event.target.value })} />}
            </Field>
          )}
          {form.designs.includes('custom') && (
            <Field label="Custom task sets" hint="Sets separated by commas, a set’s tasks joined with +: “fpb+tweets, fpb+alpaca”.">
              {(props) => <input {...props} disabled={locked} value={form.custom} placeholder="fpb+tweets, fpb+alpaca" onChange={(event) => set({ custom: event.target.value })} />}
            </Field>
          )}
        </div>
        {!locked &&
          (sizing.problem !== undefined ? (
            <p className="muted" role="status">
              {sizing.problem}
            </p>
          ) : (
            <p role="status" className="experiment-size">
              {sizing.arms} arms × {form.seeds} seeds in {sizing.runs} training runs
              {sizing.together > 0 ? ` (the ${sizing.together} single-task arms of a seed train in one run, an adapter each)` : ''}, about {sizing.steps} optimizer steps
              {form.designs.includes('greedy') ? ' (greedy adds runs as it goes)' : ''}
              {form.budget === 'target-examples' ? ' (mixtures train longer under this budget)' : ''}.{' '}
              {sizing.seconds !== undefined
                ? `Estimated time: at most ${formatDuration(sizing.seconds)} at the last run’s speed.`
                : 'The time is estimated from the measured speed once the first arm runs.'}
              {sizing.warning && <strong className="warning"> {sizing.warning}</strong>}
            </p>
          ))}
        <div className="row">
          {!locked && (
            <button type="button" disabled={sizing.problem !== undefined} onClick={() => void useStudio.getState().startExperiment()}>
              Start experiment
            </button>
          )}
          {status === 'running' && (
            <>
              <button type="button" onClick={() => void useStudio.getState().pauseExperiment()}>
                Pause
              </button>
              <button type="button" className="secondary" onClick={() => useStudio.getState().cancelExperiment()}>
                Cancel
              </button>
            </>
          )}
          {locked && (status === 'paused' || status === 'failed' || status === 'cancelled') && (
            <button type="button" onClick={() => void useStudio.getState().resumeExperiment()}>
              Resume experiment
            </button>
          )}
        </div>
        {experiment.error && <ErrorNotice error={experiment.error} title="The experiment could not run" />}
        {experiment.warning && <p className="warning">{experiment.warning}</p>}
        {status === 'running' && (
          <div aria-live="polite">
            {experiment.current ? (
              <>
                <ProgressBar label={`Run ${experiment.current.run} of ${experiment.current.runs}: ${runLabel(experiment.current.arm)}, seed ${experiment.current.seed}`} value={experiment.step?.step ?? 0} max={experiment.step?.totalSteps ?? null} {...(experiment.step ? { etaSeconds: experiment.step.armEtaSeconds } : {})} />
                {experiment.step && <p className="muted">Experiment: about {formatDuration(experiment.step.etaSeconds)} left at {Math.round(experiment.step.tokensPerSecond)} tokens/s.</p>}
              </>
            ) : (
              <p className="muted">{experiment.stage ? `Preparing: ${experiment.stage}…` : 'Starting…'}</p>
            )}
          </div>
        )}
      </section>
      {report && request && (
        <section className="panel" aria-labelledby="experiment-results-title">
          <h2 id="experiment-results-title">Results</h2>
          {report.arms.length === 0 ? (
            <p className="muted">No arm has finished yet.</p>
          ) : (
            <>
              <p className="muted">
                Budget: {report.budget === 'steps' ? 'the same optimizer steps per arm' : 'the same number of target examples per arm'}. {report.arms.length} arms finished under every seed.
              </p>
              <ArmsTable report={report} experimentId={request.id} />
              <Recommendation
                report={report}
                onTrain={() => {
                  if (report.recommended) useStudio.getState().setRecipe(report.recommended.recipe);
                  navigate('train');
                }}
              />
              <SynergyHeatmap report={report} />
              <IncrementalCurve report={report} />
              <LeaveOneOut report={report} />
              <ExportButtons report={report} name={name} />
            </>
          )}
        </section>
      )}
    </div>
  );
}
