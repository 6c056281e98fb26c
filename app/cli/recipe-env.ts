import { existsSync, openAsBlob } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { CocktailError } from '../errors.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { Storage } from '../store/storage.ts';
import { parseRecipe, type Recipe } from '../train/recipe.ts';
import type { RunEnvironment } from '../train/run.ts';
import { modelConfigFor, modelFilesFor } from './model-source.ts';
import { readPeftAdapter } from './peft-files.ts';

export async function readRecipe(path: string): Promise<{ recipe: Recipe; recipePath: string; recipeDir: string }> {
  const recipePath = resolve(path);
  let text: string;
  try {
    text = await readFile(recipePath, 'utf8');
  } catch {
    throw new CocktailError('RECIPE_NOT_FOUND', `${recipePath}: no such recipe file`, { file: recipePath });
  }
  return { recipe: parseRecipe(text, recipePath), recipePath, recipeDir: dirname(recipePath) };
}

/** Opens a task file path of a recipe, relative to the recipe's folder. */
export function taskFileOpener(recipeDir: string): (path: string) => Promise<Blob> {
  return async (path) => {
    try {
      return await openAsBlob(resolve(recipeDir, path));
    } catch {
      throw new CocktailError('TASK_FILE_NOT_FOUND', `${resolve(recipeDir, path)}: no such task file (paths are relative to the recipe)`, { file: path });
    }
  };
}

/** The model folder or Hub id of a recipe's model source: a folder relative to the recipe when one exists there. */
export function recipeModelSource(recipeDir: string, source: string): string {
  return existsSync(resolve(recipeDir, source)) ? resolve(recipeDir, source) : source;
}

/** Where a recipe's model, task files and adapters come from on the command line: paths relative to the recipe. */
export function recipeEnvironment(recipeDir: string, ctx: GpuContext, storage: Storage, quiet: boolean, memoryBudgetBytes?: number): RunEnvironment {
  return {
    ctx,
    storage,
    // A model source is a folder relative to the recipe when one exists there, else a Hub id.
    openModel: (source, revision) => modelFilesFor(recipeModelSource(recipeDir, source), { revision, quiet }),
    openModelConfig: (source, revision) => modelConfigFor(recipeModelSource(recipeDir, source), { revision }),
    ...(memoryBudgetBytes !== undefined ? { memoryBudgetBytes } : {}),
    openTaskFile: taskFileOpener(recipeDir),
    openAdapter: (path) => readPeftAdapter(resolve(recipeDir, path)),
    ...(process.env.HF_ENDPOINT ? { hubEndpoint: process.env.HF_ENDPOINT } : {}),
    ...(process.env.HF_TOKEN ? { hubAccessToken: process.env.HF_TOKEN } : {}),
  };
}
