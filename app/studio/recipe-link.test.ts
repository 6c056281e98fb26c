import { zlibSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { CocktailError } from '../errors.ts';
import { RecipeError, type Recipe } from '../train/recipe.ts';
import { FINANCE_COCKTAIL } from './presets.ts';
import { decodeRecipeLink, encodeRecipeLink, recipeShareUrl } from './recipe-link.ts';

function damagedMessage(link: string): string {
  try {
    decodeRecipeLink(link);
  } catch (error) {
    expect(error).toBeInstanceOf(CocktailError);
    expect((error as CocktailError).code).toBe('RECIPE_LINK_DAMAGED');
    return (error as Error).message;
  }
  throw new Error(`"${link.slice(0, 40)}" was read as a recipe`);
}

describe('recipe links', () => {
  it('give back the same recipe', () => {
    expect(decodeRecipeLink(encodeRecipeLink(FINANCE_COCKTAIL))).toEqual(FINANCE_COCKTAIL);
  });

  it('keep text outside ASCII and characters that mean something in a URL', () => {
    const recipe: Recipe = { ...FINANCE_COCKTAIL, name: 'Cocktail für Zürich & co. — 100% ✓ #1 ?r=x' };
    const link = encodeRecipeLink(recipe);
    expect(link).toMatch(/^[A-Za-z0-9._-]+$/);
    expect(decodeRecipeLink(link).name).toBe(recipe.name);
  });

  it('keep the Finance cocktail short enough for any browser, chat or mail client (under 2,000 characters)', () => {
    const url = recipeShareUrl(FINANCE_COCKTAIL, { origin: 'https://studio.example', pathname: '/' });
    expect(url.startsWith('https://studio.example/#/recipes?r=1.')).toBe(true);
    expect(url.length).toBeLessThan(2000);
  });

  it('say a link cut short while copying is damaged, and what to do', () => {
    const link = encodeRecipeLink(FINANCE_COCKTAIL);
    const message = damagedMessage(link.slice(0, Math.floor(link.length / 2)));
    expect(message).toMatch(/cut short/);
    expect(message).toMatch(/copy the whole link again, or to send the recipe file/);
  });

  it('say a link with characters changed in copying is damaged', () => {
    const link = encodeRecipeLink(FINANCE_COCKTAIL);
    expect(damagedMessage(`${link.slice(0, 40)}%20${link.slice(40)}`)).toMatch(/characters a recipe link never has/);
    // Deflate alone would often inflate a changed character into a plausible recipe; the checksum catches it.
    for (const at of [20, 200, link.length - 20]) {
      expect(damagedMessage(`${link.slice(0, at)}${link[at] === 'A' ? 'B' : 'A'}${link.slice(at + 1)}`)).toMatch(/cannot be read/);
    }
  });

  it('refuse an empty link, one without the format prefix, and one from a newer format', () => {
    expect(damagedMessage('')).toMatch(/holds no recipe/);
    expect(damagedMessage('1.eJw')).toMatch(/cut short/);
    expect(damagedMessage(encodeRecipeLink(FINANCE_COCKTAIL).slice(2))).toMatch(/does not start like a recipe link/);
    expect(damagedMessage(`2.${encodeRecipeLink(FINANCE_COCKTAIL).slice(2)}`)).toMatch(/newer Cocktail Studio \(link format 2\)/);
  });

  it('check what they hold with the recipe schema and name every problem by its path', () => {
    const invalid = { ...FINANCE_COCKTAIL, batch_size: 0, mixture: { ...FINANCE_COCKTAIL.mixture, strategy: 'loudest' } } as unknown as Recipe;
    let error: unknown;
    try {
      decodeRecipeLink(encodeRecipeLink(invalid));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(RecipeError);
    expect((error as RecipeError).problems.map((problem) => problem.path).sort()).toEqual(['batch_size', 'mixture.strategy']);
    expect((error as Error).message).toMatch(/^The shared recipe has 2 problems/);
  });

  it('refuse a recipe with a field no recipe has, naming it, so a link cannot smuggle settings in', () => {
    const smuggled = { ...FINANCE_COCKTAIL, upload_to: 'https://elsewhere.example/collect', lora: { ...FINANCE_COCKTAIL.lora, script: 'alert(1)' } } as unknown as Recipe;
    expect(() => decodeRecipeLink(encodeRecipeLink(smuggled))).toThrow(RecipeError);
    expect(() => decodeRecipeLink(encodeRecipeLink(smuggled))).toThrow(/\(recipe\): unknown field "upload_to"[\s\S]*lora: unknown field "script"/);
  });

  it('refuse a short link that inflates past a recipe\'s size, without inflating all of it', () => {
    // 16 MiB of one character compress to a link of about 20 KiB.
    const json = JSON.stringify({ ...FINANCE_COCKTAIL, name: 'x'.repeat(16 * 2 ** 20) });
    const link = `1.${Buffer.from(zlibSync(new TextEncoder().encode(json), { level: 9 })).toString('base64url')}`;
    expect(link.length).toBeLessThan(40_000);
    let error: unknown;
    try {
      decodeRecipeLink(link);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(RecipeError);
    expect((error as RecipeError).message).toMatch(/^The shared recipe has 1 problem:\n {2}\(recipe\): holds more than 64 KiB of recipe; a recipe is a few kilobytes of settings/);
  });

  it('refuse a link longer than the largest recipe makes', () => {
    expect(() => decodeRecipeLink(`1.${'A'.repeat(200_000)}`)).toThrow(/is 200002 characters long, longer than a link of the largest recipe \(64 KiB\) ever is/);
  });
});
