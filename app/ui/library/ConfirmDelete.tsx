import { useState, type ReactNode } from 'react';

/**
 * A Delete button that asks first, in place: "Delete X?" with Delete and Cancel (Escape cancels too),
 * plus any options the caller adds (a run's checkpoint and adapters, say). Focus moves to the
 * confirming button, so the keyboard path is Delete, Enter.
 */
export function ConfirmDelete({ what, onConfirm, disabled, children }: { what: string; onConfirm(): Promise<void> | void; disabled?: boolean; children?: ReactNode }) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  if (!asking) {
    return (
      <button type="button" className="secondary" disabled={disabled} onClick={() => setAsking(true)}>
        Delete
      </button>
    );
  }
  return (
    <div
      className="confirm-delete"
      role="group"
      aria-label={`Delete ${what}?`}
      onKeyDown={(event) => {
        if (event.key === 'Escape') setAsking(false);
      }}
    >
      <span>Delete {what}?</span>
      {children}
      <button
        type="button"
        className="danger"
        autoFocus
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          try {
            await onConfirm();
          } finally {
            setBusy(false);
            setAsking(false);
          }
        }}
      >
        Yes, delete
      </button>
      <button type="button" className="secondary" disabled={busy} onClick={() => setAsking(false)}>
        Cancel
      </button>
    </div>
  );
}
