import { useState } from 'react';
import { ACTIVE_STATUSES, canResume } from '../../state/slices/train.ts';
import { useStudio } from '../../state/store.ts';

/**
 * Start, Pause, Resume and Cancel. Start needs a recipe without problems; Pause needs the training
 * loop to be running (before it, stopping is a cancel); Cancel asks first, since the steps since
 * the last checkpoint are lost. A run another tab trains is read-only: it can only be taken over.
 */
export function RunControls() {
  const status = useStudio((state) => state.train.status);
  const stage = useStudio((state) => state.train.stage);
  const checkpointStep = useStudio((state) => state.train.checkpointStep);
  const ownedElsewhere = useStudio((state) => state.train.error?.code === 'RUN_OWNED_ELSEWHERE');
  const blocked = useStudio((state) => state.recipeProblems.length > 0);
  const [confirming, setConfirming] = useState(false);
  const active = ACTIVE_STATUSES.includes(status);
  const resumable = canResume({ status, ...(checkpointStep === undefined ? {} : { checkpointStep }) });
  const { startTraining, pauseTraining, resumeTraining, cancelTraining } = useStudio.getState();

  if (confirming && active) {
    return (
      <div className="row run-controls" role="group" aria-labelledby="cancel-question">
        <span id="cancel-question">
          Cancel this run? {checkpointStep ? `It keeps its checkpoint of step ${checkpointStep}; later steps are lost.` : 'Its progress is lost.'}
        </span>
        <button
          type="button"
          onClick={() => {
            setConfirming(false);
            cancelTraining();
          }}
        >
          Yes, cancel the run
        </button>
        <button type="button" className="secondary" autoFocus onClick={() => setConfirming(false)}>
          Keep training
        </button>
      </div>
    );
  }

  if (status === 'watching') {
    // Read-only: another tab trains this run; this one can only wait to take it over.
    return (
      <div className="row run-controls">
        <button type="button" className="secondary" onClick={() => void resumeTraining({ takeOver: true })}>
          Take over when the other tab closes
        </button>
      </div>
    );
  }

  return (
    <div className="row run-controls">
      {!active && (
        <button type="button" className={resumable ? 'secondary' : undefined} disabled={blocked} onClick={() => void startTraining()}>
          {resumable || status === 'completed' || status === 'failed' || status === 'cancelled' ? 'Start a new run' : 'Start'}
        </button>
      )}
      {resumable && (
        <button type="button" onClick={() => void resumeTraining()}>
          {checkpointStep ? `Resume from step ${checkpointStep}` : 'Resume'}
        </button>
      )}
      {resumable && ownedElsewhere && (
        <button type="button" className="secondary" onClick={() => void resumeTraining({ takeOver: true })}>
          Take over when the other tab closes
        </button>
      )}
      {active && (
        <button type="button" className="secondary" disabled={status === 'pausing' || stage !== 'train'} onClick={() => void pauseTraining()}>
          {status === 'pausing' ? 'Pausing…' : 'Pause'}
        </button>
      )}
      {active && (
        <button type="button" className="secondary" onClick={() => setConfirming(true)}>
          Cancel
        </button>
      )}
    </div>
  );
}
