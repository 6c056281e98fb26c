import { useId } from 'react';
import { useStudio } from '../../state/store.ts';
import { ErrorNotice } from '../components/ErrorNotice.tsx';
import { ProblemList } from '../recipes/ProblemList.tsx';
import { hrefFor } from '../routes.ts';

/** A recipe.json (exported from a run here, or written for the CLI) made the studio's recipe, once it checks out. */
export function ImportRecipe() {
  const state = useStudio((s) => s.library.recipeImport);
  const id = useId();
  return (
    <section className="panel library-section" aria-labelledby="library-recipe-title">
      <h2 id="library-recipe-title">Recipes</h2>
      <div className="field">
        <label htmlFor={id}>Import recipe.json</label>
        <input
          id={id}
          type="file"
          accept=".json,application/json"
          aria-describedby={`${id}-hint`}
          onChange={(event) => {
            const file = event.target.files?.[0];
            event.target.value = '';
            if (file) void useStudio.getState().importRecipe(file);
          }}
        />
        <small id={`${id}-hint`} className="muted field-hint">
          Replaces the current recipe after it is checked; a file with problems changes nothing. Saved recipes and share links are on the <a href={hrefFor('recipes')}>Recipes page</a>.
        </small>
      </div>
      {state.status === 'done' && (
        <p role="status" className="banner ok">
          Loaded {state.name ? `“${state.name}”` : 'the recipe'} with {state.tasks} task{state.tasks === 1 ? '' : 's'}: it is now the studio’s recipe.
        </p>
      )}
      {state.status === 'failed' &&
        (state.problems ? (
          <ProblemList tone="error" title={`The recipe was not loaded: it has ${state.problems.length} problem${state.problems.length === 1 ? '' : 's'}. Your current recipe is kept.`} problems={state.problems} />
        ) : (
          state.error && <ErrorNotice error={state.error} title="The recipe was not loaded; your current recipe is kept" />
        ))}
    </section>
  );
}
