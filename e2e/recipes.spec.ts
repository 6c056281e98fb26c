import { readFileSync } from 'node:fs';
import { zlibSync } from 'fflate';
import { expect, test, type Page } from '@playwright/test';
import { FINANCE_COCKTAIL } from '../app/studio/presets.ts';
import { watchConsole } from './console.ts';

const recipeJson = (page: Page) => page.getByLabel('Recipe JSON', { exact: true });

/** The recipe the studio holds, as the JSON view on the Recipes page shows it. */
async function currentRecipe(page: Page): Promise<{ name?: string; tasks: { name: string }[] }> {
  return JSON.parse((await recipeJson(page).textContent())!) as { name?: string; tasks: { name: string }[] };
}

async function loadFinanceCocktail(page: Page): Promise<void> {
  await page.goto('/#/recipes');
  await page.getByRole('button', { name: 'Load the Finance cocktail' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Loaded the Finance cocktail.' })).toBeVisible();
}

test.describe('Recipes page', () => {
  test('the Finance cocktail loads in one click, and Undo brings the previous recipe back', async ({ page }, testInfo) => {
    const errors = watchConsole(page);
    await page.goto('/#/recipes');
    expect((await currentRecipe(page)).tasks).toEqual([]);
    await expect(page.getByRole('button', { name: 'Download recipe' })).toBeDisabled();
    await expect(page.getByRole('region', { name: /The recipe has 1 problem/ })).toContainText('tasks');

    await page.getByRole('button', { name: 'Load the Finance cocktail' }).click();
    const recipe = await currentRecipe(page);
    expect(recipe.name).toBe('Finance cocktail');
    expect(recipe.tasks.map((task) => task.name)).toEqual(['phrase_sentiment', 'tweet_sentiment', 'math_word_problems', 'general_instructions']);
    await expect(page.getByRole('textbox', { name: 'Recipe name' })).toHaveValue('Finance cocktail');
    await expect(page.getByRole('region', { name: /The recipe has/ })).toHaveCount(0);
    await expect(page.getByRole('button', { name: 'Download recipe' })).toBeEnabled();
    await page.screenshot({ path: testInfo.outputPath('recipes.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: testInfo.outputPath('recipes-dark.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'light' });

    await page.getByRole('button', { name: 'Undo' }).click();
    expect((await currentRecipe(page)).tasks).toEqual([]);

    // Loaded again, it is what the Mixture page shows.
    await page.getByRole('button', { name: 'Load the Finance cocktail' }).click();
    await page.getByRole('link', { name: 'Mixture' }).click();
    await expect(page.getByRole('radio', { name: 'Temperature' })).toBeChecked();
    await expect(page.getByRole('spinbutton', { name: 'Temperature T' })).toHaveValue('2');
    await expect(page.getByText('Regularizers (math_word_problems, general_instructions) together get this share')).toBeVisible();
    expect(errors).toEqual([]);
  });

  test('a recipe saved to the library is listed after a reload, loads back, and can be deleted (and the delete undone)', async ({ page }) => {
    const errors = watchConsole(page);
    await loadFinanceCocktail(page);
    await page.getByRole('button', { name: 'Save to library' }).click();
    await expect(page.getByRole('status').filter({ hasText: 'Saved “Finance cocktail” to the library.' })).toBeVisible();

    await page.getByRole('textbox', { name: 'Recipe name' }).fill('Finance, lower rank');
    await page.getByRole('button', { name: 'Save to library' }).click();
    await page.reload();
    const library = page.getByRole('table', { name: 'Saved recipes' });
    await expect(library.getByRole('row')).toHaveCount(3);
    await expect(library.getByRole('row').nth(1)).toContainText('Finance, lower rank');
    await expect(library.getByRole('row', { name: /^Finance cocktail/ })).toContainText('phrase_sentiment, tweet_sentiment, math_word_problems, general_instructions');

    await library.getByRole('row', { name: /^Finance cocktail/ }).getByRole('button', { name: 'Load' }).click();
    await expect(page.getByRole('textbox', { name: 'Recipe name' })).toHaveValue('Finance cocktail');
    await page.getByRole('textbox', { name: 'Recipe name' }).fill('Finance cocktail');
    await page.getByRole('button', { name: 'Save to library' }).click();
    await expect(page.getByRole('status').filter({ hasText: 'Replaced the saved recipe “Finance cocktail”.' })).toBeVisible();
    await expect(library.getByRole('row')).toHaveCount(3);

    await library.getByRole('row', { name: /^Finance, lower rank/ }).getByRole('button', { name: 'Delete' }).click();
    await expect(library.getByRole('row', { name: /^Finance, lower rank/ })).toHaveCount(0);
    await page.getByRole('button', { name: 'Undo' }).click();
    await expect(library.getByRole('row', { name: /^Finance, lower rank/ })).toHaveCount(1);
    expect(errors).toEqual([]);
  });

  test('a downloaded recipe file opens again and replaces a changed recipe', async ({ page }, testInfo) => {
    const errors = watchConsole(page);
    await loadFinanceCocktail(page);
    const downloading = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download recipe' }).click();
    const download = await downloading;
    expect(download.suggestedFilename()).toBe('finance-cocktail.recipe.json');
    const path = testInfo.outputPath('finance-cocktail.recipe.json');
    await download.saveAs(path);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual(FINANCE_COCKTAIL);

    await page.getByRole('textbox', { name: 'Recipe name' }).fill('Changed');
    await page.getByLabel('Open recipe file').setInputFiles(path);
    await expect(page.getByRole('status').filter({ hasText: 'Loaded the recipe file finance-cocktail.recipe.json.' })).toBeVisible();
    expect(await currentRecipe(page)).toEqual(FINANCE_COCKTAIL);
    expect(errors).toEqual([]);
  });

  test('an invalid recipe file shows every problem with its path, and the current recipe is kept', async ({ page }) => {
    const errors = watchConsole(page);
    await loadFinanceCocktail(page);
    const broken = { model: { source: '' }, tasks: [{ name: 'x', source: { file: 'a.csv' }, format: 'tabular' }], mixture: { strategy: 'loudest' }, steps: 0 };
    await page.getByLabel('Open recipe file').setInputFiles({ name: 'broken.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(broken)) });
    const problems = page.getByRole('alert').filter({ hasText: 'broken.json was not opened' });
    await expect(problems).toContainText('it has 4 problems. Your current recipe is kept.');
    for (const path of ['model.source', 'tasks[0].format', 'mixture.strategy', 'steps']) await expect(problems.getByText(path, { exact: true })).toBeVisible();
    expect((await currentRecipe(page)).name).toBe('Finance cocktail');

    await page.getByLabel('Open recipe file').setInputFiles({ name: 'notes.json', mimeType: 'application/json', buffer: Buffer.from('{"model": ') });
    await expect(page.getByRole('alert').filter({ hasText: 'notes.json was not opened' })).toContainText('(recipe): not valid JSON');
    expect((await currentRecipe(page)).name).toBe('Finance cocktail');
    expect(errors).toEqual([]);
  });

  test('a share link opens the recipe in a fresh browser, which asks before replacing its own (Load / Keep mine)', async ({ page, browser, baseURL }, testInfo) => {
    const errors = watchConsole(page);
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
    await loadFinanceCocktail(page);
    await page.getByRole('button', { name: 'Copy share link' }).click();
    const linkBox = page.getByRole('textbox', { name: 'Share link' });
    await expect(linkBox).toHaveValue(new RegExp(`^${baseURL}/#/recipes\\?r=1\\.[A-Za-z0-9_-]+$`));
    const link = await linkBox.inputValue();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(link);
    expect(link.length).toBeLessThan(2000);

    for (const choice of ['Keep mine', 'Load'] as const) {
      const context = await browser.newContext();
      const fresh = await context.newPage();
      const freshErrors = watchConsole(fresh);
      await fresh.goto(link);
      await expect(fresh.getByRole('heading', { name: 'Shared recipe: Finance cocktail' })).toBeVisible();
      await expect(fresh.getByText('Loading it replaces your current recipe (“My cocktail”)')).toBeVisible();
      if (choice === 'Load') await fresh.screenshot({ path: testInfo.outputPath('recipes-shared.png'), fullPage: true });
      await fresh.getByRole('region', { name: 'Shared recipe: Finance cocktail' }).getByRole('button', { name: choice, exact: true }).click();
      await expect(fresh.getByRole('heading', { name: /Shared recipe/ })).toHaveCount(0);
      expect(new URL(fresh.url()).hash).toBe('#/recipes');
      const recipe = await currentRecipe(fresh);
      if (choice === 'Load') expect(recipe).toEqual(FINANCE_COCKTAIL);
      else expect(recipe.name).toBe('My cocktail');
      // What was chosen is the studio's recipe: it survives a reload.
      await fresh.reload();
      expect((await currentRecipe(fresh)).name).toBe(choice === 'Load' ? 'Finance cocktail' : 'My cocktail');
      expect(freshErrors).toEqual([]);
      await context.close();
    }
    expect(errors).toEqual([]);
  });

  test('a damaged share link says so and what to do, and the studio keeps its recipe', async ({ page }, testInfo) => {
    const errors = watchConsole(page);
    await loadFinanceCocktail(page);
    await page.getByRole('textbox', { name: 'Recipe name' }).fill('Mine');
    await page.getByRole('button', { name: 'Copy share link' }).click();
    const link = await page.getByRole('textbox', { name: 'Share link' }).inputValue();
    const cut = link.slice(0, link.indexOf('r=') + 2 + Math.floor((link.length - link.indexOf('r=')) / 2));
    await page.getByRole('textbox', { name: 'Recipe name' }).fill('Still mine');
    await page.goto(cut);
    const alert = page.getByRole('alert').filter({ hasText: 'The shared link is damaged' });
    await expect(alert).toContainText('This recipe link cannot be read');
    await expect(alert).toContainText('copy the whole link again, or to send the recipe file');
    await page.screenshot({ path: testInfo.outputPath('recipes-damaged-link.png'), fullPage: true });
    await alert.getByRole('button', { name: 'Dismiss' }).click();
    await expect(alert).toHaveCount(0);
    expect((await currentRecipe(page)).name).toBe('Still mine');
    expect(errors).toEqual([]);
  });

  test('a link or file carrying fields no recipe has, or more than a recipe holds, is refused before anything is stored', async ({ page }) => {
    const errors = watchConsole(page);
    await loadFinanceCocktail(page);
    const stored = () => page.evaluate(() => localStorage.getItem('cocktail.recipe.v1'));
    const before = await stored();
    // Links made as the studio makes them (zlib, base64url, format 1), here without its code, which reads the schema.
    const linkOf = (value: unknown) => `1.${Buffer.from(zlibSync(new TextEncoder().encode(JSON.stringify(value)), { level: 9 })).toString('base64url')}`;

    await page.goto(`/#/recipes?r=${linkOf({ ...FINANCE_COCKTAIL, upload_to: 'https://collector.example.org' })}`);
    const refused = page.getByRole('alert').filter({ hasText: 'The shared recipe was not loaded' });
    await expect(refused).toContainText('unknown field "upload_to"');
    await expect(page.getByRole('button', { name: 'Load', exact: true })).toHaveCount(0);
    expect(await stored()).toBe(before);

    await page.goto(`/#/recipes?r=${linkOf({ ...FINANCE_COCKTAIL, name: 'x'.repeat(4 * 2 ** 20) })}`);
    await expect(page.getByRole('alert').filter({ hasText: 'The shared recipe was not loaded' })).toContainText('holds more than 64 KiB of recipe');
    expect(await stored()).toBe(before);

    await page.goto('/#/recipes');
    const large = JSON.stringify({ ...FINANCE_COCKTAIL, name: 'x'.repeat(70 * 1024) });
    await page.getByLabel('Open recipe file').setInputFiles({ name: 'large.json', mimeType: 'application/json', buffer: Buffer.from(large) });
    await expect(page.getByRole('alert').filter({ hasText: 'large.json was not opened' })).toContainText('a recipe file is a few kilobytes of JSON (at most 64.0 KiB)');
    expect(await stored()).toBe(before);
    expect(errors).toEqual([]);
  });
});
