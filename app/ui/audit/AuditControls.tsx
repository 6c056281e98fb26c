import { useStudio } from '../../state/store.ts';
import { ErrorNotice } from '../components/ErrorNotice.tsx';
import { ProgressBar } from '../components/ProgressBar.tsx';

/** Runs the data audit of the recipe (in the worker), with progress, Cancel and the error if it fails. */
export function AuditControls() {
  const audit = useStudio((state) => state.audit);
  const running = audit.status === 'running';
  const progress = audit.progress;
  return (
    <div className="audit-controls">
      <button type="button" onClick={() => void useStudio.getState().runAudit()} disabled={running || audit.termsError !== undefined}>
        {audit.report ? 'Audit again' : 'Audit the data'}
      </button>
      {running && (
        <button type="button" onClick={() => useStudio.getState().cancelAudit()}>
          Cancel
        </button>
      )}
      {running && progress && <ProgressBar label={progress.stage === 'cross' ? 'Comparing tasks' : `${progress.stage === 'prepare' ? 'Preparing' : 'Auditing'} ${progress.task}`} value={progress.done} max={progress.total || null} />}
      {audit.status === 'cancelled' && <p className="muted">The audit was cancelled.</p>}
      {audit.error && <ErrorNotice error={audit.error} title="The audit failed" />}
    </div>
  );
}
