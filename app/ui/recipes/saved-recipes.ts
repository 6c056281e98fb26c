/**
 * The recipe library: recipes the user saved by name, kept in localStorage beside the draft recipe
 * ('cocktail.recipe.v1'). A recipe is a few kilobytes of JSON, so localStorage's synchronous read
 * lists them at once on page load, without opening IndexedDB, whose stores are for the large binary
 * items (models, data sets, checkpoints, adapters) and whose "runs" store records runs, not drafts.
 */
import type { Recipe } from '../../train/recipe.ts';

export const SAVED_RECIPES_KEY = 'cocktail.recipes.v1';

export interface SavedRecipe {
  name: string;
  /** Milliseconds since the epoch. */
  savedAt: number;
  recipe: Recipe;
}

/** Saved recipes, newest first. Entries that are not {name, savedAt, recipe} (edited by hand, say) are left out. */
export function readSavedRecipes(storage: Pick<Storage, 'getItem'> = localStorage): SavedRecipe[] {
  let raw: unknown;
  try {
    raw = JSON.parse(storage.getItem(SAVED_RECIPES_KEY) ?? '[]');
  } catch {
    return [];
  }
  if (!Array.isArray(raw)) return [];
  return raw.filter(isSavedRecipe).sort((a, b) => b.savedAt - a.savedAt);
}

/**
 * Saves `recipe` under `name`, replacing a saved recipe of the same name; returns the new list and
 * whether one was replaced. Throws when the browser refuses to store it (storage full or disabled).
 */
export function saveRecipe(name: string, recipe: Recipe, now = Date.now(), storage: Pick<Storage, 'getItem' | 'setItem'> = localStorage): { saved: SavedRecipe[]; replaced: boolean } {
  const current = readSavedRecipes(storage);
  const replaced = current.some((entry) => entry.name === name);
  const saved = [{ name, savedAt: now, recipe }, ...current.filter((entry) => entry.name !== name)];
  storage.setItem(SAVED_RECIPES_KEY, JSON.stringify(saved));
  return { saved, replaced };
}

export function deleteSavedRecipe(name: string, storage: Pick<Storage, 'getItem' | 'setItem'> = localStorage): SavedRecipe[] {
  const saved = readSavedRecipes(storage).filter((entry) => entry.name !== name);
  storage.setItem(SAVED_RECIPES_KEY, JSON.stringify(saved));
  return saved;
}

function isSavedRecipe(value: unknown): value is SavedRecipe {
  if (typeof value !== 'object' || value === null) return false;
  const entry = value as Record<string, unknown>;
  return typeof entry.name === 'string' && typeof entry.savedAt === 'number' && typeof entry.recipe === 'object' && entry.recipe !== null && !Array.isArray(entry.recipe);
}
