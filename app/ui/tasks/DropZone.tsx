import { useId, useState, type DragEvent } from 'react';

/**
 * Where a file comes in: dropped on the zone, or chosen with the button (a real file input whose
 * label is the visible button, so it is keyboard usable and its accessible name is what it says).
 */
export function DropZone({ label, accept, disabled, onFile }: { label: string; accept: string; disabled?: boolean; onFile(file: File): void }) {
  const id = useId();
  const [over, setOver] = useState(false);
  const take = (files: FileList | null) => {
    const file = files?.[0];
    if (file) onFile(file);
  };
  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setOver(false);
    if (!disabled) take(event.dataTransfer.files);
  };
  return (
    <div
      className={`drop-zone${over ? ' over' : ''}`}
      onDragOver={(event) => {
        event.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={onDrop}
      data-testid="drop-zone"
    >
      <p className="muted">Drop a task file here (JSON Lines, JSON, CSV or TSV, Parquet, plain text), or</p>
      <input
        id={id}
        className="visually-hidden"
        type="file"
        accept={accept}
        disabled={disabled}
        onChange={(event) => {
          take(event.currentTarget.files);
          event.currentTarget.value = '';
        }}
      />
      <label htmlFor={id} className={`file-button${disabled ? ' disabled' : ''}`}>
        {label}
      </label>
    </div>
  );
}
