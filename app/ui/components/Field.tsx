import { useId, type ReactNode } from 'react';

/**
 * A labelled control with a short explanation. The label's text is the control's accessible name,
 * and the hint is tied to it with aria-describedby, so screen readers and tests find both.
 */
export function Field({ label, hint, children }: { label: string; hint?: ReactNode; children: (props: { id: string; 'aria-describedby'?: string }) => ReactNode }) {
  const id = useId();
  const hintId = `${id}-hint`;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children({ id, ...(hint ? { 'aria-describedby': hintId } : {}) })}
      {hint && (
        <small id={hintId} className="muted field-hint">
          {hint}
        </small>
      )}
    </div>
  );
}
