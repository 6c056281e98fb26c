import { useStudio } from '../../state/store.ts';
import { ErrorNotice } from '../components/ErrorNotice.tsx';

/** The bias probes' identity terms, editable; a line that does not parse is reported with its number. */
export function TermListEditor() {
  const terms = useStudio((state) => state.audit.terms);
  const error = useStudio((state) => state.audit.termsError);
  return (
    <details className="audit-terms">
      <summary>Identity terms probed for bias</summary>
      <p className="muted">One category per line: “category: term, term, …”. Lines starting with # are comments. See docs/audit-and-adaptive-mixing.md for what a probe can and cannot tell.</p>
      <textarea aria-label="Identity terms" rows={7} value={terms} onChange={(event) => useStudio.getState().setAuditTerms(event.target.value)} spellCheck={false} />
      {error && <ErrorNotice error={error} title="The term list does not parse" />}
    </details>
  );
}
