/**
 * A recipe's tasks prepared exactly as `cocktail train` prepares them (same import, mapping, split and
 * tokenization, at max_length clamped to the model's context), with only the model's tokenizer:
 * commands that need the examples but not the GPU (`cocktail mix`, `cocktail export`, the router's) use this.
 */
import { existsSync, openAsBlob } from 'node:fs';
import { resolve } from 'node:path';
import { CocktailError } from '../errors.ts';
import { parseModelConfig, type ModelConfig } from '../model/config.ts';
import { readJsonFile, type ModelFiles } from '../model/source.ts';
import { loadTokenizer, type TextTokenizer } from '../model/tokenizer.ts';
import { clampToContext } from '../train/context-length.ts';
import { prepareTasks, type PreparedTasks } from '../train/prepare.ts';
import { parseRecipe, type Recipe } from '../train/recipe.ts';
import { modelFilesFor } from './model-source.ts';

export interface RecipeData extends PreparedTasks {
  files: ModelFiles;
  config: ModelConfig;
  tokenizer: TextTokenizer;
  /** The recipe as a run uses it: max_length no longer than the model's context (app/train/context-length.ts). */
  recipe: Recipe;
  /** Set when max_length was clamped, in the words a run says it. */
  contextNotice?: string;
}

export async function openRecipeModel(recipe: Recipe, recipeDir: string): Promise<{ files: ModelFiles; config: ModelConfig; tokenizer: TextTokenizer }> {
  const local = resolve(recipeDir, recipe.model.source);
  const files = await modelFilesFor(existsSync(local) ? local : recipe.model.source, { revision: recipe.model.revision, quiet: true });
  const config = parseModelConfig(await readJsonFile(files, 'config.json'), `${files.label}/config.json`);
  return { files, config, tokenizer: await loadTokenizer(files, config) };
}

export async function prepareRecipeData(recipe: Recipe, recipeDir: string, options: { keepExamples?: boolean } = {}): Promise<RecipeData> {
  const model = await openRecipeModel(recipe, recipeDir);
  const clamped = clampToContext(recipe, model.config.maxPositionEmbeddings);
  const prepared = await prepareTasks(clamped.recipe, {
    tokenizer: model.tokenizer,
    keepExamples: options.keepExamples === true,
    openFile: (path) => openRecipeTaskFile(recipeDir, path),
    ...(process.env.HF_ENDPOINT ? { hubEndpoint: process.env.HF_ENDPOINT } : {}),
    ...(process.env.HF_TOKEN ? { hubAccessToken: process.env.HF_TOKEN } : {}),
  });
  return { ...model, ...prepared, recipe: clamped.recipe, ...(clamped.notice ? { contextNotice: clamped.notice } : {}) };
}

export async function openRecipeTaskFile(recipeDir: string, path: string): Promise<Blob> {
  try {
    return await openAsBlob(resolve(recipeDir, path));
  } catch {
    throw new CocktailError('TASK_FILE_NOT_FOUND', `${resolve(recipeDir, path)}: no such task file (paths are relative to the recipe)`, { file: path });
  }
}

/** `--steps N` replaces the recipe's steps or epochs, as `cocktail train --steps` does. */
export function withSteps(recipe: Recipe, steps: number | undefined): Recipe {
  if (steps === undefined) return recipe;
  if (!Number.isSafeInteger(steps) || steps < 1) throw new CocktailError('BAD_ARGUMENT', `--steps must be an integer of at least 1, got ${steps}`, { field: 'steps' });
  const { epochs: _epochs, ...rest } = recipe;
  // Validated again: the new length must still leave room for the warmup.
  return parseRecipe({ ...rest, steps }, `the recipe with --steps ${steps}`);
}
