import { STORE_NAMES } from '../store/storage.ts';
import { useStudio, type AppState } from '../state/store.ts';
import { formatBytes } from './format.ts';

const PERSISTENCE_TEXT: Record<AppState['storage']['persistence'], string> = {
  unknown: 'Checking…',
  persisted: 'Persistent: the browser will not evict the studio’s data under storage pressure.',
  'best-effort': 'Best effort: the browser may evict the studio’s data when disk space runs low.',
  refused: 'The browser refused persistent storage; data stays, but may be evicted when disk space runs low.',
  unsupported: 'This browser cannot make storage persistent.',
};

export function StoragePanel() {
  const { estimate, persistence, perStore, error } = useStudio((state) => state.storage);
  return (
    <section className="panel" aria-labelledby="storage-title">
      <h2 id="storage-title">Storage</h2>
      {estimate && (
        <>
          <p data-testid="storage-estimate">
            {formatBytes(estimate.usage)} used of {formatBytes(estimate.quota)} available to the studio
          </p>
          <meter min={0} max={estimate.quota || 1} value={estimate.usage} aria-label="Storage used" />
        </>
      )}
      <p role="status" data-testid="persistence">
        {PERSISTENCE_TEXT[persistence]}
      </p>
      {persistence === 'best-effort' && (
        <button type="button" onClick={() => void useStudio.getState().requestPersistence()}>
          Ask for persistent storage
        </button>
      )}
      {error && <p className="banner error">{error.message}</p>}
      {perStore && (
        <table className="limits">
          <tbody>
            {STORE_NAMES.map((name) => (
              <tr key={name}>
                <th scope="row">{name}</th>
                <td>
                  {perStore[name].items} items, {formatBytes(perStore[name].bytes)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
