import { useStudio } from '../../state/store.ts';
import { formatBytes, plural } from '../format.ts';
import { hrefFor } from '../routes.ts';
import { ConfirmDelete } from './ConfirmDelete.tsx';
import { LibrarySection } from './LibraryTable.tsx';

const COLUMNS = [{ label: 'File' }, { label: 'Rows', number: true }, { label: 'Format' }, { label: 'Size', number: true }];

/**
 * Task files the user imported, Hub data sets downloaded for training (kept for offline use), and
 * the caches the studio makes from them (rebuilt when needed).
 */
export function DatasetsSection() {
  const files = useStudio((state) => state.library.datasets);
  const hubSplits = useStudio((state) => state.library.hubDatasets);
  const caches = useStudio((state) => state.library.caches);
  const error = useStudio((state) => state.library.sectionErrors.datasets);
  const tasks = useStudio((state) => state.recipe.tasks);
  const recipeFiles = tasks.flatMap((task) => ('file' in task.source ? [task.source.file, task.source.validation_file] : []));
  const recipeSplits = tasks.flatMap(({ source }) => ('hub' in source ? [source.split, source.validation_split].map((split) => `${source.hub}|${source.config}|${split}`) : []));
  const total = [...files, ...hubSplits, ...caches].reduce((sum, item) => sum + item.bytes, 0);

  const fileRows = files.map((file) => {
    const inUse = recipeFiles.includes(file.name);
    return (
      <tr key={file.key}>
        <th scope="row">
          <code>{file.name}</code>
          {inUse && <span className="tag">in the recipe</span>}
        </th>
        <td className="number">{file.rows?.toLocaleString('en') ?? '—'}</td>
        <td>{file.format ?? '—'}</td>
        <td className="number">{formatBytes(file.bytes)}</td>
        <td className="actions">
          <ConfirmDelete what={file.name} onConfirm={() => useStudio.getState().deleteDatasetItems([file.key])}>
            {inUse && <small className="muted">A task of the recipe reads it: import it again before training.</small>}
          </ConfirmDelete>
        </td>
      </tr>
    );
  });
  const hubRows = hubSplits.map((split) => {
    const label = `${split.repo} (${split.config}/${split.split})`;
    const inUse = recipeSplits.includes(`${split.repo}|${split.config}|${split.split}`);
    return (
      <tr key={split.key}>
        <th scope="row">
          <code>{label}</code>
          {inUse && <span className="tag">in the recipe</span>}
          {!split.complete && <span className="tag warn">partly downloaded</span>}
        </th>
        <td className="number">—</td>
        <td>Parquet from the Hub, {plural(split.files, 'file')}</td>
        <td className="number">{formatBytes(split.bytes)}</td>
        <td className="actions">
          <ConfirmDelete what={label} onConfirm={() => useStudio.getState().deleteDatasetItems(split.keys)}>
            {inUse && <small className="muted">A task of the recipe reads it: training downloads it again.</small>}
          </ConfirmDelete>
        </td>
      </tr>
    );
  });
  const cacheRows = caches.map((cache) => (
    <tr key={cache.label} className="cache-row">
      <th scope="row">{cache.label}</th>
      <td className="number">{plural(cache.items, 'item')}</td>
      <td>cache</td>
      <td className="number">{formatBytes(cache.bytes)}</td>
      <td className="actions">
        <ConfirmDelete what={cache.label.replace(/ \(.*\)$/, '').toLowerCase()} onConfirm={() => useStudio.getState().deleteDatasetItems(cache.keys)} />
      </td>
    </tr>
  ));
  return (
    <LibrarySection
      id="datasets"
      title="Data sets"
      error={error}
      errorTitle="The data could not be deleted"
      empty={
        <>
          No data sets stored. Import task files on the <a href={hrefFor('tasks')}>Tasks page</a>.
        </>
      }
      caption={`${plural(files.length, 'imported file')}${hubSplits.length > 0 ? `, ${plural(hubSplits.length, 'Hub split')}` : ''}, ${formatBytes(total)} with caches`}
      columns={COLUMNS}
      rows={[...fileRows, ...hubRows, ...cacheRows]}
    />
  );
}
