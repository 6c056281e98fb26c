import { useEffect } from 'react';
import { useStudio } from '../../state/store.ts';
import { ErrorNotice } from '../components/ErrorNotice.tsx';
import { AdaptersSection } from '../library/AdaptersSection.tsx';
import { DatasetsSection } from '../library/DatasetsSection.tsx';
import { ImportRecipe } from '../library/ImportRecipe.tsx';
import { ModelsSection } from '../library/ModelsSection.tsx';
import { RoutersSection } from '../library/RoutersSection.tsx';
import { RunsSection } from '../library/RunsSection.tsx';
import { StoragePanel } from '../StoragePanel.tsx';

/**
 * Library: what the studio keeps in this browser — models, data sets, adapters and runs with their
 * sizes — to delete, export and import. The storage usage above it is read again after every change.
 */
export function LibraryPage() {
  const status = useStudio((state) => state.library.status);
  const error = useStudio((state) => state.library.error);
  const trainStatus = useStudio((state) => state.train.status);

  useEffect(() => {
    void useStudio.getState().refreshLibrary();
    void useStudio.getState().refreshStorage();
  }, [trainStatus]);

  return (
    <div className="library-page">
      <section className="panel" aria-labelledby="library-title">
        <h2 id="library-title">Library</h2>
        <p className="muted">Everything here lives in this browser’s storage (IndexedDB) and works offline. Deleting frees the space at once.</p>
        {status === 'loading' && <p role="status">Reading storage…</p>}
        {error && <ErrorNotice error={error} title="The library could not be read" action={{ label: 'Try again', run: () => void useStudio.getState().refreshLibrary() }} />}
      </section>
      <StoragePanel />
      <ModelsSection />
      <DatasetsSection />
      <AdaptersSection />
      <RoutersSection />
      <RunsSection />
      <ImportRecipe />
    </div>
  );
}
