import type { TrainRun, TrainStage } from '../../state/slices/train.ts';
import { useStudio } from '../../state/store.ts';
import { formatNumber } from '../charts/format.ts';
import { ProgressBar } from '../components/ProgressBar.tsx';
import { formatBytes } from '../format.ts';

const STAGES: readonly { stage: TrainStage; label: string }[] = [
  { stage: 'model', label: 'Model' },
  { stage: 'data', label: 'Data' },
  { stage: 'train', label: 'Train' },
  { stage: 'evaluate', label: 'Evaluate' },
  { stage: 'export', label: 'Export' },
];

const STAGE_DOING: Record<TrainStage, string> = {
  model: 'loading the model',
  data: 'preparing the tasks',
  train: 'training',
  evaluate: 'final evaluation',
  export: 'exporting the adapters',
};

const PREPARE_DOING = { import: 'reading', map: 'mapping columns', tokenize: 'tokenizing' } as const;

/** How the stage the run is at looks: going on, or where it stopped. */
function stageState(status: TrainRun['status']): 'current' | 'failed' | 'stopped' {
  if (status === 'running' || status === 'pausing' || status === 'watching') return 'current';
  return status === 'failed' ? 'failed' : 'stopped';
}

/** The run's state in one sentence, for the status line. */
export function describeRun(run: TrainRun): string {
  const steps = run.totalSteps ? `step ${run.step} of ${run.totalSteps}` : `step ${run.step}`;
  switch (run.status) {
    case 'idle':
      return 'No run yet.';
    case 'running':
      // An evaluation in the middle of training is a stage of its own, not a step frozen for minutes.
      if (run.evaluating) {
        const { task, done, total } = run.evaluating;
        return `Running: ${run.stage === 'evaluate' ? 'final evaluation, ' : ''}evaluating ${task}, ${done} of ${total}${run.stage === 'evaluate' ? '' : ` (after ${steps})`}.`;
      }
      return run.stage ? `Running: ${STAGE_DOING[run.stage]}${run.stage === 'train' ? `, ${steps}` : ''}.` : 'Starting…';
    case 'pausing':
      return `Pausing at ${steps}: saving a checkpoint…`;
    case 'paused':
      return `Paused at ${steps}. Resume continues from its checkpoint.`;
    case 'watching':
      return `Training in another tab of this studio: ${steps}. Shown here read-only and live; take it over here once that tab is closed.`;
    case 'interrupted':
      return `This run stopped when the page was closed or reloaded. Resume continues from its last checkpoint, ${run.checkpointStep ? `step ${run.checkpointStep}` : 'or from the start if it saved none'}, of ${run.totalSteps}.`;
    case 'completed':
      return `Completed: ${run.step} steps.`;
    case 'failed':
      return `Stopped by an error at ${steps}.${run.checkpointStep ? ` Resume continues from its checkpoint, step ${run.checkpointStep}.` : ''}`;
    case 'cancelled':
      return `Cancelled at ${steps}.${run.checkpointStep ? ` Resume continues from its checkpoint, step ${run.checkpointStep}.` : ''}`;
  }
}

/**
 * The stage the run is at: an evaluation in the middle of training is the Evaluate stage while it lasts
 * (training is waiting for it), so the stages do not show a training step frozen for minutes.
 */
export function currentStage(run: TrainRun): TrainStage | undefined {
  return run.status === 'running' && run.evaluating ? 'evaluate' : run.stage;
}

/** Status line, stages, data preparation and step progress with ETA, and the latest step's numbers. */
export function RunProgress() {
  const run = useStudio((state) => state.train);
  return <RunProgressView run={run} />;
}

export function RunProgressView({ run }: { run: TrainRun }) {
  const stage = currentStage(run);
  const stageIndex = stage ? STAGES.findIndex((s) => s.stage === stage) : -1;
  const finished = run.status === 'completed';
  const last = run.history.at(-1);
  return (
    <div className="run-progress">
      <p className="run-status" role="status">
        {run.name && <strong>{run.name}: </strong>}
        {describeRun(run)}
      </p>
      {(finished || stageIndex >= 0) && (
        <ol className="stages" aria-label="Run stages">
          {STAGES.map(({ stage, label }, i) => {
            const state = finished || i < stageIndex ? 'done' : i === stageIndex ? stageState(run.status) : 'todo';
            return (
              <li key={stage} className={`stage ${state}`} aria-current={state === 'current' ? 'step' : undefined}>
                {label}
                {state === 'failed' && ': failed'}
              </li>
            );
          })}
        </ol>
      )}
      {run.status === 'running' && run.stage === 'data' && run.prepare && (
        <ProgressBar label="Data preparation" value={run.prepare.done} max={run.prepare.total || null} detail={`${run.prepare.task}: ${PREPARE_DOING[run.prepare.stage]} ${run.prepare.done.toLocaleString()} of ${run.prepare.total.toLocaleString()}`} />
      )}
      {run.status === 'running' && run.evaluating && (
        <ProgressBar label="Evaluation progress" value={run.evaluating.done} max={run.evaluating.total || null} detail={`${run.evaluating.task}: ${run.evaluating.done} of ${run.evaluating.total} examples`} />
      )}
      {run.notices?.map((notice) => (
        <p key={notice} className="banner warn">
          {notice}
        </p>
      ))}
      {(run.status === 'running' || run.status === 'pausing' || run.status === 'watching' || run.step > 0) && (
        <ProgressBar
          label="Training progress"
          value={run.step}
          max={run.totalSteps || null}
          detail={run.totalSteps ? `step ${run.step} of ${run.totalSteps}` : undefined}
          {...(run.status === 'running' && stage === 'train' && run.etaSeconds !== undefined ? { etaSeconds: run.etaSeconds } : {})}
        />
      )}
      {last && (
        <dl className="facts run-facts">
          <dt>Loss</dt>
          <dd>{last.loss === null ? 'skipped (not finite)' : formatNumber(last.loss)}</dd>
          <dt>Learning rate</dt>
          <dd>{formatNumber(last.lr)}</dd>
          <dt>Gradient norm</dt>
          <dd>{last.gradNorm === null ? '—' : formatNumber(last.gradNorm)}</dd>
          {run.tokensPerSecond !== undefined && (
            <>
              <dt>Tokens per second</dt>
              <dd>{formatNumber(run.tokensPerSecond)}</dd>
            </>
          )}
          {run.gpuBytes !== undefined && (
            <>
              <dt>GPU memory</dt>
              <dd>{formatBytes(run.gpuBytes)}</dd>
            </>
          )}
        </dl>
      )}
    </div>
  );
}
