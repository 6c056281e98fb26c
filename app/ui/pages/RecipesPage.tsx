import { useState } from 'react';
import { CocktailError, toErrorReport, type ErrorReport } from '../../errors.ts';
import { useStudio } from '../../state/store.ts';
import { DEFAULT_RECIPE } from '../../studio/presets.ts';
import type { Recipe } from '../../train/recipe.ts';
import { ErrorNotice } from '../components/ErrorNotice.tsx';
import { CurrentRecipe } from '../recipes/CurrentRecipe.tsx';
import { ExportForCluster } from '../recipes/ExportForCluster.tsx';
import { LoadRecipe } from '../recipes/LoadRecipe.tsx';
import { deleteSavedRecipe, readSavedRecipes, saveRecipe, type SavedRecipe } from '../recipes/saved-recipes.ts';
import { SavedRecipes } from '../recipes/SavedRecipes.tsx';
import { SharedRecipeOffer } from '../recipes/SharedRecipeOffer.tsx';
import { navigate, useRoute } from '../routes.ts';

/** What the last action did, with a way to take it back when it replaced or removed something. */
interface Notice {
  text: string;
  undo?: () => void;
}

/**
 * Item 8 of the studio: the current recipe as JSON, saved to and loaded from the library, downloaded
 * as a file and opened from one, shared as a link; the Finance cocktail preset one click away.
 */
export function RecipesPage() {
  const sharedLink = useRoute().params.get('r');
  const [saved, setSaved] = useState<SavedRecipe[]>(() => readSavedRecipes());
  const [notice, setNotice] = useState<Notice | null>(null);
  const [saveError, setSaveError] = useState<ErrorReport | null>(null);

  const replaceRecipe = (recipe: Recipe, what: string) => {
    const previous = useStudio.getState().recipe;
    useStudio.getState().setRecipe(recipe);
    setNotice({ text: `Loaded ${what}.`, undo: () => useStudio.getState().setRecipe(previous) });
  };

  const save = (name: string, recipe: Recipe, savedAt = Date.now()) => {
    try {
      const result = saveRecipe(name, recipe, savedAt);
      setSaved(result.saved);
      setSaveError(null);
      setNotice({ text: result.replaced ? `Replaced the saved recipe “${name}”.` : `Saved “${name}” to the library.` });
    } catch (error) {
      // localStorage throws a DOMException when full or disabled; say so in the studio's words.
      setSaveError(toErrorReport(new CocktailError('QUOTA_EXCEEDED', `The browser refused to store “${name}” (${String(error)}).`)));
    }
  };

  const remove = (entry: SavedRecipe) => {
    setSaved(deleteSavedRecipe(entry.name));
    setNotice({ text: `Deleted “${entry.name}” from the library.`, undo: () => save(entry.name, entry.recipe, entry.savedAt) });
  };

  return (
    <>
      {sharedLink !== null && (
        <SharedRecipeOffer
          link={sharedLink}
          onLoad={(recipe) => {
            replaceRecipe(recipe, `the shared recipe “${recipe.name ?? 'untitled'}”`);
            navigate('recipes');
          }}
          onDismiss={() => navigate('recipes')}
        />
      )}
      {notice && (
        <div className="banner ok recipe-notice" role="status">
          {notice.text}{' '}
          {notice.undo && (
            <button
              type="button"
              className="secondary"
              onClick={() => {
                notice.undo!();
                setNotice({ text: 'Undone.' });
              }}
            >
              Undo
            </button>
          )}
        </div>
      )}
      {saveError && <ErrorNotice error={saveError} title="The recipe could not be saved in this browser" />}
      <CurrentRecipe onSave={(name, recipe) => save(name, recipe)} />
      <ExportForCluster />
      <LoadRecipe onLoad={replaceRecipe} />
      <SavedRecipes saved={saved} onLoad={(entry) => replaceRecipe({ ...DEFAULT_RECIPE, ...entry.recipe }, `“${entry.name}” from the library`)} onDelete={remove} />
    </>
  );
}
