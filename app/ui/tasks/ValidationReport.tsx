import { useId } from 'react';
import type { ProblemKindSummary, ValidationReport as Report } from '../../data/validate.ts';
import { plural } from '../format.ts';

/** "3, 7, 12 and 40 more": the listed places, and how many the report counted beyond them. */
function places(numbers: readonly number[], total: number): string {
  const more = total - numbers.length;
  return numbers.join(', ') + (more > 0 ? ` and ${more.toLocaleString('en')} more` : '');
}

function ProblemKind({ kind }: { kind: ProblemKindSummary }) {
  return (
    <li className={`problem-kind ${kind.severity}`}>
      <p>
        <span className={`severity ${kind.severity}`}>{kind.severity}</span> <code>{kind.code}</code> × {kind.count.toLocaleString('en')}: {kind.hint}
      </p>
      {kind.lines.length > 0 && <p className="muted">Lines: {places(kind.lines, kind.count)}</p>}
      {kind.lines.length === 0 && kind.rows.length > 0 && <p className="muted">Rows: {places(kind.rows, kind.count)}</p>}
      <ul className="problem-messages">
        {kind.messages.map((message) => (
          <li key={message}>{message}</li>
        ))}
      </ul>
    </li>
  );
}

/** Every problem the importer found, each kind with its count, where it happened and what to do. */
export function ValidationReport({ report, rows }: { report: Report; rows: number }) {
  const headingId = useId();
  return (
    <section className="validation-report" aria-labelledby={headingId} data-testid="validation-report">
      <h4 id={headingId}>Validation report</h4>
      {report.kinds.length === 0 && <p className="banner ok">No problems found in {plural(rows, 'row')}.</p>}
      {report.kinds.length > 0 && (
        <p className={`banner ${report.errors > 0 ? 'error' : 'warn'}`}>
          {report.fileName}: {plural(report.errors, 'error')} in {plural(report.rowsWithErrors, 'row')}, {plural(report.warnings, 'warning')}.{' '}
          {report.fileErrors
            ? 'Some errors concern the whole file, so training would refuse it: fix the file or the settings above and import it again.'
            : report.errors > 0
              ? 'Rows with errors are left out when training prepares the task; the rest are used.'
              : 'Warnings do not stop training.'}
        </p>
      )}
      {report.kinds.length > 0 && (
        <ul className="problem-kinds">
          {report.kinds.map((kind) => (
            <ProblemKind key={kind.code} kind={kind} />
          ))}
        </ul>
      )}
    </section>
  );
}
