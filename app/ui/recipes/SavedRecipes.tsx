import type { SavedRecipe } from './saved-recipes.ts';

const SAVED_AT = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** The recipe library: every saved recipe with what it holds, to load or delete. */
export function SavedRecipes({ saved, onLoad, onDelete }: { saved: readonly SavedRecipe[]; onLoad(entry: SavedRecipe): void; onDelete(entry: SavedRecipe): void }) {
  return (
    <section className="panel" aria-labelledby="saved-recipes-title">
      <h2 id="saved-recipes-title">Saved recipes</h2>
      {saved.length === 0 ? (
        <p className="muted">None yet. “Save to library” above keeps the current recipe in this browser under its name.</p>
      ) : (
        <table aria-labelledby="saved-recipes-title" className="saved-recipes">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Tasks</th>
              <th scope="col">Saved</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {saved.map((entry) => (
              <tr key={entry.name}>
                <th scope="row">{entry.name}</th>
                <td>{Array.isArray(entry.recipe.tasks) ? entry.recipe.tasks.map((task) => task.name).join(', ') || 'none' : '—'}</td>
                <td>
                  <time dateTime={new Date(entry.savedAt).toISOString()}>{SAVED_AT.format(entry.savedAt)}</time>
                </td>
                <td className="saved-recipe-actions">
                  <button type="button" className="secondary" onClick={() => onLoad(entry)}>
                    Load
                  </button>
                  <button type="button" className="secondary" onClick={() => onDelete(entry)}>
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
