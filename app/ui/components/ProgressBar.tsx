import { formatBytes } from '../format.ts';

/** A labelled progress bar with an optional byte count, speed and ETA (for downloads and training). */
export function ProgressBar({
  label,
  value,
  max,
  bytes,
  etaSeconds,
  detail,
}: {
  label: string;
  value: number;
  max: number | null;
  bytes?: { done: number; total: number | null };
  etaSeconds?: number;
  detail?: string;
}) {
  const percent = max ? Math.min(100, (100 * value) / max) : undefined;
  return (
    <div className="progress" aria-live="polite">
      <progress aria-label={label} max={max ?? undefined} value={max ? value : undefined} />
      <span className="muted">
        {' '}
        {label}
        {percent !== undefined && `: ${percent.toFixed(0)}%`}
        {bytes && ` — ${formatBytes(bytes.done)}${bytes.total ? ` of ${formatBytes(bytes.total)}` : ''}`}
        {etaSeconds !== undefined && Number.isFinite(etaSeconds) && ` — ${formatDuration(etaSeconds)} left`}
        {detail && ` — ${detail}`}
      </span>
    </div>
  );
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '—';
  if (seconds < 60) return `${Math.ceil(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}
