import { useState } from 'react';
import { ACTIVE_STATUSES } from '../../state/slices/train.ts';
import { useStudio } from '../../state/store.ts';
import { runBelongings } from '../../studio/library-items.ts';
import type { RunRecord } from '../../../workers/protocol.ts';
import { formatBytes, plural } from '../format.ts';
import { hrefFor } from '../routes.ts';
import { ConfirmDelete } from './ConfirmDelete.tsx';
import { RenameInPlace } from './RenameInPlace.tsx';
import { LibrarySection } from './LibraryTable.tsx';

const COLUMNS = [{ label: 'Run' }, { label: 'Status' }, { label: 'Step', number: true }, { label: 'Started' }];

/** Training runs: status, progress, when they started; their recipe as a file; delete with what they left. */
export function RunsSection() {
  const runs = useStudio((state) => state.library.runs);
  const error = useStudio((state) => state.library.sectionErrors.runs);
  return (
    <LibrarySection
      id="runs"
      title="Runs"
      error={error}
      errorTitle="The run could not be exported, renamed or deleted"
      empty={
        <>
          No runs yet. Start one on the <a href={hrefFor('train')}>Train page</a>.
        </>
      }
      columns={COLUMNS}
      rows={runs.map((run) => (
        <RunRow key={run.runId} run={run} />
      ))}
    />
  );
}

function RunRow({ run }: { run: RunRecord }) {
  const adapters = useStudio((state) => state.library.adapters);
  const checkpoints = useStudio((state) => state.library.checkpoints);
  const training = useStudio((state) => state.train.runId === run.runId && ACTIVE_STATUSES.includes(state.train.status));
  const [withBelongings, setWithBelongings] = useState(true);
  // A record still "running" that this page is not running lost its page (a reload, a crash): Train offers to resume it.
  const status = run.status === 'running' && !training ? 'interrupted' : run.status;
  const belongings = runBelongings(run.runId, adapters, checkpoints);
  const leftBehind = [
    ...(belongings.checkpoints.length > 0 ? [`its ${plural(belongings.checkpoints.length, 'checkpoint')} (${formatBytes(belongings.checkpoints.reduce((sum, checkpoint) => sum + checkpoint.bytes, 0))})`] : []),
    ...(belongings.adapters.length > 0 ? [`its ${plural(belongings.adapters.length, 'adapter')}`] : []),
  ];
  return (
    <tr>
      <th scope="row">
        {run.name || run.runId}
        <br />
        <small className="muted">
          <code>{run.runId}</code>
        </small>
      </th>
      <td>
        <span className={`run-status-tag status-${status}`}>{status}</span>
        {run.error && <small className="muted run-error"> {run.error.message}</small>}
      </td>
      <td className="number">
        {run.step} / {run.totalSteps}
      </td>
      <td>{new Date(run.startedAt).toLocaleString()}</td>
      <td className="actions">
        <button type="button" className="secondary" onClick={() => useStudio.getState().exportRunRecipe(run.runId)}>
          Download recipe.json
        </button>
        <button type="button" className="secondary" onClick={() => void useStudio.getState().exportRunMetrics(run.runId)}>
          Download metrics.csv
        </button>
        <RenameInPlace what={`run ${run.name || run.runId}`} current={run.name} disabled={training} onRename={(name) => useStudio.getState().renameRun(run.runId, name)} />
        <ConfirmDelete what={`run ${run.name || run.runId}`} disabled={training} onConfirm={() => useStudio.getState().deleteRun(run.runId, { withBelongings: withBelongings && leftBehind.length > 0 })}>
          {leftBehind.length > 0 && (
            <label className="confirm-option">
              <input type="checkbox" checked={withBelongings} onChange={(event) => setWithBelongings(event.target.checked)} /> Also delete {leftBehind.join(' and ')}
            </label>
          )}
        </ConfirmDelete>
      </td>
    </tr>
  );
}
