import { useState } from 'react';

/**
 * A Rename button that turns into a name field in place, with Save and Cancel (Escape cancels,
 * Enter saves). What is wrong with a name is said by the section's error, from the slice.
 */
export function RenameInPlace({ what, current, onRename, disabled }: { what: string; current: string; onRename(name: string): Promise<void>; disabled?: boolean }) {
  const [name, setName] = useState<string>();
  const [busy, setBusy] = useState(false);
  if (name === undefined) {
    return (
      <button type="button" className="secondary" disabled={disabled} onClick={() => setName(current)}>
        Rename
      </button>
    );
  }
  return (
    <form
      className="rename-in-place"
      aria-label={`Rename ${what}`}
      onSubmit={async (event) => {
        event.preventDefault();
        setBusy(true);
        try {
          await onRename(name);
        } finally {
          setBusy(false);
          setName(undefined);
        }
      }}
      onKeyDown={(event) => {
        if (event.key === 'Escape') setName(undefined);
      }}
    >
      <label>
        <span className="visually-hidden">New name of {what}</span>
        <input type="text" value={name} autoFocus disabled={busy} onChange={(event) => setName(event.target.value)} />
      </label>
      <button type="submit" disabled={busy}>
        Save name
      </button>
      <button type="button" className="secondary" disabled={busy} onClick={() => setName(undefined)}>
        Cancel
      </button>
    </form>
  );
}
