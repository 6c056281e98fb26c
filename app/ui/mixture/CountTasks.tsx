import { useEffect, useRef, useState, type ReactNode } from 'react';
import { toErrorReport, type ErrorReport } from '../../errors.ts';
import { useStudio } from '../../state/store.ts';
import type { PrepareProgress } from '../../train/prepare.ts';
import { ErrorNotice } from '../components/ErrorNotice.tsx';
import { ProgressBar } from '../components/ProgressBar.tsx';
import { prepareProgressLabel } from '../tasks/prepare-stages.ts';

type Counting = { status: 'idle' | 'cancelled' } | { status: 'counting'; progress?: PrepareProgress } | { status: 'failed'; error: ErrorReport };

/**
 * A button that prepares tasks as training will (through loadTaskStats: download, map, tokenize) so
 * the preview gets their examples and tokens. Offered, never started on its own: it may download the
 * model and data sets. Shows each task's progress and can be cancelled; what was counted stays.
 */
export function CountTasks({ taskNames, action, failure, children }: { taskNames: readonly string[]; action: string; failure: string; children: ReactNode }) {
  const [state, setState] = useState<Counting>({ status: 'idle' });
  const abort = useRef<AbortController | undefined>(undefined);
  useEffect(() => () => abort.current?.abort(), []);

  const count = async () => {
    const controller = new AbortController();
    abort.current = controller;
    setState({ status: 'counting' });
    try {
      for (const name of taskNames) {
        await useStudio.getState().loadTaskStats(name, { signal: controller.signal, onProgress: (progress) => setState({ status: 'counting', progress }) });
      }
      setState({ status: 'idle' });
    } catch (error) {
      setState(controller.signal.aborted ? { status: 'cancelled' } : { status: 'failed', error: toErrorReport(error) });
    }
  };
  const counting = state.status === 'counting';
  return (
    <div className="count-tasks">
      {children}
      <div className="actions">
        <button type="button" className="secondary" onClick={() => void count()} disabled={counting}>
          {action}
        </button>
        {counting && (
          <button type="button" className="secondary" onClick={() => abort.current?.abort()}>
            Cancel
          </button>
        )}
      </div>
      {counting && <ProgressBar label={prepareProgressLabel(state.progress, state.progress?.task ?? taskNames.join(', '))} value={state.progress?.done ?? 0} max={state.progress?.total ?? null} />}
      {state.status === 'cancelled' && <p className="muted">Cancelled. What was downloaded is kept; counting again goes on from there.</p>}
      {state.status === 'failed' && <ErrorNotice error={state.error} title={failure} />}
    </div>
  );
}
