import type { EvaluationState } from '../../state/slices/evaluate.ts';
import { useStudio } from '../../state/store.ts';
import { waitingFor } from '../../studio/gpu-jobs.ts';
import { ErrorNotice } from '../components/ErrorNotice.tsx';
import { ProgressBar } from '../components/ProgressBar.tsx';

const STAGE_DOING: Record<NonNullable<EvaluationState['stage']>, string> = {
  model: 'loading the model',
  data: 'preparing the tasks',
  train: 'preparing',
  evaluate: 'scoring the validation examples',
  export: 'finishing',
};

/** The evaluation in flight (stage, data preparation, Cancel), or how the last one ended. */
export function EvaluationProgress() {
  const evaluation = useStudio((state) => state.evaluation);
  const { status, label, stage, prepare, evaluating, job, jobs, error, waitingBehind } = evaluation;
  if (status === 'idle') return null;
  if (status === 'running') {
    const part = jobs > 1 ? ` (task ${job} of ${jobs})` : '';
    return (
      <div className="eval-progress">
        <p role="status">
          Evaluating {label}
          {part}: {waitingBehind ? waitingFor(waitingBehind) : evaluating && stage === 'evaluate' ? `evaluating ${evaluating.task}, ${evaluating.done} of ${evaluating.total}…` : `${stage ? STAGE_DOING[stage] : 'starting'}…`}
        </p>
        {stage === 'evaluate' && evaluating ? (
          <ProgressBar label={`Evaluating ${evaluating.task}`} value={evaluating.done} max={evaluating.total || null} detail={`${evaluating.done} of ${evaluating.total} examples`} />
        ) : prepare && prepare.total > 0 ? (
          <ProgressBar label={`Preparing ${prepare.task}`} value={prepare.done} max={prepare.total} />
        ) : (
          <ProgressBar label="Evaluation progress" value={0} max={null} />
        )}
        <button type="button" className="secondary" onClick={() => useStudio.getState().cancelEvaluation()}>
          Cancel evaluation
        </button>
      </div>
    );
  }
  if (status === 'done') return <p role="status">Evaluated {label}: its results are below and among the evaluations to compare.</p>;
  if (status === 'cancelled') return <p role="status">The evaluation of {label} was cancelled.</p>;
  return error ? <ErrorNotice error={error} title={`Evaluating ${label} failed`} /> : null;
}
