import { useStudio } from '../../state/store.ts';
import { AuditControls } from './AuditControls.tsx';
import { FindingList } from './FindingList.tsx';

/** The Mixture page's audit: what the mixture makes of each task's size, and what the tasks share. */
export function MixtureAudit() {
  const report = useStudio((state) => state.audit.report);
  const acrossTasks = report?.findings.filter((finding) => finding.task === null || finding.kind === 'size' || finding.kind === 'leakage' || finding.kind === 'cross_duplicates' || finding.kind === 'prepare') ?? [];
  return (
    <div data-testid="mixture-audit">
      <p className="muted">The audit across tasks: how often each task will be seen, duplicates between tasks, and validation rows that also appear in training.</p>
      <AuditControls />
      {report && (
        <>
          <table aria-label="Tasks under this mixture">
            <thead>
              <tr>
                <th scope="col">Task</th>
                <th scope="col">Training rows</th>
                <th scope="col">Examples drawn</th>
                <th scope="col">Times seen</th>
              </tr>
            </thead>
            <tbody>
              {Object.values(report.tasks).map((audit) => (
                <tr key={audit.task}>
                  <td>{audit.task}</td>
                  <td>{audit.train_rows}</td>
                  <td>{audit.expected_examples === null ? '–' : Math.round(audit.expected_examples)}</td>
                  <td>{audit.expected_epochs === null ? '–' : audit.expected_epochs.toFixed(2)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {report.cross.leakage.map((entry) => (
            <details key={`${entry.train_task}/${entry.validation_task}`}>
              <summary>
                Leakage: {entry.count} validation row(s) of {entry.validation_task} in the training rows of {entry.train_task}
              </summary>
              <ul>
                {entry.examples.map((example) => (
                  <li key={example.validation_row}>
                    validation row {example.validation_row} = training row {example.train_row}: {example.text}
                  </li>
                ))}
              </ul>
            </details>
          ))}
          {report.cross.duplicates.map((entry) => (
            <p key={`${entry.task_a}/${entry.task_b}`}>
              {entry.count} training input(s) of {entry.task_b} also in {entry.task_a}
            </p>
          ))}
          <FindingList findings={acrossTasks} empty="Nothing to act on across tasks." />
        </>
      )}
    </div>
  );
}
