import type { StateCreator } from 'zustand';
import { DEFAULT_RECIPE } from '../../studio/presets.ts';
import { parseRecipe, RecipeError, type Recipe, type RecipeProblem, type RecipeTask } from '../../train/recipe.ts';
import type { ExportRecipeRequest, ExportRecipeResult, TrainProgress } from '../../../workers/protocol.ts';
import type { AppState } from '../store.ts';
import { hubSettingsOf } from './model.ts';

/**
 * The recipe being composed: every page edits its part (Model the model, Tasks the tasks, Mixture
 * the mixture, Train the LoRA and optimizer settings) and the run starts from it. It is kept in
 * localStorage so a reload loses nothing, and validated on every change with the same schema the
 * worker and the CLI use, so a problem shows on the page where it can be fixed.
 */
export interface RecipeSlice {
  recipe: Recipe;
  /** Every problem parseRecipe finds in `recipe`, each with its JSON path. */
  recipeProblems: RecipeProblem[];
  /** Replaces the whole recipe (loading a file, a link or a preset). */
  setRecipe(recipe: Recipe): void;
  /** Changes part of the recipe: `update` returns the new recipe from the old one. */
  updateRecipe(update: (recipe: Recipe) => Recipe): void;
  /** Adds a task, or replaces the task of the same name. */
  putTask(task: RecipeTask): void;
  removeTask(name: string): void;
  /**
   * The recipe written for a cluster engine (app/export) by the worker, zipped. The zip is handed to
   * the caller to download, never kept in the store.
   */
  exportForCluster(options: Omit<ExportRecipeRequest, 'recipe'>, handlers: { signal?: AbortSignal; onProgress?: (progress: TrainProgress) => void }): Promise<ExportRecipeResult>;
}

export const RECIPE_STORAGE_KEY = 'cocktail.recipe.v1';

export function recipeProblems(recipe: Recipe): RecipeProblem[] {
  try {
    parseRecipe(recipe);
    return [];
  } catch (error) {
    if (error instanceof RecipeError) return error.problems;
    return [{ path: '', message: String(error) }];
  }
}

function loadSavedRecipe(): Recipe {
  try {
    const saved = globalThis.localStorage?.getItem(RECIPE_STORAGE_KEY);
    if (saved) return { ...DEFAULT_RECIPE, ...(JSON.parse(saved) as Recipe) };
  } catch {
    // A damaged saved draft is not worth failing the studio over: start from the defaults.
  }
  return DEFAULT_RECIPE;
}

function save(recipe: Recipe): void {
  try {
    globalThis.localStorage?.setItem(RECIPE_STORAGE_KEY, JSON.stringify(recipe));
  } catch {
    // Storage full or disabled: the draft still lives in memory for this visit.
  }
}

export const createRecipeSlice: StateCreator<AppState, [], [], RecipeSlice> = (set, get) => {
  const initial = loadSavedRecipe();
  const apply = (recipe: Recipe) => {
    save(recipe);
    set({ recipe, recipeProblems: recipeProblems(recipe) });
  };
  return {
    recipe: initial,
    recipeProblems: recipeProblems(initial),
    setRecipe: apply,
    updateRecipe: (update) => apply(update(get().recipe)),
    putTask: (task) =>
      apply({
        ...get().recipe,
        tasks: get().recipe.tasks.some((t) => t.name === task.name) ? get().recipe.tasks.map((t) => (t.name === task.name ? task : t)) : [...get().recipe.tasks, task],
      }),
    removeTask: (name) => {
      const recipe = get().recipe;
      const weights = recipe.mixture.weights ? Object.fromEntries(Object.entries(recipe.mixture.weights).filter(([task]) => task !== name)) : undefined;
      apply({ ...recipe, tasks: recipe.tasks.filter((t) => t.name !== name), mixture: { ...recipe.mixture, ...(weights ? { weights } : {}) } });
    },
    exportForCluster: (options, { signal, onProgress }) =>
      get()
        .engine()
        .request('export.recipe', { recipe: get().recipe, ...options, ...hubSettingsOf(get()) }, { ...(signal ? { signal } : {}), ...(onProgress ? { onProgress } : {}) }),
  };
};
