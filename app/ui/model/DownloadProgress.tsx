import { useStudio } from '../../state/store.ts';
import { ProgressBar } from '../components/ProgressBar.tsx';
import { formatBytes } from '../format.ts';

/** The download in progress: the file, its size, speed and time left, and Cancel. */
export function DownloadProgress() {
  const { status, download, importProgress, request } = useStudio((state) => state.model);
  if (status !== 'loading' && status !== 'importing') return null;
  const cancel = (
    <button type="button" className="secondary" onClick={() => useStudio.getState().cancelModelLoad()}>
      Cancel
    </button>
  );
  if (status === 'importing') {
    return (
      <div className="model-progress" data-testid="model-progress">
        {importProgress ? (
          <ProgressBar label={`Copying ${importProgress.file} into storage`} value={importProgress.loaded} max={importProgress.total} bytes={{ done: importProgress.loaded, total: importProgress.total }} />
        ) : (
          <p aria-live="polite">Checking the files of {request?.source}…</p>
        )}
        {cancel}
      </div>
    );
  }
  return (
    <div className="model-progress" data-testid="model-progress">
      {download ? (
        <ProgressBar
          label={`Downloading ${download.file}`}
          value={download.loaded}
          max={download.total}
          bytes={{ done: download.loaded, total: download.total }}
          {...(download.etaSeconds !== undefined ? { etaSeconds: download.etaSeconds } : {})}
          detail={`${download.bytesPerSecond !== undefined ? `${formatBytes(download.bytesPerSecond)}/s, ` : ''}${formatBytes(download.downloaded)} downloaded in this load`}
        />
      ) : (
        <p aria-live="polite">Looking for {request?.source} in storage and on the Hub…</p>
      )}
      {cancel}
    </div>
  );
}
