import { useStudio } from '../../state/store.ts';
import { formatBytes, plural } from '../format.ts';
import { hrefFor } from '../routes.ts';
import { ConfirmDelete } from './ConfirmDelete.tsx';
import { LibrarySection } from './LibraryTable.tsx';

const COLUMNS = [{ label: 'Model' }, { label: 'Files' }, { label: 'Size', number: true }];

/** Downloaded Hub models (one line per repository and revision) and models imported from local files. */
export function ModelsSection() {
  const models = useStudio((state) => state.library.models);
  const error = useStudio((state) => state.library.sectionErrors.models);
  const recipeModel = useStudio((state) => state.recipe.model);
  const total = models.reduce((sum, model) => sum + model.bytes, 0);
  const rows = models.map((model) => {
    const inUse = model.source === recipeModel.source && model.revision === recipeModel.revision;
    return (
      <tr key={model.prefix}>
        <th scope="row">
          <code>{model.label}</code>
          {model.kind === 'local' && <span className="tag">local files</span>}
          {inUse && <span className="tag">in the recipe</span>}
          {!model.complete && <span className="tag warn">download incomplete: loading it again resumes</span>}
        </th>
        <td>{model.files}</td>
        <td className="number">{formatBytes(model.bytes)}</td>
        <td className="actions">
          <ConfirmDelete what={model.label} onConfirm={() => useStudio.getState().deleteModel(model)}>
            {inUse && <small className="muted">The recipe uses it: it would be downloaded again when needed.</small>}
          </ConfirmDelete>
        </td>
      </tr>
    );
  });
  return (
    <LibrarySection
      id="models"
      title="Models"
      error={error}
      errorTitle="The model could not be deleted"
      empty={
        <>
          No models stored. Download one or open local files on the <a href={hrefFor('model')}>Model page</a>.
        </>
      }
      caption={`${plural(models.length, 'model')}, ${formatBytes(total)}`}
      columns={COLUMNS}
      rows={rows}
    />
  );
}
