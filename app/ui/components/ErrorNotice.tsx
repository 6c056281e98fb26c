import type { ErrorReport } from '../../errors.ts';

/**
 * An error shown where it happened: what went wrong (the engine's message names the file, field or
 * limit), and what to do next. `action` offers the obvious next step (retry, open files, ...).
 */
export function ErrorNotice({ error, title, action, advice: pageAdvice }: { error: ErrorReport; title?: string; action?: { label: string; run(): void }; advice?: string }) {
  // A page that knows better what to do next (a 404 on its own download, say) gives its own advice.
  const advice = pageAdvice ?? adviceFor(error);
  return (
    <div role="alert" className="banner error error-notice">
      {title && <strong>{title}: </strong>}
      <span className="error-message">{error.message}</span>
      {advice && <p className="error-advice">{advice}</p>}
      {action && (
        <button type="button" className="secondary" onClick={action.run}>
          {action.label}
        </button>
      )}
    </div>
  );
}

/** What to do next, for failures whose message alone does not say it. */
export function adviceFor(error: ErrorReport): string | undefined {
  switch (error.code) {
    case 'HUB_NETWORK':
    case 'HUB_INTERRUPTED':
    case 'HUB_HTTP':
      return 'Check the network connection (or the Hub endpoint in Settings) and try again: what was downloaded so far is kept, and the download resumes from there. Without a network, open the model from local files.';
    case 'WORKER_CRASHED':
    case 'WORKER_STOPPED':
      return 'Reload the page. Imported files, models, checkpoints and adapters are kept in this browser’s storage.';
    case 'HUB_NOT_CACHED':
      return 'This model is not in the offline cache yet. Connect to the network once to download it, or open it from local files on the Model page.';
    case 'HUB_FORBIDDEN':
      return 'This repository is gated or private on the Hub. Accept its licence on its Hub page, then give an access token on the Model page (Access token) and try again; or open the files from your disk.';
    case 'DEVICE_LOST':
      return 'The GPU was reset (a driver update, sleep, or too much memory asked of it). Try again; if it repeats, lower the batch size or the sequence length.';
    case 'OUT_OF_MEMORY':
      return 'The GPU ran out of memory. Lower the batch size, the sequence length or the LoRA rank, or turn on recomputation; the Model page’s planner shows what fits.';
    case 'STORAGE_UNAVAILABLE':
    case 'QUOTA_EXCEEDED':
      return 'The browser refused more storage. Delete models, data sets or runs you no longer need on the Library page, or allow persistent storage.';
    case 'CANCELLED':
      return undefined;
    case 'INTERNAL':
      return 'This is a bug in Cocktail Studio. The rest of the studio keeps working; please report the message above.';
    default:
      return undefined;
  }
}
