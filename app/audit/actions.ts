/** Findings' suggested recipe changes, applied to a recipe without touching anything else. */
import type { Recipe } from '../train/recipe.ts';
import type { RecipeChange } from './types.ts';

export function applyRecipeChange(recipe: Recipe, change: RecipeChange): Recipe {
  const next = structuredClone(recipe);
  const task = (name: string) => {
    const found = next.tasks.find((candidate) => candidate.name === name);
    if (!found) throw new Error(`the recipe has no task "${name}"`);
    return found;
  };
  switch (change.type) {
    case 'set_max_examples':
      task(change.task).max_examples = change.value;
      break;
    case 'set_role':
      task(change.task).role = change.role;
      break;
    case 'set_drop_duplicates':
      task(change.task).drop_duplicates = true;
      break;
    case 'set_temperature':
      next.mixture = { ...next.mixture, strategy: next.mixture.strategy === 'adaptive' ? 'adaptive' : 'temperature', temperature: change.temperature };
      if (next.mixture.strategy === 'adaptive') next.mixture.adaptive = { ...next.mixture.adaptive!, base: 'temperature' };
      break;
    case 'set_max_length':
      next.max_length = change.value;
      break;
  }
  return next;
}

/** The change in words, for the button that applies it. */
export function describeRecipeChange(change: RecipeChange): string {
  switch (change.type) {
    case 'set_max_examples':
      return `Cap "${change.task}" at ${change.value} examples`;
    case 'set_role':
      return `Mark "${change.task}" as a regularizer`;
    case 'set_drop_duplicates':
      return `Drop duplicates of "${change.task}"`;
    case 'set_temperature':
      return `Sample with temperature ${change.temperature}`;
    case 'set_max_length':
      return `Set max_length to ${change.value}`;
  }
}
