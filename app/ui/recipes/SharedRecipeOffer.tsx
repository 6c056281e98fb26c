import { useMemo } from 'react';
import { toErrorReport } from '../../errors.ts';
import { useStudio } from '../../state/store.ts';
import { decodeRecipeLink } from '../../studio/recipe-link.ts';
import { canonicalJson, RecipeError, type Recipe } from '../../train/recipe.ts';
import { ErrorNotice } from '../components/ErrorNotice.tsx';
import { ProblemList } from './ProblemList.tsx';
import { RecipeSummary } from './RecipeSummary.tsx';

/**
 * A recipe that arrived in a link (#/recipes?r=...): shown first, and only loaded when the user says
 * so, because loading replaces the recipe they were composing. A damaged link says what happened.
 */
export function SharedRecipeOffer({ link, onLoad, onDismiss }: { link: string; onLoad(recipe: Recipe): void; onDismiss(): void }) {
  const current = useStudio((state) => state.recipe);
  const decoded = useMemo(() => {
    try {
      return { recipe: decodeRecipeLink(link) };
    } catch (error) {
      return { error };
    }
  }, [link]);

  if (decoded.error instanceof RecipeError) {
    return (
      <section className="panel shared-recipe" aria-labelledby="shared-title">
        <h2 id="shared-title">Shared recipe</h2>
        <ProblemList tone="error" title="The shared recipe was not loaded: it has problems (your recipe is kept)." problems={decoded.error.problems} />
        <p className="muted">Ask whoever shared it to fix these in their studio, or to send the recipe file.</p>
        <button type="button" className="secondary" onClick={onDismiss}>
          Dismiss
        </button>
      </section>
    );
  }
  if (!decoded.recipe) {
    return (
      <section className="panel shared-recipe" aria-labelledby="shared-title">
        <h2 id="shared-title">Shared recipe</h2>
        <ErrorNotice error={toErrorReport(decoded.error)} title="The shared link is damaged" action={{ label: 'Dismiss', run: onDismiss }} />
      </section>
    );
  }
  const shared = decoded.recipe;
  const same = canonicalJson(shared) === canonicalJson(current);
  return (
    <section className="panel shared-recipe" aria-labelledby="shared-title">
      <h2 id="shared-title">Shared recipe: {shared.name ?? 'untitled'}</h2>
      {same ? (
        <p role="status">This is the recipe you have already.</p>
      ) : (
        <p>
          Someone shared this recipe with you. Loading it replaces your current recipe{current.name ? ` (“${current.name}”)` : ''}; save yours on this page first to keep it.
        </p>
      )}
      <RecipeSummary recipe={shared} />
      <details>
        <summary>The shared recipe as JSON</summary>
        <pre className="recipe-json">{JSON.stringify(shared, null, 2)}</pre>
      </details>
      <div className="row">
        {same ? (
          <button type="button" onClick={onDismiss}>
            OK
          </button>
        ) : (
          <>
            <button type="button" onClick={() => onLoad(shared)}>
              Load
            </button>
            <button type="button" className="secondary" onClick={onDismiss}>
              Keep mine
            </button>
          </>
        )}
      </div>
    </section>
  );
}
