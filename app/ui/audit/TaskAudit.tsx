import type { Finding, TaskAudit as TaskAuditReport } from '../../audit/index.ts';
import { useStudio } from '../../state/store.ts';
import { AuditControls } from './AuditControls.tsx';
import { FindingList } from './FindingList.tsx';
import { TermListEditor } from './TermListEditor.tsx';

const percent = (share: number): string => `${(share * 100).toFixed(1)}%`;

/** The Tasks page's audit: each task as training will see it, and what to do about what was found. */
export function TaskAudit() {
  const report = useStudio((state) => state.audit.report);
  return (
    <div data-testid="task-audit">
      <p className="muted">Checks each task as training will see it: label balance, lengths, duplicates, personal data and bias probes.</p>
      <AuditControls />
      <TermListEditor />
      {report?.failed.map((failure) => (
        <p key={failure.task} role="alert">
          <strong>{failure.task}</strong> was not audited: {failure.message}
        </p>
      ))}
      {report && Object.values(report.tasks).map((audit) => <OneTask key={audit.task} audit={audit} findings={report.findings.filter((finding) => finding.task === audit.task && !ACROSS_TASKS.includes(finding.kind))} />)}
    </div>
  );
}

/** Shown on the Mixture page instead. */
const ACROSS_TASKS: readonly Finding['kind'][] = ['leakage', 'cross_duplicates'];

function OneTask({ audit, findings }: { audit: TaskAuditReport; findings: readonly Finding[] }) {
  return (
    <section className="audit-task" aria-label={`Audit of ${audit.task}`}>
      <h4>{audit.task}</h4>
      <dl className="audit-facts">
        <dt>Rows</dt>
        <dd>
          {audit.train_rows} training, {audit.validation_rows} validation
        </dd>
        {audit.label_counts && (
          <>
            <dt>Labels (training)</dt>
            <dd>{Object.entries(audit.label_counts).map(([label, count]) => `${label} ${count}`).join(', ')}</dd>
            <dt>Labels (validation)</dt>
            <dd>{Object.entries(audit.validation_label_counts ?? {}).map(([label, count]) => `${label} ${count}`).join(', ') || 'none'}</dd>
            <dt>Bar to beat</dt>
            <dd>
              always “{audit.majority!.label}”: {percent(audit.majority!.validation_accuracy ?? audit.majority!.train_accuracy)} accuracy
            </dd>
          </>
        )}
        <dt>Tokens per row</dt>
        <dd>
          median {audit.lengths.p50}, 90% ≤ {audit.lengths.p90}, 99% ≤ {audit.lengths.p99}, longest {audit.lengths.max}; {percent(audit.lengths.truncated_share)} cut at max_length; {percent(audit.lengths.loss_token_share)} of tokens carry loss
        </dd>
        <dt>Duplicates</dt>
        <dd>
          {audit.duplicates.exact} exact, {audit.duplicates.near} near
        </dd>
        <dt>Personal data</dt>
        <dd>
          {audit.pii.email} e-mail, {audit.pii.phone} phone, {audit.pii.card} card-like, {audit.pii.url} URL
        </dd>
        <dt>Bias probes</dt>
        <dd>
          {audit.bias_tested} terms tested, {audit.bias_flags.length} flagged (chi-square, p &lt; {audit.bias_level.toExponential(1)})
        </dd>
      </dl>
      {audit.bias_flags.map((flag) => (
        <details key={flag.term}>
          <summary>
            “{flag.term}” ({flag.category}): {Object.entries(flag.label_counts).map(([label, count]) => `${label} ${count}`).join(', ')} — p = {flag.p_value.toExponential(2)}
          </summary>
          <ul>
            {flag.examples.map((example) => (
              <li key={`${example.part}/${example.row}`}>
                row {example.row}: {example.text}
              </li>
            ))}
          </ul>
        </details>
      ))}
      <FindingList findings={findings} empty="Nothing to act on." />
    </section>
  );
}
