import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { RECIPE_VALIDATOR_PATH, recipeValidatorCode } from './recipe-validator-code.ts';
import { parseRecipe, RecipeError } from './recipe.ts';

describe('the recipe validator compiled ahead of time', () => {
  it('is what recipe.schema.json compiles to today (run `npm run gen:recipe-validator` after changing the schema)', async () => {
    expect(await readFile(RECIPE_VALIDATOR_PATH, 'utf8')).toBe(await recipeValidatorCode());
  });

  it('fills defaults and reports every problem with its path, as the run-time compiled one did', () => {
    const recipe = parseRecipe({ model: { source: 'm' }, tasks: [{ name: 'a', source: { file: 'a.jsonl' }, format: 'text' }], steps: 2 });
    expect(recipe.model.revision).toBe('main');
    let refused: unknown;
    try {
      parseRecipe({ model: { source: '' }, tasks: [{ name: 'a', source: { file: 'a.jsonl' }, format: 'poem' }], lora: { r: 'x' } });
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(RecipeError);
    const paths = (refused as RecipeError).problems.map((problem) => problem.path);
    // minLength (counted by the generated code-point helper), an enum, and a type, in one report.
    expect(paths).toEqual(expect.arrayContaining(['model.source', 'tasks[0].format', 'lora.r']));
  });
});
