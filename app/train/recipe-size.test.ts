import { describe, expect, it } from 'vitest';
import { parseRecipe, type RecipeError } from './recipe.ts';
import { RECIPE_LIMITS } from './recipe-size.ts';

const task = (name: string) => ({ name, source: { file: `${name}.jsonl` }, format: 'instruction' });
const minimal = { model: { source: 'models/aidreams260K' }, tasks: [task('a')], steps: 10 };

function problemsOf(recipe: unknown): string[] {
  try {
    parseRecipe(recipe, 'big.json');
  } catch (error) {
    return (error as RecipeError).problems.map((p) => `${p.path || '(recipe)'}: ${p.message}`);
  }
  return [];
}

describe('recipe sizes', () => {
  it('accepts a recipe at every limit', () => {
    const tasks = Array.from({ length: RECIPE_LIMITS.tasks }, (_, i) => task(`t${i}`));
    expect(problemsOf({ ...minimal, tasks, name: 'x'.repeat(RECIPE_LIMITS.stringLength) })).toEqual([]);
  });

  it('refuses a recipe text larger than 64 KiB before parsing it, saying how large it is', () => {
    const text = JSON.stringify({ ...minimal, name: 'x'.repeat(70 * 1024) });
    expect(() => parseRecipe(text, 'big.json')).toThrow(/^big\.json has 1 problem:\n {2}\(recipe\): is 70 KiB; a recipe is a few kilobytes of settings, at most 64 KiB/);
    // The same recipe as an object (a link's content) is measured as JSON.
    expect(problemsOf(JSON.parse(text))).toEqual([expect.stringMatching(/^\(recipe\): is 70 KiB/)]);
  });

  it('names the field that is too large: more tasks than 64, a text over 8 KiB, a map of more than 256 entries', () => {
    const tasks = Array.from({ length: RECIPE_LIMITS.tasks + 1 }, (_, i) => task(`t${i}`));
    expect(problemsOf({ ...minimal, tasks })).toContain('tasks: has 65 tasks; a recipe holds at most 64');
    expect(problemsOf({ ...minimal, tasks: [{ ...task('a'), template: 'y'.repeat(RECIPE_LIMITS.stringLength + 1) }] })).toEqual([`tasks[0].template: is ${RECIPE_LIMITS.stringLength + 1} characters long; a recipe's texts are at most ${RECIPE_LIMITS.stringLength}`]);
    const labels = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`l${i}`, `w${i}`]));
    expect(problemsOf({ ...minimal, tasks: [{ ...task('a'), format: 'classification', labels }] })).toEqual(['tasks[0].labels: has 300 entries; a recipe\'s lists and maps hold at most 256']);
  });

  it('refuses nesting no recipe has', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 10; i++) deep = { deep };
    expect(problemsOf({ ...minimal, extra: deep })[0]).toMatch(/^extra\.deep\.deep\.deep\.deep\.deep\.deep\.deep: nests deeper than a recipe ever does/);
  });
});
