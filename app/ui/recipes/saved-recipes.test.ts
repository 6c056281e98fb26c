import { describe, expect, it } from 'vitest';
import { DEFAULT_RECIPE, FINANCE_COCKTAIL } from '../../studio/presets.ts';
import { deleteSavedRecipe, readSavedRecipes, SAVED_RECIPES_KEY, saveRecipe } from './saved-recipes.ts';

function memoryStorage(initial?: string) {
  const items = new Map<string, string>(initial === undefined ? [] : [[SAVED_RECIPES_KEY, initial]]);
  return { getItem: (key: string) => items.get(key) ?? null, setItem: (key: string, value: string) => void items.set(key, value) };
}

describe('the recipe library', () => {
  it('lists saved recipes newest first', () => {
    const storage = memoryStorage();
    saveRecipe('first', DEFAULT_RECIPE, 1000, storage);
    saveRecipe('Finance cocktail', FINANCE_COCKTAIL, 2000, storage);
    expect(readSavedRecipes(storage).map((entry) => [entry.name, entry.savedAt])).toEqual([
      ['Finance cocktail', 2000],
      ['first', 1000],
    ]);
    expect(readSavedRecipes(storage)[0]!.recipe).toEqual(FINANCE_COCKTAIL);
  });

  it('replaces a recipe saved under the same name, and says so', () => {
    const storage = memoryStorage();
    expect(saveRecipe('mine', DEFAULT_RECIPE, 1000, storage).replaced).toBe(false);
    const { saved, replaced } = saveRecipe('mine', FINANCE_COCKTAIL, 2000, storage);
    expect(replaced).toBe(true);
    expect(saved).toHaveLength(1);
    expect(readSavedRecipes(storage)[0]!.recipe.name).toBe('Finance cocktail');
  });

  it('deletes by name', () => {
    const storage = memoryStorage();
    saveRecipe('a', DEFAULT_RECIPE, 1, storage);
    saveRecipe('b', DEFAULT_RECIPE, 2, storage);
    expect(deleteSavedRecipe('a', storage).map((entry) => entry.name)).toEqual(['b']);
    expect(readSavedRecipes(storage).map((entry) => entry.name)).toEqual(['b']);
  });

  it('reads damaged storage as an empty library, and skips entries that are not saved recipes', () => {
    expect(readSavedRecipes(memoryStorage('{not json'))).toEqual([]);
    expect(readSavedRecipes(memoryStorage('{"a":1}'))).toEqual([]);
    const mixed = JSON.stringify([{ name: 'ok', savedAt: 5, recipe: DEFAULT_RECIPE }, { name: 'no recipe', savedAt: 6 }, 'text', null]);
    expect(readSavedRecipes(memoryStorage(mixed)).map((entry) => entry.name)).toEqual(['ok']);
  });
});
