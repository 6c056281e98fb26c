import { useStudio } from '../../state/store.ts';
import { ErrorNotice } from '../components/ErrorNotice.tsx';
import { formatBytes } from '../format.ts';
import { hrefFor } from '../routes.ts';
import { ConfirmDelete } from './ConfirmDelete.tsx';

/** Downloaded Hub models (one line per repository and revision) and models imported from local files. */
export function ModelsSection() {
  const models = useStudio((state) => state.library.models);
  const error = useStudio((state) => state.library.sectionErrors.models);
  const recipeModel = useStudio((state) => state.recipe.model);
  const total = models.reduce((sum, model) => sum + model.bytes, 0);
  return (
    <section className="panel library-section" aria-labelledby="library-models-title">
      <h2 id="library-models-title">Models</h2>
      {error && <ErrorNotice error={error} title="The model could not be deleted" />}
      {models.length === 0 ? (
        <p className="muted">
          No models stored. Download one or open local files on the <a href={hrefFor('model')}>Model page</a>.
        </p>
      ) : (
        <table className="library-table">
          <caption className="muted">
            {models.length} model{models.length === 1 ? '' : 's'}, {formatBytes(total)}
          </caption>
          <thead>
            <tr>
              <th scope="col">Model</th>
              <th scope="col">Files</th>
              <th scope="col" className="number">
                Size
              </th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {models.map((model) => {
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
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
