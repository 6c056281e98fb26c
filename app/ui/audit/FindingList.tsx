import { describeRecipeChange, type Finding } from '../../audit/index.ts';
import { useStudio } from '../../state/store.ts';

/** Findings with their severity and what to do; a recipe change is one click away. */
export function FindingList({ findings, empty }: { findings: readonly Finding[]; empty: string }) {
  if (findings.length === 0) return <p className="muted">{empty}</p>;
  return (
    <ul className="audit-findings" aria-label="Findings">
      {findings.map((finding, index) => (
        <li key={`${finding.kind}/${finding.task ?? ''}/${index}`} data-severity={finding.severity}>
          <strong>{finding.severity}</strong> {finding.message} <span className="muted">→ {finding.action}</span>
          {finding.change && (
            <button type="button" onClick={() => useStudio.getState().applyAuditChange(finding.change!)}>
              {describeRecipeChange(finding.change)}
            </button>
          )}
        </li>
      ))}
    </ul>
  );
}
