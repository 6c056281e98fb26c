import type { ImportedFileSummary } from '../../state/slices/tasks.ts';
import { useStudio } from '../../state/store.ts';
import { settingsOfSource } from '../../studio/task-mapping.ts';
import { ErrorNotice } from '../components/ErrorNotice.tsx';
import { formatBytes } from '../format.ts';

/** The task files kept in this browser's storage: they survive a reload, and any can be mapped again. */
export function ImportedFiles() {
  const files = useStudio((state) => state.importedFiles);
  const tasks = useStudio((state) => state.recipe.tasks);
  const importing = useStudio((state) => state.taskImport.status === 'importing');

  const open = (file: ImportedFileSummary) => {
    // Read it as it was imported; a file kept before its options were stored is read as a task of the recipe reads it.
    const task = tasks.find((t) => 'file' in t.source && t.source.file === file.name);
    void useStudio.getState().reopenImportedFile(file.name, file.settings ?? (task ? settingsOfSource(task.source) : undefined));
  };

  if (files.status === 'failed' && files.error) return <ErrorNotice error={files.error} title="Could not list the imported files" />;
  if (files.files.length === 0) return <p className="muted">{files.status === 'ready' ? 'No files imported yet.' : 'Reading the list…'}</p>;
  return (
    <table className="imported-files" aria-label="Imported files">
      <thead>
        <tr>
          <th scope="col">File</th>
          <th scope="col">Rows</th>
          <th scope="col">Read as</th>
          <th scope="col">Size</th>
          <th scope="col">Imported</th>
          <th scope="col">
            <span className="visually-hidden">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {files.files.map((file) => (
          <tr key={file.name}>
            <td>{file.name}</td>
            <td>{file.rows.toLocaleString('en')}</td>
            <td>{file.format}</td>
            <td>{formatBytes(file.bytes)}</td>
            <td>{new Date(file.importedAt).toLocaleString()}</td>
            <td>
              <button type="button" className="secondary" disabled={importing} onClick={() => open(file)}>
                Map columns
              </button>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
