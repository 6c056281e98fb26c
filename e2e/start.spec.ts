import { expect, test } from '@playwright/test';
import { watchConsole } from './console.ts';
import { FIXTURE_MODEL_DIR, startFixtureHub, pointStudioAtHub } from './hub.ts';

// The Finance cocktail downloads this model; the hub serves the tiny fixture under its id.
const FINANCE_MODEL = 'HuggingFaceTB/SmolLM2-135M-Instruct';

test.describe('Guided start', () => {
  test('a first visit offers the Finance cocktail: one click fills the recipe and downloads its model on the Model page', async ({ page }, testInfo) => {
    const errors = watchConsole(page);
    const hub = await startFixtureHub({ [FINANCE_MODEL]: FIXTURE_MODEL_DIR });
    try {
      await pointStudioAtHub(page, hub.endpoint);
      await page.goto('/');
      const guide = page.getByRole('region', { name: 'Get started' });
      await expect(guide).toBeVisible();
      const steps = guide.getByRole('list', { name: 'Workflow' });
      await expect(steps.getByRole('link')).toHaveText(['Model', 'Tasks', 'Mixture', 'Train', 'Evaluate', 'Playground']);
      await page.screenshot({ path: testInfo.outputPath('start.png'), fullPage: true });

      await guide.getByRole('button', { name: 'Try the Finance cocktail' }).click();
      await expect(page).toHaveURL(/#\/model$/);
      await expect(page.getByTestId('model-card').getByRole('heading', { level: 2 })).toHaveText(`${FINANCE_MODEL}@main`, { timeout: 60_000 });
      const recipe = await page.evaluate(() => JSON.parse(localStorage.getItem('cocktail.recipe.v1') ?? '{}') as { name: string; tasks: { name: string }[]; model: { source: string } });
      expect(recipe.name).toBe('Finance cocktail');
      expect(recipe.model.source).toBe(FINANCE_MODEL);
      expect(recipe.tasks.map((task) => task.name)).toEqual(['phrase_sentiment', 'tweet_sentiment', 'math_word_problems', 'general_instructions']);

      // With a model in storage the visitor is no longer new: the Start page goes straight to the GPU.
      await page.goto('/');
      await expect(page.getByRole('heading', { name: 'GPU' })).toBeVisible();
      await expect(page.getByRole('region', { name: 'Get started' })).toHaveCount(0);
      expect(errors).toEqual([]);
    } finally {
      await hub.close();
    }
  });

  test('offline, it explains how to start from local files instead', async ({ page }) => {
    const errors = watchConsole(page);
    await page.goto('/');
    const guide = page.getByRole('region', { name: 'Get started' });
    await expect(guide.getByRole('button', { name: 'Try the Finance cocktail' })).toBeVisible();
    await page.context().setOffline(true);
    await expect(guide.getByRole('button', { name: 'Try the Finance cocktail' })).toHaveCount(0);
    await expect(guide.getByRole('status')).toContainText('You are offline');
    await guide.getByRole('status').getByRole('link', { name: 'Model page' }).click();
    await expect(page).toHaveURL(/#\/model$/);
    await expect(page.getByRole('heading', { name: 'Open local files' })).toBeVisible();
    await page.context().setOffline(false);
    // Going offline makes the browser's own background fetches (service worker, manifest) fail; that is expected.
    expect(errors.filter((error) => !/net::ERR_INTERNET_DISCONNECTED/.test(error))).toEqual([]);
  });
});
